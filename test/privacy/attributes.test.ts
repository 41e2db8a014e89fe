import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { ATTRIBUTE_LIMITS, validAttributes } from '../../src/modules/privacy/attributes.js';

/** Expects a BAD_USER_INPUT naming `path` whose message and extensions never contain `secret`. */
function expectRefused(input: unknown, path: string, secret?: string): AppError {
  let outcome: unknown = 'returned';
  try {
    validAttributes(input);
  } catch (error) {
    outcome = error;
  }
  expect(outcome).toBeInstanceOf(AppError);
  const error = outcome as AppError;
  expect(error.code).toBe('BAD_USER_INPUT');
  expect(error.extensions.field).toBe(path);
  if (secret) expect(`${error.message} ${JSON.stringify(error.extensions)}`).not.toContain(secret);
  return error;
}

function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: 'x' };
  for (let level = 1; level < depth; level++) value = { inner: value };
  return value;
}

describe('validAttributes', () => {
  it('accepts and copies a plain JSON object', () => {
    const input = { name: 'Alice', age: 42, vip: true, note: null, tags: ['a', 'b'], address: { city: 'Paris', zip: '75001' } };
    const result = validAttributes(input);
    expect(result).toEqual(input);
    expect(result).not.toBe(input);
    expect(result.address).not.toBe(input.address);
  });

  it('accepts an empty object and keys that are merely unusual', () => {
    expect(validAttributes({})).toEqual({});
    expect(validAttributes({ 'first name': 'A', 'a$b': 1, 'ünï': 2 })).toEqual({ 'first name': 'A', 'a$b': 1, 'ünï': 2 });
  });

  it('refuses a top level that is not an object', () => {
    for (const input of [null, 'text', 42, ['a'], undefined]) expectRefused(input, 'attributes');
  });

  it('accepts exactly 5 levels of nesting and refuses 6, naming the path', () => {
    expect(() => validAttributes(nested(5))).not.toThrow();
    expectRefused(nested(6), 'attributes.inner.inner.inner.inner.inner');
    expectRefused({ list: [[[[['too deep']]]]] }, 'attributes.list[0][0][0][0]');
  });

  it('refuses a cyclic structure through the depth limit', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expectRefused(cyclic, 'attributes.self.self.self.self.self');
  });

  it('accepts 16 KiB serialised and refuses one byte more', () => {
    const overhead = JSON.stringify({ blob: '' }).length;
    expect(() => validAttributes({ blob: 'x'.repeat(ATTRIBUTE_LIMITS.maxBytes - overhead) })).not.toThrow();
    const error = expectRefused({ blob: 'x'.repeat(ATTRIBUTE_LIMITS.maxBytes - overhead + 1) }, 'attributes');
    expect(error.message).toContain('16 KiB');
  });

  it('counts the size in UTF-8 bytes, not characters', () => {
    const overhead = JSON.stringify({ blob: '' }).length;
    expectRefused({ blob: 'é'.repeat(Math.ceil((ATTRIBUTE_LIMITS.maxBytes - overhead) / 2) + 1) }, 'attributes');
  });

  it('stops early on inputs with very many entries', () => {
    expectRefused({ many: new Array(200_000).fill(0) }, 'attributes');
  });

  it.each([
    ['$-prefixed', '$where'],
    ['dotted', 'a.b'],
    ['NUL-bearing', 'a\u0000b'],
    ['constructor', 'constructor'],
    ['prototype', 'prototype'],
    ['empty', ''],
    ['over-long', 'k'.repeat(129)],
  ])('refuses a key that is %s, naming the containing path and not the key', (_case, key) => {
    const error = expectRefused({ profile: { ok: 1, [key]: 'v' } }, 'attributes.profile');
    expect(error.message).toContain('key #2');
    // The reserved names are the rule's own words; any other refused key must not be echoed.
    if (key.length >= 3 && key !== 'constructor' && key !== 'prototype') expect(error.message).not.toContain(key);
  });

  it('refuses a __proto__ key from parsed JSON without touching any prototype', () => {
    const input: unknown = JSON.parse('{"safe": 1, "__proto__": {"polluted": true}}');
    expectRefused(input, 'attributes');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses a dotted key that is itself personal data without showing it', () => {
    expectRefused({ 'alice.smith@example.com': true }, 'attributes', 'alice.smith');
  });

  it.each([
    ['undefined', undefined],
    ['a function', () => 1],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a bigint', 10n],
    ['a symbol', Symbol('s')],
    ['a Date', new Date(0)],
    ['a Map', new Map()],
    ['a class instance', new (class Person {})()],
  ])('refuses %s as a value, naming its path', (_case, value) => {
    expectRefused({ contact: { value } }, 'attributes.contact.value');
  });

  it('refuses sparse arrays', () => {
    expectRefused({ list: [1, , 3] }, 'attributes.list[1]');
  });

  it('refuses accessor properties instead of calling them', () => {
    let called = false;
    const input = Object.defineProperty({}, 'lazy', { get: () => ((called = true), 'x'), enumerable: true });
    expectRefused(input, 'attributes.lazy');
    expect(called).toBe(false);
  });

  it('shows plain keys in paths but hides other keys behind their position', () => {
    expectRefused({ 'Alice Smith': { age: Number.NaN } }, 'attributes.{key#1}.age', 'Alice');
  });

  it('never quotes a refused value', () => {
    expectRefused({ ssn: { n: Number.NaN, note: 'SSN 078-05-1120' }, bad: undefined }, 'attributes.ssn.n', '078-05-1120');
  });

  it('names the field it was given', () => {
    let outcome: unknown;
    try {
      validAttributes({ x: undefined }, 'input.attributes');
    } catch (error) {
      outcome = error;
    }
    expect((outcome as AppError).extensions.field).toBe('input.attributes.x');
  });
});
