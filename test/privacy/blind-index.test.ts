import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  blindIndex,
  encodeHashInput,
  identityKind,
  isBlindIndexKind,
  suppressionHash,
  validIdentityLabel,
} from '../../src/modules/privacy/blind-index.js';
import { AppError } from '../../src/errors.js';

const tenantA = Buffer.alloc(32, 0xa1);
const tenantB = Buffer.alloc(32, 0xb2);
const suppressionKey = Buffer.alloc(32, 0x5c);

/** The documented encoding, rebuilt here by hand (u32be length || utf8) and hashed with node:crypto. */
function referenceMac(key: Buffer, fields: string[]): string {
  const mac = createHmac('sha256', key);
  for (const field of fields) {
    const bytes = Buffer.from(field, 'utf8');
    mac.update(Buffer.from([(bytes.length >>> 24) & 0xff, (bytes.length >>> 16) & 0xff, (bytes.length >>> 8) & 0xff, bytes.length & 0xff]));
    mac.update(bytes);
  }
  return mac.digest('base64url');
}

describe('encodeHashInput', () => {
  it('prefixes every field with its 4-byte big-endian UTF-8 length', () => {
    expect(encodeHashInput(['ab', 'é', '']).toString('hex')).toBe('00000002' + '6162' + '00000002' + 'c3a9' + '00000000');
  });
});

describe('blindIndex', () => {
  it('matches known-answer vectors computed independently with node:crypto', () => {
    expect(blindIndex(tenantA, 'email', 'alice@example.com')).toBe(
      referenceMac(tenantA, ['coffer:blind-index:v1', 'email', 'alice@example.com']),
    );
    expect(blindIndex(tenantA, 'phone', '+442079460958')).toBe(referenceMac(tenantA, ['coffer:blind-index:v1', 'phone', '+442079460958']));
    expect(blindIndex(tenantB, identityKind('customer_id'), 'C-1042')).toBe(
      referenceMac(tenantB, ['coffer:blind-index:v1', 'identity:customer_id', 'C-1042']),
    );
  });

  it('pins one fixed vector so the encoding can never drift unnoticed', () => {
    const key = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
    const input = Buffer.concat([
      Buffer.from('00000015', 'hex'), Buffer.from('coffer:blind-index:v1'),
      Buffer.from('00000005', 'hex'), Buffer.from('email'),
      Buffer.from('00000011', 'hex'), Buffer.from('alice@example.com'),
    ]);
    expect(blindIndex(key, 'email', 'alice@example.com')).toBe(createHmac('sha256', key).update(input).digest('base64url'));
  });

  it('is deterministic and 43 base64url characters (the full 32-byte MAC)', () => {
    const first = blindIndex(tenantA, 'email', 'bob@example.com');
    expect(blindIndex(tenantA, 'email', 'bob@example.com')).toBe(first);
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('differs for the same value in two tenants (two keys)', () => {
    expect(blindIndex(tenantA, 'email', 'bob@example.com')).not.toBe(blindIndex(tenantB, 'email', 'bob@example.com'));
  });

  it('separates kinds: an email and an identity with the same text differ', () => {
    const text = 'bob@example.com';
    const hashes = [blindIndex(tenantA, 'email', text), blindIndex(tenantA, 'phone', text), blindIndex(tenantA, identityKind('email'), text)];
    expect(new Set(hashes).size).toBe(3);
  });

  it('cannot be made to collide by moving text between kind and value', () => {
    expect(blindIndex(tenantA, identityKind('a'), 'bc')).not.toBe(blindIndex(tenantA, identityKind('ab'), 'c'));
  });

  it('refuses keys that are not 32 bytes, unknown kinds and empty values', () => {
    expect(() => blindIndex(randomBytes(16), 'email', 'a@b.co')).toThrow('32 bytes');
    expect(() => blindIndex(tenantA, 'fax' as 'email', 'a@b.co')).toThrow('kind');
    expect(() => blindIndex(tenantA, 'email', '')).toThrow('non-empty');
  });
});

describe('identityKind', () => {
  it('accepts lower-case machine labels and refuses anything else', () => {
    expect(identityKind('crm.contact_id')).toBe('identity:crm.contact_id');
    for (const bad of ['', 'Customer', '1st', 'a b', 'x'.repeat(65), 'a:b']) expect(() => identityKind(bad)).toThrow();
  });

  it('is recognised by isBlindIndexKind, as are email and phone', () => {
    expect(isBlindIndexKind('identity:customer_id')).toBe(true);
    expect(isBlindIndexKind('email')).toBe(true);
    expect(isBlindIndexKind('phone')).toBe(true);
    expect(isBlindIndexKind('identity:')).toBe(false);
    expect(isBlindIndexKind('sms')).toBe(false);
  });
});

describe('validIdentityLabel', () => {
  it('accepts machine labels and refuses others with BAD_USER_INPUT naming the field, not the label', () => {
    expect(validIdentityLabel('customer_id')).toBe('customer_id');
    let outcome: unknown;
    try {
      validIdentityLabel('Alice Smith', 'identities.0.label');
    } catch (error) {
      outcome = error;
    }
    expect(outcome).toBeInstanceOf(AppError);
    expect((outcome as AppError).code).toBe('BAD_USER_INPUT');
    expect((outcome as AppError).extensions.field).toBe('identities.0.label');
    expect((outcome as AppError).message).not.toContain('Alice');
  });
});

describe('suppressionHash', () => {
  it('matches a known-answer vector computed independently with node:crypto', () => {
    expect(suppressionHash(suppressionKey, 'email', 'alice@example.com')).toBe(
      referenceMac(suppressionKey, ['coffer:suppression:v1', 'email', 'alice@example.com']),
    );
  });

  it('separates channels', () => {
    expect(suppressionHash(suppressionKey, 'email', '+442079460958')).not.toBe(suppressionHash(suppressionKey, 'phone', '+442079460958'));
  });

  it('never equals the blind index of the same contact, even if the same key bytes were (wrongly) used for both', () => {
    expect(suppressionHash(tenantA, 'email', 'alice@example.com')).not.toBe(blindIndex(tenantA, 'email', 'alice@example.com'));
  });

  it('is reproducible from the suppression key and contact alone, and changes with the key', () => {
    const before = suppressionHash(suppressionKey, 'phone', '+12133734253');
    expect(suppressionHash(Buffer.from(suppressionKey), 'phone', '+12133734253')).toBe(before);
    expect(suppressionHash(randomBytes(32), 'phone', '+12133734253')).not.toBe(before);
  });

  it('refuses short keys, unknown channels and empty contacts', () => {
    expect(() => suppressionHash(Buffer.alloc(31), 'email', 'a@b.co')).toThrow('32 bytes');
    expect(() => suppressionHash(suppressionKey, 'post' as 'email', 'a@b.co')).toThrow('channel');
    expect(() => suppressionHash(suppressionKey, 'email', '')).toThrow('non-empty');
  });
});
