import { badInput } from '../errors.js';

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
