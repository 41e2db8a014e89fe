import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IV_BYTES, IntegrityError, TAG_BYTES, open, seal, secretVersionAad, wrappedKeyAad } from '../../src/crypto/aes-gcm.js';
import { MasterKeyring, UnknownMasterKeyError } from '../../src/modules/keys/keyring.js';

const key = randomBytes(32);
const aad = secretVersionAad('tenant-a', 'secret-1', 1);

/** The call must throw IntegrityError: not return (garbage), not throw anything else. */
function expectIntegrityError(call: () => unknown): void {
  let outcome: unknown = 'returned';
  try {
    call();
  } catch (error) {
    outcome = error;
  }
  expect(outcome).toBeInstanceOf(IntegrityError);
}

describe('AES-256-GCM seal/open', () => {
  it('round-trips empty, short and large values', () => {
    for (const plaintext of [Buffer.alloc(0), Buffer.from('hunter2'), randomBytes(256 * 1024)]) {
      const blob = seal(key, plaintext, aad);
      expect(blob.length).toBe(IV_BYTES + TAG_BYTES + plaintext.length);
      expect(open(key, blob, aad).equals(plaintext)).toBe(true);
    }
  });

  it('does not contain the plaintext', () => {
    const plaintext = Buffer.from('a very recognisable secret value');
    expect(seal(key, plaintext, aad).includes(plaintext)).toBe(false);
  });

  it('rejects every single flipped bit, anywhere in iv, tag or ciphertext', () => {
    const blob = seal(key, Buffer.from('s3cret!'), aad);
    for (let position = 0; position < blob.length; position++) {
      for (let bit = 0; bit < 8; bit++) {
        const tampered = Buffer.from(blob);
        tampered[position]! ^= 1 << bit;
        expectIntegrityError(() => open(key, tampered, aad));
      }
    }
  });

  it('rejects every byte replaced by another value, anywhere', () => {
    const blob = seal(key, Buffer.from('s3cret!'), aad);
    for (let position = 0; position < blob.length; position++) {
      for (const delta of [0x01, 0x80, 0xff]) {
        const tampered = Buffer.from(blob);
        tampered[position] = (tampered[position]! + delta) & 0xff;
        expectIntegrityError(() => open(key, tampered, aad));
      }
    }
  });

  it('rejects a blob moved to another tenant, secret or version', () => {
    const blob = seal(key, Buffer.from('value'), aad);
    expectIntegrityError(() => open(key, blob, secretVersionAad('tenant-b', 'secret-1', 1)));
    expectIntegrityError(() => open(key, blob, secretVersionAad('tenant-a', 'secret-2', 1)));
    expectIntegrityError(() => open(key, blob, secretVersionAad('tenant-a', 'secret-1', 2)));
    expectIntegrityError(() => open(key, blob, Buffer.alloc(0)));
  });

  it('rejects the wrong key, and a key of the wrong size', () => {
    const blob = seal(key, Buffer.from('value'), aad);
    expectIntegrityError(() => open(randomBytes(32), blob, aad));
    expectIntegrityError(() => open(key.subarray(0, 16), blob, aad));
    expectIntegrityError(() => open(Buffer.alloc(0), blob, aad));
  });

  it('rejects every truncation and an appended byte', () => {
    const blob = seal(key, Buffer.from('some value'), aad);
    for (let length = 0; length < blob.length; length++) {
      expectIntegrityError(() => open(key, blob.subarray(0, length), aad));
    }
    expectIntegrityError(() => open(key, Buffer.concat([blob, Buffer.from([0])]), aad));
  });

  it('refuses to seal with a key that is not 32 bytes', () => {
    expect(() => seal(randomBytes(16), Buffer.from('x'), aad)).toThrow(/32-byte key/);
  });

  it('uses a fresh IV for each of 100,000 seals', () => {
    const ivs = new Set<string>();
    const plaintext = Buffer.from('same value every time');
    for (let i = 0; i < 100_000; i++) ivs.add(seal(key, plaintext, aad).subarray(0, IV_BYTES).toString('hex'));
    expect(ivs.size).toBe(100_000);
  });
});

describe('MasterKeyring', () => {
  const k1 = { id: 'k1', key: randomBytes(32) };
  const k2 = { id: 'k2', key: randomBytes(32) };
  const dekAad = wrappedKeyAad('tenant-a', 'dek', 1);

  it('wraps under the active key and unwraps by the recorded id', () => {
    const ring = new MasterKeyring([k1, k2], 'k2');
    const dek = randomBytes(32);
    const { wrapped, masterKeyId } = ring.wrap(dek, dekAad);
    expect(masterKeyId).toBe('k2');
    expect(wrapped.includes(dek)).toBe(false);
    expect(ring.unwrap(wrapped, masterKeyId, dekAad).equals(dek)).toBe(true);
    expect(ring.activeId).toBe('k2');
    expect(ring.ids).toEqual(['k1', 'k2']);
    expect(ring.has('k1')).toBe(true);
    expect(ring.has('k3')).toBe(false);
  });

  it('still unwraps keys wrapped under a previous active key', () => {
    const dek = randomBytes(32);
    const old = new MasterKeyring([k1], 'k1').wrap(dek, dekAad);
    const rotated = new MasterKeyring([k2, k1], 'k2');
    expect(rotated.unwrap(old.wrapped, old.masterKeyId, dekAad).equals(dek)).toBe(true);
  });

  it('gives a clear error for a master key id that is not in the ring', () => {
    const old = new MasterKeyring([k1], 'k1').wrap(randomBytes(32), dekAad);
    const ring = new MasterKeyring([k2], 'k2');
    expect(() => ring.unwrap(old.wrapped, old.masterKeyId, dekAad)).toThrow(UnknownMasterKeyError);
    expect(() => ring.unwrap(old.wrapped, old.masterKeyId, dekAad)).toThrow(/"k1".*VAULT_MASTER_KEYS/);
  });

  it('fails integrity when the wrapped key is tampered with, relabelled or moved', () => {
    const ring = new MasterKeyring([k1, k2], 'k1');
    const { wrapped } = ring.wrap(randomBytes(32), dekAad);
    const tampered = Buffer.from(wrapped);
    tampered[tampered.length - 1]! ^= 1;
    expectIntegrityError(() => ring.unwrap(tampered, 'k1', dekAad));
    expectIntegrityError(() => ring.unwrap(wrapped, 'k2', dekAad));
    expectIntegrityError(() => ring.unwrap(wrapped, 'k1', wrappedKeyAad('tenant-b', 'dek', 1)));
    expectIntegrityError(() => ring.unwrap(wrapped, 'k1', wrappedKeyAad('tenant-a', 'dek', 2)));
    expectIntegrityError(() => ring.unwrap(wrapped, 'k1', wrappedKeyAad('tenant-a', 'audit', 1)));
  });

  it('refuses an active id that is not in the ring', () => {
    expect(() => new MasterKeyring([k1], 'k2')).toThrow(/"k2"/);
  });
});
