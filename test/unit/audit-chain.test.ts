import { describe, expect, it } from 'vitest';
import { canonicalJson, CanonicalFormError, GENESIS_HASH, linkHash } from '../../src/modules/audit/audit-chain.js';

describe('audit chain (pure)', () => {
  it('serialises objects canonically: key order does not matter, dates as ISO strings', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'] })).toBe(canonicalJson({ a: [true, null, 'x'], b: 1 }));
    expect(canonicalJson(new Date(0))).toBe('"1970-01-01T00:00:00.000Z"');
    expect(() => canonicalJson(undefined)).toThrow(CanonicalFormError);
  });

  it('links hash the previous hash with the fields, so any change breaks the link', () => {
    const key = Buffer.alloc(32, 7);
    const first = linkHash(key, GENESIS_HASH, { seq: 1, action: 'x' });
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(linkHash(key, GENESIS_HASH, { seq: 1, action: 'y' })).not.toBe(first);
    expect(linkHash(key, first, { seq: 1, action: 'x' })).not.toBe(first);
    expect(linkHash(Buffer.alloc(32, 8), GENESIS_HASH, { seq: 1, action: 'x' })).not.toBe(first);
  });
});
