import type { GraphQLFormattedError } from 'graphql';
import { isDatabaseUnavailable } from '../db/mongo-errors.js';
import { AppError, ErrorCode } from '../errors.js';

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/** Apollo's own codes for documents that never reached a resolver, mapped onto ours. */
const APOLLO_INPUT_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'OPERATION_RESOLUTION_FAILURE',
  'BAD_REQUEST',
]);

const NAME = '[_A-Za-z][_0-9A-Za-z]*';
const GOT_INVALID_VALUE = new RegExp(`^Variable "\\$(${NAME})" (?:got|has) invalid value`);

/** Inner coercion messages of graphql-js 16 that name only fields and types, never a submitted value. */
const VALUE_FREE_REASONS = [
  new RegExp(`^Field "${NAME}" of required type "[^"]+" was not provided\\.$`),
  new RegExp(`^Field "${NAME}" is not defined by type "${NAME}"\\.(?: Did you mean "${NAME}"(?:(?:, "${NAME}")*,? or "${NAME}")?\\?)?$`),
  new RegExp(`^Field "${NAME}" must be non-null\\.$`),
  new RegExp(`^Expected type "${NAME}" to be an object\\.$`),
  new RegExp(`^Expected non-nullable type "[^"]+" not to be null\\.$`),
  new RegExp(`^Exactly one key must be specified for OneOf type "${NAME}"\\.$`),
  new RegExp(`^Expected type "${NAME}"\\.$`),
];

/**
 * The reason a value failed to coerce, without the value: graphql-js and scalar
 * libraries end most reasons with `: <value>`, and a few quote it elsewhere.
 */
function valueFreeReason(reason: string): string {
  if (VALUE_FREE_REASONS.some((pattern) => pattern.test(reason))) return reason;
  const notInEnum = new RegExp(`^Value "[^]*" does not exist in "(${NAME})" enum\\.`).exec(reason);
  if (notInEnum) return `Value does not exist in "${notInEnum[1]}" enum.`;
  // A custom scalar threw a plain Error; its message is the scalar's own and may quote the value.
  const expected = new RegExp(`^Expected type "(${NAME})"\\. `).exec(reason);
  if (expected) return `Expected type "${expected[1]}".`;
  return scalarReason(reason) ?? 'Invalid value';
}

/** graphql-js's own built-in scalar messages, up to where they append the value. */
const BUILT_IN_SCALAR_REASONS = [
  'String cannot represent a non string value',
  'Int cannot represent non-integer value',
  'Int cannot represent non 32-bit signed integer value',
  'Float cannot represent non numeric value',
  'Boolean cannot represent a non boolean value',
  'ID cannot represent value',
];

/**
 * "<Scalar> cannot represent …" without the value: graphql-js's own messages keep
 * their wording; any other scalar's (e.g. graphql-scalars' DateTime, which quotes the
 * value before any colon) becomes a fixed sentence.
 */
function scalarReason(reason: string): string | null {
  const known = BUILT_IN_SCALAR_REASONS.find((text) => reason.startsWith(`${text}: `));
  if (known) return known;
  const scalar = new RegExp(`^(${NAME}) cannot represent `).exec(reason);
  return scalar ? `${scalar[1]} cannot represent the given value` : null;
}

/**
 * Validation errors about literals written into the query text quote the literal
 * ("Expected value of type "Int", found "…"", "Int cannot represent …: "…"");
 * the same masking applies so a value typed inline is not echoed either.
 */
export function withoutLiteral(message: string): string {
  const expected = /^Expected value of type "([^"]+)", found /.exec(message);
  if (expected) return `Expected value of type "${expected[1]}", found an invalid value.`;
  const enumLiteral = new RegExp(`^Enum "(${NAME})" cannot represent non-enum value: `).exec(message);
  if (enumLiteral) return `Enum "${enumLiteral[1]}" cannot represent the given value.`;
  return scalarReason(message) ?? message;
}

/** The coercion reason graphql-js put after `; `, read from the error it chained (never parsed out of the text). */
function coercionReason(message: string, original: unknown): string | null {
  let error: unknown = original;
  for (let depth = 0; depth < 3 && error instanceof Error; depth++, error = (error as { originalError?: unknown }).originalError) {
    const reason = error.message;
    if (reason && reason !== message && message.endsWith(`; ${reason}`)) return reason;
  }
  return null;
}

/**
 * graphql-js 16 reports a variable that fails to coerce as
 * `Variable "$<name>" got invalid value <the value>[ at "<path>"]; <reason>`, echoing
 * what the client sent (a secret's value, a password) into responses and whatever
 * records them. Rewritten to `Variable "$<name>" has an invalid value[ at "<path>"]: <reason>`
 * with the value left out of both parts. The other variable errors ("of required type
 * ... was not provided", "of non-null type ... must not be null") carry no value and
 * are returned unchanged.
 */
export function withoutSubmittedValue(message: string, original: unknown): string {
  const head = GOT_INVALID_VALUE.exec(message);
  if (!head) return message;
  const variable = head[1]!;
  const safe = `Variable "$${variable}" has an invalid value`;
  const reason = coercionReason(message, original);
  if (reason === null) return `${safe}.`;
  const prefix = message.slice(0, message.length - reason.length - 2);
  // The path is made of field names and indexes only; anchored at the end, it cannot come from inside the value.
  const path = new RegExp(` at "(${variable}(?:\\.${NAME}|\\[\\d+\\])*)"$`).exec(prefix);
  return `${safe}${path ? ` at "${path[1]}"` : ''}: ${valueFreeReason(reason)}`;
}

/**
 * Decides what a client may see of an error. Submitted variable values are cut out
 * of coercion messages first. Known codes pass with their message;
 * anything else (driver errors, bugs) becomes a bare INTERNAL_SERVER_ERROR and is
 * reported through `onInternal` for the logs.
 */
export function maskError(
  received: GraphQLFormattedError,
  original: unknown,
  onInternal: (error: unknown) => void,
): GraphQLFormattedError {
  // A service's refusal: its own message and details, nothing else.
  if (original instanceof AppError && original.code !== ErrorCode.INTERNAL_SERVER_ERROR) {
    return { message: original.message, locations: received.locations, path: received.path, extensions: { ...original.extensions } };
  }
  const formatted = { ...received, message: withoutSubmittedValue(received.message, original) };
  const code = String(formatted.extensions?.code ?? '');
  const { stacktrace: _stack, exception: _exception, http: _http, ...extensions } = formatted.extensions ?? {};
  if (KNOWN_CODES.has(code) && code !== 'INTERNAL_SERVER_ERROR') {
    return { ...formatted, extensions };
  }
  if (APOLLO_INPUT_CODES.has(code)) {
    const message = code === 'GRAPHQL_VALIDATION_FAILED' ? withoutLiteral(formatted.message) : formatted.message;
    return { ...formatted, message, extensions: { ...extensions, code: ErrorCode.BAD_USER_INPUT } };
  }
  if (code === 'PERSISTED_QUERY_NOT_FOUND' || code === 'PERSISTED_QUERY_NOT_SUPPORTED') {
    return formatted;
  }
  // graphql-js stops coercing variables after 50 errors and adds this error, with no code.
  if (formatted.message === TOO_MANY_VARIABLE_ERRORS) {
    return { ...formatted, extensions: { ...extensions, code: ErrorCode.BAD_USER_INPUT } };
  }
  // Apollo's own refusals of a request (e.g. a persisted query whose hash does not match its
  // text) carry an HTTP 4xx but no code: the client's mistake, not an internal error.
  if (clientErrorStatus(original)) {
    return { ...formatted, extensions: { ...extensions, code: ErrorCode.BAD_USER_INPUT } };
  }
  onInternal(original);
  // The database is down or unreachable: the client may retry, nothing is wrong with its request.
  if (isDatabaseUnavailable(original)) {
    return {
      message: DATABASE_UNAVAILABLE,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: ErrorCode.SERVICE_UNAVAILABLE },
    };
  }
  return {
    message: 'Internal server error',
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
}

export const DATABASE_UNAVAILABLE = 'The service is temporarily unavailable (database not reachable); try again shortly';

/** graphql-js 16's last error when a request's variables hold more than 50 coercion errors. */
const TOO_MANY_VARIABLE_ERRORS = 'Too many errors processing variables, error limit reached. Execution aborted.';

/** True when `error` is one Apollo raised with an HTTP 4xx status for the request (`extensions.http.status`). */
function clientErrorStatus(error: unknown): boolean {
  const status = (error as { extensions?: { http?: { status?: unknown } } } | null)?.extensions?.http?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/**
 * graphql-js's "Did you mean …?" hints (fields, arguments, types, enum values, inline
 * fragments) map the schema for whoever probes it; with Sandbox off they are cut out.
 * Suggested names are GraphQL names, so no `?` can occur inside one.
 */
export function withoutSuggestions(message: string): string {
  return message.replace(/\s*Did you mean [^?]*\?/g, '').trim();
}
