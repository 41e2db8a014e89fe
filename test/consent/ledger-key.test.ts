import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENESIS_HASH, linkHash } from '../../src/modules/audit/audit-chain.js';
import { ledgerKeyAad, suppressionKeyAad } from '../../src/modules/consent/consent.sealed-data.js';
import { MasterKeyring } from '../../src/modules/keys/keyring.js';
import { TenantCipher } from '../../src/modules/keys/tenant-cipher.js';
import { TenantKeyService } from '../../src/modules/keys/tenant-key.service.js';
import { createLogger } from '../../src/logger.js';
import { expectOk, signUp, type Signed } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { mustCreateSubject } from '../privacy/support.js';
import { mustPurpose, mustRecord, verifyLedger } from './support.js';

/**
 * The consent ledger's HMAC key is a random key of its own per tenant, stored only wrapped under
 * the tenant DEK (consent_ledger_keys), re-wrapped by DEK rotation; never derived from the
 * audit-chain key (/work/shared/DESIGN.md §8: never derive one key's use from another's bytes).
 */

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ KEY_RETIRE_GRACE_SECONDS: '0' });
});
afterAll(async () => {
  await server?.close();
});

function keysOf(s: TestServer) {
  const keys = new TenantKeyService({ db: s.db, keyring: MasterKeyring.fromConfig(s.config.vault), logger: createLogger('silent') });
  return { keys, cipher: new TenantCipher(keys) };
}

/** The tenant's ledger key, unwrapped the way the service does it (from the stored document only). */
async function unwrapLedgerKey(s: TestServer, tenantId: string): Promise<{ key: Buffer; dekVersion: number }> {
  const doc = await s.db.collection('consent_ledger_keys').findOne({ tenantId });
  expect(doc).toBeTruthy();
  const { cipher } = keysOf(s);
  const key = await cipher.open(tenantId, ledgerKeyAad(tenantId), Buffer.from(doc!.wrapped.buffer), doc!.dekVersion);
  return { key, dekVersion: doc!.dekVersion };
}

async function tenantWithRecords(name: string, count: number): Promise<{ owner: Signed; subjectId: string }> {
  const owner = await signUp(server, name);
  await mustPurpose(server, owner, 'mail');
  const subject = await mustCreateSubject(server, owner, { email: `${name.toLowerCase().replace(/\W/g, '')}@example.org`, fullName: name });
  for (let i = 0; i < count; i += 1) await mustRecord(server, owner, { subjectId: subject.id, purpose: 'mail', granted: i % 2 === 0 });
  return { owner, subjectId: subject.id };
}

describe('the consent-ledger key', () => {
  it('is a random key stored only wrapped under the DEK, the one the chain is linked with, not derived from the audit key', async () => {
    const { owner } = await tenantWithRecords('Ledger Key Co', 3);
    const tenantId = owner.tenantId;
    const docs = await server.db.collection('consent_ledger_keys').find({ tenantId }).toArray();
    expect(docs).toHaveLength(1);
    const doc = docs[0]!;
    // Only the wrapped blob and its DEK version: no raw key field.
    expect(Object.keys(doc).sort()).toEqual(['_id', 'createdAt', 'dekVersion', 'tenantId', 'wrapped']);
    expect(doc._id).toBe(`ledger:${tenantId}`);
    expect(doc.dekVersion).toBe(1);

    const { key } = await unwrapLedgerKey(server, tenantId);
    expect(key).toHaveLength(32);
    // The stored document does not hold the key's bytes in clear.
    expect(Buffer.from(doc.wrapped.buffer).includes(key)).toBe(false);

    // The first record is linked under this key...
    const first = (await server.db.collection('consent_ledger').findOne({ tenantId, seq: 1 }))!;
    const { hash, ...linked } = first;
    expect(linkHash(key, GENESIS_HASH, linked)).toBe(hash);
    // ...and not under the old derivation HMAC(audit key, label).
    const auditKey = await keysOf(server).keys.auditKey(tenantId);
    const derived = createHmac('sha256', auditKey).update('coffer:consent-ledger:v1', 'utf8').digest();
    expect(derived.equals(key)).toBe(false);
    expect(linkHash(derived, GENESIS_HASH, linked)).not.toBe(hash);

    expect((await verifyLedger(server, owner)).valid).toBe(true);
  });

  it('no longer reaches the audit-chain key: the composition root wires no ledger key from it', () => {
    const services = readFileSync(new URL('../../src/services.ts', import.meta.url), 'utf8');
    const start = services.indexOf('new ConsentTenantKeys(');
    expect(start, 'the consent keys are created in services.ts').toBeGreaterThan(-1);
    const consentWiring = services.slice(start, services.indexOf('});', start));
    expect(consentWiring).toMatch(/cipher/); // the slice really is the consent key wiring
    expect(consentWiring).not.toMatch(/auditKey|ledgerKey/);
    expect(services).not.toMatch(/deriveLedgerKey/);
  });

  it('is created once when the first records of a tenant race (the loser reads the winner\'s key)', async () => {
    const owner = await signUp(server, 'Racing Ledger');
    await mustPurpose(server, owner, 'mail');
    const subject = await mustCreateSubject(server, owner, { email: 'racer@example.org', fullName: 'Racer' });
    await Promise.all(Array.from({ length: 6 }, (_, i) => mustRecord(server, owner, { subjectId: subject.id, purpose: 'mail', granted: i % 2 === 0 })));
    expect(await server.db.collection('consent_ledger_keys').countDocuments({ tenantId: owner.tenantId })).toBe(1);
    const result = await verifyLedger(server, owner);
    expect(result).toMatchObject({ valid: true, checked: 6, headSeq: 6 });
  });

  it('still detects a raw edit', async () => {
    const { owner } = await tenantWithRecords('Ledger Edit Co', 2);
    await server.db.collection('consent_ledger').updateOne({ tenantId: owner.tenantId, seq: 2 }, { $set: { granted: true } });
    const result = await verifyLedger(server, owner);
    expect(result.valid).toBe(false);
    expect(result.findings).toEqual([expect.objectContaining({ seq: 2, problem: 'EDITED' })]);
  });

  it('is re-wrapped by DEK rotation (the old DEK retires), and the ledger verifies and grows afterwards', async () => {
    const { owner, subjectId } = await tenantWithRecords('Rotating Ledger', 2);
    const before = await unwrapLedgerKey(server, owner.tenantId);
    expect(before.dekVersion).toBe(1);
    // An opt-out creates the suppression key too, so both wrapped keys go through the rotation.
    expectOk(await server.gql('mutation($s: ID!) { optOut(subjectId: $s, channel: EMAIL, reason: SUBJECT_REQUEST, source: API) { id } }', { s: subjectId }, owner.accessToken));
    const supBefore = (await server.db.collection('consent_suppression_keys').findOne({ tenantId: owner.tenantId }))!;
    const supKey = await keysOf(server).cipher.open(owner.tenantId, suppressionKeyAad(owner.tenantId), Buffer.from(supBefore.wrapped.buffer), supBefore.dekVersion);

    const STATUS = '{ tenantKeyStatus { activeDekVersion versions { version retiredAt } reencryption { state } } }';
    type Status = { activeDekVersion: number; versions: { version: number; retiredAt: string | null }[]; reencryption: { state: string } };
    expectOk(await server.gql('mutation { rotateTenantKey { activeDekVersion } }', {}, owner.accessToken));
    let status: Status | null = null;
    for (let i = 0; i < 100; i += 1) {
      status = expectOk(await server.gql<{ tenantKeyStatus: Status }>(STATUS, {}, owner.accessToken)).tenantKeyStatus;
      if (status.reencryption.state === 'DONE' && status.versions.find((v) => v.version === 1)?.retiredAt) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status!.activeDekVersion).toBe(2);
    expect(status!.versions.find((v) => v.version === 1)!.retiredAt).not.toBeNull();

    const after = await unwrapLedgerKey(server, owner.tenantId);
    expect(after.dekVersion).toBe(2);
    expect(after.key.equals(before.key)).toBe(true);
    // The suppression key moved too, re-wrapped with the one AAD the service opens it with.
    const supAfter = (await server.db.collection('consent_suppression_keys').findOne({ tenantId: owner.tenantId }))!;
    expect(supAfter.dekVersion).toBe(2);
    expect((await keysOf(server).cipher.open(owner.tenantId, suppressionKeyAad(owner.tenantId), Buffer.from(supAfter.wrapped.buffer), 2)).equals(supKey)).toBe(true);

    expect((await verifyLedger(server, owner)).valid).toBe(true);
    await mustRecord(server, owner, { subjectId, purpose: 'mail', granted: true });
    expect(await verifyLedger(server, owner)).toMatchObject({ valid: true, checked: 4 });

  });
});
