import type { GraphQLFormattedError } from 'graphql';
import { getMetadataStorage } from 'type-graphql';
import { badInput } from '../errors.js';

interface ValidationIssue {
  property: string;
  constraints?: Record<string, string>;
  children?: ValidationIssue[];
}

function flatten(issues: ValidationIssue[], prefix: string): { field: string; message: string }[] {
  return issues.flatMap((issue) => {
    const segment = /^\d+$/.test(issue.property) ? `[${issue.property}]` : issue.property;
    const field = !prefix ? segment : segment.startsWith('[') ? `${prefix}${segment}` : `${prefix}.${segment}`;
    const own = Object.values(issue.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...flatten(issue.children ?? [], field)];
  });
}

/** The properties type-graphql knows on an input class, inherited ones included. */
function inputFields(type: Function): Set<string> {
  const storage = getMetadataStorage();
  const names = new Set<string>();
  for (let t: unknown = type; typeof t === 'function' && t !== Function.prototype; t = Object.getPrototypeOf(t)) {
    for (const field of storage.fields) if (field.target === t) names.add(field.name);
  }
  return names;
}

/**
 * The argument whose value failed validation. type-graphql's error does not say, so
 * it is looked up from the resolvers behind the failing field (the last name in
 * `path`): an input-object argument whose class declares every property that failed.
 * `path` holds response keys, so an alias may hide the field; then, or if more than
 * one argument fits, the answer is unknown (null) rather than a guess.
 */
function failedArgument(path: GraphQLFormattedError['path'], properties: string[]): string | null {
  const fieldName = [...(path ?? [])].reverse().find((key): key is string => typeof key === 'string');
  if (!fieldName || !properties.length) return null;
  const storage = getMetadataStorage();
  const handlers = [...storage.queries, ...storage.mutations, ...storage.subscriptions, ...storage.fieldResolvers].filter(
    (handler) => handler.schemaName === fieldName,
  );
  const names = new Set<string>();
  for (const handler of handlers) {
    for (const param of storage.params) {
      if (param.kind !== 'arg' || param.target !== handler.target || param.methodName !== handler.methodName) continue;
      const type: unknown = param.getType();
      if (typeof type !== 'function' || !storage.inputTypes.some((input) => input.target === type)) continue;
      const fields = inputFields(type);
      if (properties.every((property) => fields.has(property))) names.add(param.typeOptions.array ? `${param.name}[]` : param.name);
    }
  }
  return names.size === 1 ? [...names][0]! : null;
}

/**
 * type-graphql reports class-validator failures as "Argument Validation Error";
 * rewrite them so the message and extensions name each offending field: as
 * `<argument>.<property path>` when the argument is known (`items[]` for an item of a
 * list argument, whose index is not reported), else just the property path.
 */
export function formatValidationError(formatted: GraphQLFormattedError): GraphQLFormattedError | null {
  const issues = formatted.extensions?.validationErrors as ValidationIssue[] | undefined;
  if (!Array.isArray(issues)) return null;
  const argument = failedArgument(formatted.path, [...new Set(issues.map((issue) => issue.property))]);
  const fields = flatten(issues, '').map(({ field, message }) => ({
    field: argument ? `${argument}${field.startsWith('[') ? '' : '.'}${field}` : field,
    message,
  }));
  return {
    message: fields.map((f) => `${f.field}: ${f.message}`).join('; ') || 'Invalid input',
    locations: formatted.locations,
    path: formatted.path,
    extensions: {
      code: 'BAD_USER_INPUT',
      field: fields[0]?.field,
      fields,
    },
  };
}

/** How deep client-supplied JSON (a JSON scalar such as secret metadata) may nest, the top-level value counting as 1. */
export const JSON_MAX_DEPTH = 10;

/** Whether `value` nests objects/arrays deeper than `max`; recursion stops at `max + 1`, whatever the input. */
function nestsDeeperThan(value: unknown, max: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (max === 0) return true;
  return (Array.isArray(value) ? value : Object.values(value)).some((child) => nestsDeeperThan(child, max - 1));
}

/** Whether an array sits directly inside an array (only called on values of bounded depth). */
function hasNestedArray(value: unknown, insideArray = false): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return insideArray || value.some((child) => hasNestedArray(child, true));
  return Object.values(value).some((child) => hasNestedArray(child));
}

/**
 * Refuses client JSON that no supported database stores, as BAD_USER_INPUT naming the
 * field: nested deeper than `maxDepth` (MongoDB stops at 100 levels, and a 100 KiB body
 * can nest tens of thousands of arrays), or an array directly inside an array (FerretDB v1
 * refuses those). Run it before anything recursive sees the value (size checks, the driver).
 */
export function assertStorableJson(value: unknown, field: string, maxDepth = JSON_MAX_DEPTH): void {
  if (nestsDeeperThan(value, maxDepth)) throw badInput(field, `must not nest objects or arrays more than ${maxDepth} levels deep`);
  if (hasNestedArray(value)) throw badInput(field, 'must not hold an array directly inside an array (wrap it in an object)');
}
