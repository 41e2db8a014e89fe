import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, exportJWK, SignJWT, type JSONWebKeySet } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  allChecksPassed,
  buildErasureReceipt,
  ErasureReceiptError,
  parseErasureReceipt,
  signReceipt,
  verifyReceipt,
  type ErasureReceiptInput,
} from '../../src/modules/privacy/erasure-receipt.js';

interface SigningKey {
  privateKey: KeyObject;
  kid: string;
  jwks: JSONWebKeySet;
}

/** A fresh Ed25519 key with its JWKS, as /.well-known/jwks.json would publish it. */
async function signingKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { privateKey, kid, jwks: { keys: [{ ...jwk, kid, alg: 'EdDSA', use: 'sig' }] } };
}

const input: ErasureReceiptInput = {
  receiptId: 'rcpt_01',
  tenantId: '665f1c2e9b1d8a0012345678',
  tombstoneId: 'tomb_665f1c2e',
  requestId: 'dsr_42',
  erasedAt: new Date('2025-03-01T10:00:00.000Z'),
  reasonCode: 'CONSENT_WITHDRAWN',
  keyId: 'sk_665f1c2e',
  recordsRemoved: { privacy_subjects: 1, privacy_access_log: 12, consent_records: 3 },
  blindIndexEntriesRemoved: 4,
  checks: [
    { name: 'subject_key_absent', passed: true },
    { name: 'blind_index_empty', passed: true },
    { name: 'suppression_hashes_kept', passed: true },
  ],
};

async function expectReceiptError(promise: Promise<unknown>): Promise<void> {
  await expect(promise).rejects.toBeInstanceOf(ErasureReceiptError);
}

/** Alters the claims but keeps the original header and signature, as an attacker editing a receipt would. */
function tamperPayload(jws: string, change: (claims: Record<string, unknown>) => void): string {
  const [header, payload, signature] = jws.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  change(claims);
  return [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
}

describe('buildErasureReceipt', () => {
  it('produces the versioned payload with sorted collections and checks', () => {
    const payload = buildErasureReceipt(input);
    expect(payload).toEqual({
      type: 'coffer.erasure-receipt',
      schemaVersion: 1,
      receiptId: 'rcpt_01',
      tenantId: '665f1c2e9b1d8a0012345678',
      tombstoneId: 'tomb_665f1c2e',
      requestId: 'dsr_42',
      erasedAt: '2025-03-01T10:00:00.000Z',
      reasonCode: 'CONSENT_WITHDRAWN',
      keyDestroyed: { keyId: 'sk_665f1c2e' },
      recordsRemoved: { consent_records: 3, privacy_access_log: 12, privacy_subjects: 1 },
      blindIndexEntriesRemoved: 4,
      checks: [
        { name: 'blind_index_empty', passed: true },
        { name: 'subject_key_absent', passed: true },
        { name: 'suppression_hashes_kept', passed: true },
      ],
    });
    expect(Object.keys(payload.recordsRemoved)).toEqual(['consent_records', 'privacy_access_log', 'privacy_subjects']);
  });

  it('is deterministic for the same input in any order', () => {
    const shuffled = { ...input, recordsRemoved: { consent_records: 3, privacy_subjects: 1, privacy_access_log: 12 }, checks: [...input.checks].reverse() };
    expect(JSON.stringify(buildErasureReceipt(shuffled))).toBe(JSON.stringify(buildErasureReceipt(input)));
  });

  it('generates a UUID receiptId when none is given, and records a missing request as null', () => {
    const payload = buildErasureReceipt({ ...input, receiptId: undefined, requestId: undefined });
    expect(payload.receiptId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(payload.requestId).toBeNull();
  });

  it('refuses free text where ids, codes or names belong, so no personal data can enter a receipt', () => {
    const bad: Partial<ErasureReceiptInput>[] = [
      { tombstoneId: 'alice@example.com' },
      { keyId: 'key of Alice Smith' },
      { reasonCode: 'Alice asked nicely' as 'OBJECTION' },
      { recordsRemoved: { 'Alice Smith': 1 } },
      { checks: [{ name: 'Alice gone?', passed: true }] },
      { checks: [] },
      { checks: [{ name: 'dup', passed: true }, { name: 'dup', passed: false }] },
      { recordsRemoved: { subjects: -1 } },
      { recordsRemoved: { subjects: 1.5 } },
      { blindIndexEntriesRemoved: Number.NaN },
      { erasedAt: new Date(Number.NaN) },
    ];
    for (const change of bad) {
      let outcome: unknown;
      try {
        buildErasureReceipt({ ...input, ...change });
      } catch (error) {
        outcome = error;
      }
      expect(outcome).toBeInstanceOf(ErasureReceiptError);
      expect((outcome as Error).message).not.toContain('Alice');
    }
  });

  it('reports whether every post-condition passed', () => {
    expect(allChecksPassed(buildErasureReceipt(input))).toBe(true);
    expect(allChecksPassed(buildErasureReceipt({ ...input, checks: [...input.checks, { name: 'export_files_absent', passed: false }] }))).toBe(false);
  });
});

describe('signReceipt / verifyReceipt', () => {
  let key: SigningKey;
  let other: SigningKey;
  beforeAll(async () => {
    key = await signingKey();
    other = await signingKey();
  });

  it('signs a compact EdDSA JWT with the kid and the receipt typ', async () => {
    const jws = await signReceipt(buildErasureReceipt(input), key.privateKey, key.kid);
    expect(jws.split('.')).toHaveLength(3);
    expect(decodeProtectedHeader(jws)).toEqual({ alg: 'EdDSA', kid: key.kid, typ: 'coffer-erasure-receipt+jwt' });
  });

  it('verifies against a local JWKS and returns the exact payload, kid and signing time', async () => {
    const payload = buildErasureReceipt(input);
    const before = Math.floor(Date.now() / 1000) * 1000;
    const jws = await signReceipt(payload, key.privateKey, key.kid);
    const verified = await verifyReceipt(jws, key.jwks);
    expect(verified.payload).toEqual(payload);
    expect(verified.kid).toBe(key.kid);
    expect(verified.signedAt.getTime()).toBeGreaterThanOrEqual(before);
  });

  it('verifies when the JWKS holds several keys (rotation)', async () => {
    const jws = await signReceipt(buildErasureReceipt(input), key.privateKey, key.kid);
    const both: JSONWebKeySet = { keys: [...other.jwks.keys, ...key.jwks.keys] };
    expect((await verifyReceipt(jws, both)).kid).toBe(key.kid);
  });

  it('refuses an altered payload', async () => {
    const jws = await signReceipt(buildErasureReceipt(input), key.privateKey, key.kid);
    await expectReceiptError(verifyReceipt(tamperPayload(jws, (c) => (c.blindIndexEntriesRemoved = 0)), key.jwks));
    await expectReceiptError(
      verifyReceipt(tamperPayload(jws, (c) => (c.checks = [{ name: 'blind_index_empty', passed: false }])), key.jwks),
    );
    await expectReceiptError(verifyReceipt(jws.slice(0, -2) + (jws.endsWith('AA') ? 'BB' : 'AA'), key.jwks));
  });

  it('refuses a receipt signed by a key not in the JWKS', async () => {
    const jws = await signReceipt(buildErasureReceipt(input), other.privateKey, key.kid);
    await expectReceiptError(verifyReceipt(jws, key.jwks));
    const unknownKid = await signReceipt(buildErasureReceipt(input), other.privateKey, other.kid);
    await expectReceiptError(verifyReceipt(unknownKid, key.jwks));
  });

  it('refuses a token of another type signed by the same key (e.g. an access token)', async () => {
    const accessToken = await new SignJWT({ ...buildErasureReceipt(input) })
      .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'at+jwt' })
      .setIssuedAt()
      .sign(key.privateKey);
    await expectReceiptError(verifyReceipt(accessToken, key.jwks));
  });

  it('refuses a correctly signed receipt-typed token whose claims are not a valid receipt', async () => {
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'coffer-erasure-receipt+jwt' }).setIssuedAt().sign(key.privateKey);
    await expectReceiptError(verifyReceipt(await sign({ ...buildErasureReceipt(input), schemaVersion: 2 }), key.jwks));
    await expectReceiptError(verifyReceipt(await sign({ ...buildErasureReceipt(input), note: 'Alice' }), key.jwks));
    await expectReceiptError(verifyReceipt(await sign({ ...buildErasureReceipt(input), erasedAt: '2025-02-30T00:00:00.000Z' }), key.jwks));
  });

  it('refuses garbage', async () => {
    await expectReceiptError(verifyReceipt('not.a.jws', key.jwks));
    await expectReceiptError(verifyReceipt('', key.jwks));
  });
});

describe('parseErasureReceipt', () => {
  it('round-trips a built payload', () => {
    const payload = buildErasureReceipt(input);
    expect(parseErasureReceipt(JSON.parse(JSON.stringify(payload)) as Record<string, unknown>)).toEqual(payload);
  });
});
