import { GraphQLError, type GraphQLFormattedError } from 'graphql';

/** The error codes of DESIGN.md §6: every GraphQL error a client sees carries one of them. */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  RATE_LIMITED: 'RATE_LIMITED',
  ACCOUNT_LOCKED: 'ACCOUNT_LOCKED',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));


export function appError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { ...extensions, code } });
}

export const unauthenticated = (message = 'Authentication required') => appError('UNAUTHENTICATED', message);
export const forbidden = (message = 'Not allowed') => appError('FORBIDDEN', message);
export const notFound = (what: string) => appError('NOT_FOUND', `${what} not found`);
export const conflict = (message: string) => appError('CONFLICT', message);
export const badInput = (field: string, message: string) =>
  appError('BAD_USER_INPUT', `${field}: ${message}`, { field });
export const rateLimited = (retryAfterSeconds: number) =>
  appError('RATE_LIMITED', 'Too many requests; try again later', { retryAfterSeconds });

/** Apollo's own codes for documents that never reached a resolver, mapped onto ours. */
const APOLLO_INPUT_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'OPERATION_RESOLUTION_FAILURE',
  'BAD_REQUEST',
]);

/**
 * Decides what a client may see of an error. Known codes pass with their message;
 * anything else (driver errors, bugs) becomes a bare INTERNAL_SERVER_ERROR and is
 * reported through `onInternal` for the logs.
 */
export function maskError(
  formatted: GraphQLFormattedError,
  original: unknown,
  onInternal: (error: unknown) => void,
): GraphQLFormattedError {
  const code = String(formatted.extensions?.code ?? '');
  const { stacktrace: _stack, exception: _exception, http: _http, ...extensions } = formatted.extensions ?? {};
  if (KNOWN_CODES.has(code) && code !== 'INTERNAL_SERVER_ERROR') {
    return { ...formatted, extensions };
  }
  if (APOLLO_INPUT_CODES.has(code)) {
    return { ...formatted, extensions: { ...extensions, code: ErrorCode.BAD_USER_INPUT } };
  }
  if (code === 'PERSISTED_QUERY_NOT_FOUND' || code === 'PERSISTED_QUERY_NOT_SUPPORTED') {
    return formatted;
  }
  onInternal(original);
  return {
    message: 'Internal server error',
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
}
