import { badInput } from '../../errors.js';

/**
 * Validation of a subject's free-form `attributes` (personal data as a JSON object).
 *
 * The result is a fresh copy made only of plain objects, arrays, strings, finite numbers,
 * booleans and null, safe to store in MongoDB and to serialise. Every refusal is a
 * BAD_USER_INPUT naming the path of the offending entry (`attributes.address.city`,
 * `attributes.tags[2]`) and never its value. Keys are personal data too: a key is shown in
 * a path only when it is a short plain identifier; other keys appear as `{key#n}` (their
 * position in the object), and a refused key is never shown at all.
 */

/** JSON values as stored. */
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** Limits of the attributes document, in one place. */
export const ATTRIBUTE_LIMITS = {
  /** Serialised size (UTF-8 bytes of JSON.stringify). */
  maxBytes: 16 * 1024,
  /** Nesting of objects and arrays; the top-level object is depth 1. */
  maxDepth: 5,
  /** Characters per key. */
  maxKeyLength: 128,
} as const;

const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const SHOWABLE_KEY = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Why a key is refused, or null for an acceptable key. */
function keyProblem(key: string): string | null {
  if (key.length === 0) return 'must not be empty';
  if (key.length > ATTRIBUTE_LIMITS.maxKeyLength) return `must be at most ${ATTRIBUTE_LIMITS.maxKeyLength} characters`;
  if (key.startsWith('$')) return 'must not start with $';
  if (key.includes('.')) return 'must not contain a dot';
  if (key.includes('\0')) return 'must not contain NUL';
  if (FORBIDDEN_KEYS.has(key)) return 'must not be __proto__, constructor or prototype';
  return null;
}

class Walker {
  private nodes = 0;

  constructor(private readonly field: string) {}

  value(value: unknown, path: string, depth: number): JsonValue {
    // Every value serialises to at least one byte: past maxBytes values the size check must fail,
    // so stop walking early instead of copying an arbitrarily large input first.
    if (++this.nodes > ATTRIBUTE_LIMITS.maxBytes) throw this.tooLarge();
    if (value === null) return null;
    switch (typeof value) {
      case 'string':
        return value;
      case 'boolean':
        return value;
      case 'number':
        if (!Number.isFinite(value)) throw badInput(path, 'must be a finite number');
        return value;
      case 'object':
        return Array.isArray(value) ? this.array(value, path, depth + 1) : this.object(value, path, depth + 1);
      default:
        throw badInput(path, 'must be a JSON value (string, number, boolean, null, array or object)');
    }
  }

  object(value: object, path: string, depth: number): JsonObject {
    if (depth > ATTRIBUTE_LIMITS.maxDepth) throw badInput(path, `nests deeper than ${ATTRIBUTE_LIMITS.maxDepth} levels`);
    if (!isPlainObject(value)) throw badInput(path, 'must be a plain JSON object');
    if (Object.getOwnPropertySymbols(value).length > 0) throw badInput(path, 'must have only string keys');
    const copy: JsonObject = {};
    Object.getOwnPropertyNames(value).forEach((key, index) => {
      const problem = keyProblem(key);
      if (problem) throw badInput(path, `key #${index + 1} ${problem}`);
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      const childPath = `${path}.${SHOWABLE_KEY.test(key) ? key : `{key#${index + 1}}`}`;
      if (!descriptor || !('value' in descriptor) || !descriptor.enumerable) throw badInput(childPath, 'must be a plain data property');
      // defineProperty, not assignment, so no key can ever reach a prototype setter.
      Object.defineProperty(copy, key, { value: this.value(descriptor.value, childPath, depth), enumerable: true, writable: true, configurable: true });
    });
    return copy;
  }

  array(value: unknown[], path: string, depth: number): JsonValue[] {
    if (depth > ATTRIBUTE_LIMITS.maxDepth) throw badInput(path, `nests deeper than ${ATTRIBUTE_LIMITS.maxDepth} levels`);
    const copy: JsonValue[] = [];
    for (let index = 0; index < value.length; index++) {
      if (!Object.prototype.hasOwnProperty.call(value, index)) throw badInput(`${path}[${index}]`, 'must not be a hole');
      copy.push(this.value(value[index], `${path}[${index}]`, depth));
    }
    return copy;
  }

  tooLarge() {
    return badInput(this.field, `must be at most ${ATTRIBUTE_LIMITS.maxBytes / 1024} KiB as JSON`);
  }
}

/**
 * Validates and copies an attributes document: a JSON object of at most 16 KiB
 * serialised, at most 5 levels deep, with keys that are non-empty, at most 128
 * characters, not `$`-prefixed, dot-free, NUL-free and not `__proto__`, `constructor`
 * or `prototype`, and JSON values only (no undefined, functions, NaN, Infinity, bigint,
 * dates, class instances or sparse arrays).
 */
export function validAttributes(input: unknown, field = 'attributes'): JsonObject {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw badInput(field, 'must be a JSON object');
  const walker = new Walker(field);
  const copy = walker.object(input, field, 1);
  if (Buffer.byteLength(JSON.stringify(copy), 'utf8') > ATTRIBUTE_LIMITS.maxBytes) throw walker.tooLarge();
  return copy;
}
