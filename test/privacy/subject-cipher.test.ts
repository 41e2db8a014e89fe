import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../../src/crypto/aes-gcm.js';
import {
  generateSubjectKey,
  openSubjectField,
  sealSubjectField,
  subjectFieldAad,
  subjectKeyAad,
  unwrapSubjectKey,
  wrapSubjectKey,
  type SubjectFieldRef,
} from '../../src/modules/privacy/subject-cipher.js';

const key = generateSubjectKey();
const ref: SubjectFieldRef = { tenantId: 'tenant-a', subjectId: 'subject-1', field: 'email' };
const value = 'alice@example.com';

/** The call must throw IntegrityError: not return garbage, not throw anything else. */
function expectIntegrityError(call: () => unknown): void {
  let outcome: unknown = 'returned';
  try {
    call();
  } catch (error) {
    outcome = error;
  }
  expect(outcome).toBeInstanceOf(IntegrityError);
}

describe('sealSubjectField / openSubjectField', () => {
  it('round-trips empty, ASCII and non-ASCII text', () => {
    for (const text of ['', value, 'Zoë Ñúñez 👩‍💻', 'x'.repeat(20_000)]) {
      expect(openSubjectField(key, ref, sealSubjectField(key, ref, text))).toBe(text);
    }
  });

  it('does not contain the plaintext and uses a fresh IV each time', () => {
    const first = sealSubjectField(key, ref, value);
    const second = sealSubjectField(key, ref, value);
    expect(first.includes(Buffer.from(value))).toBe(false);
    expect(first.equals(second)).toBe(false);
  });

  it('refuses a blob moved to another subject', () => {
    const blob = sealSubjectField(key, ref, value);
    expectIntegrityError(() => openSubjectField(key, { ...ref, subjectId: 'subject-2' }, blob));
  });

  it('refuses a blob moved to another field', () => {
    const blob = sealSubjectField(key, ref, value);
    expectIntegrityError(() => openSubjectField(key, { ...ref, field: 'phone' }, blob));
  });

  it('refuses a blob moved to another tenant', () => {
    const blob = sealSubjectField(key, ref, value);
    expectIntegrityError(() => openSubjectField(key, { ...ref, tenantId: 'tenant-b' }, blob));
  });

  it('refuses any tampered byte', () => {
    const blob = sealSubjectField(key, ref, value);
    for (let position = 0; position < blob.length; position++) {
      const tampered = Buffer.from(blob);
      tampered[position]! ^= 0x01;
      expectIntegrityError(() => openSubjectField(key, ref, tampered));
    }
    expectIntegrityError(() => openSubjectField(key, ref, blob.subarray(0, 20)));
  });

  it('refuses the wrong key (as after shredding, when only a new key exists)', () => {
    const blob = sealSubjectField(key, ref, value);
    expectIntegrityError(() => openSubjectField(generateSubjectKey(), ref, blob));
  });

  it('keeps the AAD unambiguous when ids contain separators or quotes', () => {
    const a = subjectFieldAad({ tenantId: 'a|b', subjectId: 'c', field: 'd' });
    const b = subjectFieldAad({ tenantId: 'a', subjectId: 'b|c', field: 'd' });
    const c = subjectFieldAad({ tenantId: 'a","b', subjectId: 'c', field: 'd' });
    const d = subjectFieldAad({ tenantId: 'a', subjectId: 'b', field: 'c' });
    expect(new Set([a, b, c, d].map((x) => x.toString('hex'))).size).toBe(4);
    const blob = sealSubjectField(key, { tenantId: 'a|b', subjectId: 'c', field: 'd' }, value);
    expectIntegrityError(() => openSubjectField(key, { tenantId: 'a', subjectId: 'b|c', field: 'd' }, blob));
  });

  it('refuses empty ids and field names', () => {
    expect(() => sealSubjectField(key, { ...ref, subjectId: '' }, value)).toThrow('subjectId');
    expect(() => sealSubjectField(key, { ...ref, field: '' }, value)).toThrow('field');
  });
});

describe('subject keys wrapped under the tenant DEK', () => {
  const dek = randomBytes(32);

  it('round-trips a subject key', () => {
    const wrapped = wrapSubjectKey(dek, key, 'tenant-a', 'subject-1', 3);
    expect(unwrapSubjectKey(dek, wrapped, 'tenant-a', 'subject-1', 3).equals(key)).toBe(true);
  });

  it('refuses a wrapped key moved to another subject, tenant or DEK version, or under another DEK', () => {
    const wrapped = wrapSubjectKey(dek, key, 'tenant-a', 'subject-1', 3);
    expectIntegrityError(() => unwrapSubjectKey(dek, wrapped, 'tenant-a', 'subject-2', 3));
    expectIntegrityError(() => unwrapSubjectKey(dek, wrapped, 'tenant-b', 'subject-1', 3));
    expectIntegrityError(() => unwrapSubjectKey(dek, wrapped, 'tenant-a', 'subject-1', 4));
    expectIntegrityError(() => unwrapSubjectKey(randomBytes(32), wrapped, 'tenant-a', 'subject-1', 3));
  });

  it('uses an AAD distinct from any field AAD', () => {
    expect(subjectKeyAad('t', 's', 1).equals(subjectFieldAad({ tenantId: 't', subjectId: 's', field: '1' }))).toBe(false);
  });

  it('refuses to wrap something that is not a 32-byte key', () => {
    expect(() => wrapSubjectKey(dek, randomBytes(16), 'tenant-a', 'subject-1', 1)).toThrow('32 bytes');
  });
});
