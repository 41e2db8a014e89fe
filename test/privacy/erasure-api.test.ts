import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { MasterKeyring } from '../../src/modules/keys/keyring.js';
import { TenantCipher } from '../../src/modules/keys/tenant-cipher.js';
import { TenantKeyService } from '../../src/modules/keys/tenant-key.service.js';
import { TenantScope } from '../../src/db/tenant-scope.js';
import type { ErasureStep } from '../../src/modules/privacy/erasure-plan.js';
import { verifyReceipt } from '../../src/modules/privacy/erasure-receipt.js';
import { openSubjectField } from '../../src/modules/privacy/subject-cipher.js';
import { SubjectKeyStore } from '../../src/modules/privacy/subject-keys.js';
import { SubjectRepository } from '../../src/modules/privacy/subject.repository.js';
import { emailEntry } from '../../src/modules/privacy/subject-rules.js';
import { expectCode, expectOk, signUp, type Signed } from '../support/auth.js';
import { testEnv, type TestServer } from '../support/server.js';
import { ERASE, findSubjects, mustCreateSubject, readSubject, RECEIPT, startPrivacyServer } from './support.js';

type Erasure = { subjectId: string; tombstoneId: string; state: string; erasedAt: string | null; receipt: string | null };

/** Stops an erasure (by throwing) right after the step named for its subject, once. */
const stopAfter = new Map<string, ErasureStep>();
let server: TestServer & { dbName: string; env: Record<string, string> };
let owner: Signed;
beforeAll(async () => {
  server = await startPrivacyServer({
    env: testEnv({ LOG_LEVEL: 'trace', KEY_RETIRE_GRACE_SECONDS: '0' }),
    privacy: {
      afterErasureStep: (step, subjectId) => {
        if (stopAfter.get(subjectId) === step) {
          stopAfter.delete(subjectId);
          throw new Error(`test stop after ${step}`);
        }
      },
    },
  });
  owner = await signUp(server, 'Erasure');
});
afterAll(async () => {
  await server?.db.dropDatabase().catch(() => {});
  await server?.close();
});

/** An independent reader of the database with the deployment's master keys: what a thief of a backup plus the keys could do. */
function outsideReader(target: TestServer) {
  const keys = new TenantKeyService({ db: target.db, keyring: MasterKeyring.fromConfig(target.config.vault), logger: createLogger('silent') });
  return { store: new SubjectKeyStore({ keys, cipher: new TenantCipher(keys), cacheTtlMs: 1 }), repo: new SubjectRepository(new TenantScope(target.db, owner.tenantId)) };
}

const person = (tag: string) => ({
  externalId: `erase-${tag}`,
  email: `grace.${tag}@example.net`,
  phone: '+1 202-555-0143',
  fullName: `Grace Hopper ${tag}`,
  attributes: { rank: `rear-admiral-${tag}` },
  identities: [{ label: 'badge', value: `badge-${tag}` }],
});

async function erase(target: TestServer, id: string) {
  return target.gql<{ eraseSubject: Erasure }>(ERASE, { id, r: 'CONSENT_WITHDRAWN' }, owner.accessToken);
}

describe('erasure by crypto-shredding', () => {
  it('leaves nothing in a pre-erasure raw copy that can be decrypted or matched, and a receipt verifiable with the public JWKS', async () => {
    const created = await mustCreateSubject(server, owner, person('r1'));
    expectOk(await readSubject(server, owner.accessToken, created.id));
    const raw = {
      subject: (await server.db.collection('data_subjects').findOne({ _id: created.id as never })) as Document,
      key: (await server.db.collection('subject_keys').findOne({ subjectId: created.id })) as Document,
      accessLog: await server.db.collection('data_access_log').find({ subjectId: created.id }).toArray(),
    };
    const { store, repo } = outsideReader(server);
    // Positive control: before erasure the raw copy opens and matches.
    const before = await store.subjectKey(repo, created.id, raw.subject.keyId);
    expect(before).not.toBeNull();
    expect(openSubjectField(before!, { tenantId: owner.tenantId, subjectId: created.id, field: 'email' }, Buffer.from(raw.subject.sealed.email.buffer))).toBe('grace.r1@example.net');
    const indexKey = await store.indexKey(repo);
    expect(raw.subject.lookup).toContain(emailEntry(indexKey, 'grace.r1@example.net'));

    const erased = expectOk(await erase(server, created.id)).eraseSubject;
    expect(erased).toMatchObject({ subjectId: created.id, tombstoneId: created.id, state: 'DONE' });
    expect(erased.receipt).toBeTruthy();

    // Nothing in the raw copy decrypts: the subject key is gone for good (no cache can help an outsider).
    const fresh = outsideReader(server);
    expect(await fresh.store.subjectKey(fresh.repo, created.id, raw.subject.keyId)).toBeNull();
    expect(await server.db.collection('subject_keys').countDocuments({ subjectId: created.id })).toBe(0);
    const otherKeys = await server.db.collection('subject_keys').find({ tenantId: owner.tenantId }).toArray();
    for (const other of otherKeys) {
      const key = await fresh.store.subjectKey(fresh.repo, other.subjectId as string, other._id as unknown as string);
      for (const [field, blob] of Object.entries(raw.subject.sealed as Record<string, { buffer: Uint8Array }>)) {
        expect(() => openSubjectField(key!, { tenantId: owner.tenantId, subjectId: created.id, field }, Buffer.from(blob.buffer))).toThrow();
      }
    }
    // Nothing matches: the former blind-index entries point nowhere, lookups find nothing.
    for (const entry of raw.subject.lookup as string[]) expect(await server.db.collection('data_subjects').countDocuments({ lookup: entry })).toBe(0);
    expect(await server.db.collection('data_subjects').countDocuments({ externalKey: raw.subject.externalKey })).toBe(0);
    expect(expectOk(await findSubjects(server, owner.accessToken, { email: 'grace.r1@example.net' })).dataSubjects.edges).toEqual([]);
    expect(expectOk(await findSubjects(server, owner.accessToken, { phone: '+12025550143' })).dataSubjects.edges).toEqual([]);
    expect(expectOk(await findSubjects(server, owner.accessToken, { externalId: 'erase-r1' })).dataSubjects.edges).toEqual([]);
    expect(await server.db.collection('data_access_log').countDocuments({ subjectId: created.id })).toBe(0);
    expectCode(await readSubject(server, owner.accessToken, created.id), 'NOT_FOUND');

    // The tombstone keeps ids, times, the reason code, counts and the receipt.
    const tombstone = (await server.db.collection('data_subjects').findOne({ _id: created.id as never })) as Document;
    expect(tombstone).toMatchObject({ status: 'ERASED', sealed: {}, lookup: [], restriction: null });
    expect(tombstone.erasure.formerLookup).toBeUndefined();
    expect(tombstone.erasure.sample).toBeUndefined();
    expect(JSON.stringify(tombstone)).not.toMatch(/grace|hopper|r1@|badge-r1|rear-admiral/i);

    // The receipt verifies with the served JWKS (jose directly and the receipt module) and says what was done.
    const jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(erased.receipt!, jwks, { typ: 'coffer-erasure-receipt+jwt', algorithms: ['EdDSA'] });
    expect(protectedHeader.typ).toBe('coffer-erasure-receipt+jwt');
    expect(payload).toMatchObject({
      tenantId: owner.tenantId,
      tombstoneId: created.id,
      reasonCode: 'CONSENT_WITHDRAWN',
      keyDestroyed: { keyId: raw.key._id },
      recordsRemoved: { data_access_log: raw.accessLog.length, data_subjects: 1, subject_keys: 1 },
      blindIndexEntriesRemoved: 4,
    });
    const checks = payload.checks as { name: string; passed: boolean }[];
    expect(checks.map((c) => c.name)).toEqual(expect.arrayContaining(['lookup_by_former_email_finds_nothing', 'lookup_by_former_phone_finds_nothing', 'sampled_ciphertext_unreadable', 'subject_key_destroyed']));
    expect(checks.every((c) => c.passed)).toBe(true);
    const served = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as Parameters<typeof verifyReceipt>[1];
    expect((await verifyReceipt(erased.receipt!, served)).payload.tombstoneId).toBe(created.id);

    // Altered receipts are refused.
    const [header, body, signature] = erased.receipt!.split('.');
    const claims = JSON.parse(Buffer.from(body!, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, reasonCode: 'TENANT_DECISION' })).toString('base64url')}.${signature}`;
    await expect(verifyReceipt(forged, served)).rejects.toThrow();
    await expect(jwtVerify(forged, jwks)).rejects.toThrow();

    // Idempotent: again, and later, the same receipt.
    expect(expectOk(await erase(server, created.id)).eraseSubject.receipt).toBe(erased.receipt);
    expect(expectOk(await server.gql<{ erasureReceipt: Erasure }>(RECEIPT, { id: created.id }, owner.accessToken)).erasureReceipt.receipt).toBe(erased.receipt);
    const events = await server.db.collection('audit_events').find({ tenantId: owner.tenantId, action: { $in: ['subject.erasure_started', 'subject.erased'] } }).toArray();
    expect(events.map((e) => e.action)).toEqual(['subject.erasure_started', 'subject.erased']);
    expect(JSON.stringify(events)).not.toMatch(/grace|hopper/i);
  });

  it('completes an erasure interrupted after any step: on the next call, or on a fresh instance at start', async () => {
    const steps: ErasureStep[] = ['KEY_DESTROYED', 'INDEX_REMOVED', 'RECORDS_SCRUBBED', 'VERIFIED'];
    const subjects: { id: string; step: ErasureStep }[] = [];
    for (const step of steps) {
      const created = await mustCreateSubject(server, owner, person(`s-${step.toLowerCase()}`));
      stopAfter.set(created.id, step);
      expectCode(await erase(server, created.id), 'INTERNAL_SERVER_ERROR');
      const stored = await server.db.collection('data_subjects').findOne({ _id: created.id as never });
      expect(stored?.status).toBe('ERASING');
      expect(stored?.erasure.state).toBe(step);
      // The erasing instance stops decrypting at once.
      expectCode(await readSubject(server, owner.accessToken, created.id), 'NOT_FOUND');
      subjects.push({ id: created.id, step });
    }
    // The next call resumes the first.
    const resumed = expectOk(await erase(server, subjects[0]!.id)).eraseSubject;
    expect(resumed.state).toBe('DONE');

    // A fresh instance on the same database completes the others at start.
    await server.close();
    server = await startPrivacyServer({ dbName: server.dbName, env: server.env });
    for (let i = 0; i < 100; i++) {
      if ((await server.db.collection('data_subjects').countDocuments({ status: 'ERASING' })) === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const served = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as Parameters<typeof verifyReceipt>[1];
    for (const { id } of subjects) {
      const done = expectOk(await server.gql<{ erasureReceipt: Erasure }>(RECEIPT, { id }, owner.accessToken)).erasureReceipt;
      expect(done.state).toBe('DONE');
      const verified = await verifyReceipt(done.receipt!, served);
      expect(verified.payload.checks.every((c) => c.passed)).toBe(true);
      expect(await server.db.collection('subject_keys').countDocuments({ subjectId: id })).toBe(0);
    }
  });

  it('DEK rotation re-wraps subject and index keys and never re-encrypts personal data', async () => {
    const created = await mustCreateSubject(server, owner, person('rot'));
    const sealedBefore = JSON.stringify((await server.db.collection('data_subjects').findOne({ _id: created.id as never }))?.sealed);
    expectOk(await server.gql('mutation { rotateTenantKey { activeDekVersion } }', {}, owner.accessToken));
    let state = '';
    for (let i = 0; i < 100 && state !== 'DONE'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      state = expectOk(await server.gql<{ tenantKeyStatus: { reencryption: { state: string } } }>('{ tenantKeyStatus { reencryption { state } } }', {}, owner.accessToken)).tenantKeyStatus.reencryption.state;
    }
    expect(state).toBe('DONE');
    const versions = expectOk(await server.gql<{ tenantKeyStatus: { versions: { version: number; secretVersionCount: number; retiredAt: string | null }[] } }>('{ tenantKeyStatus { versions { version secretVersionCount retiredAt } } }', {}, owner.accessToken)).tenantKeyStatus.versions;
    expect(versions.find((v) => v.version === 1)).toMatchObject({ secretVersionCount: 0 });
    expect(versions.find((v) => v.version === 1)?.retiredAt).not.toBeNull();
    expect(versions.find((v) => v.version === 2)!.secretVersionCount).toBeGreaterThan(1);
    const keyDocs = await server.db.collection('subject_keys').find({ tenantId: owner.tenantId }).toArray();
    expect(keyDocs.every((d) => d.dekVersion === 2)).toBe(true);
    expect((await server.db.collection('subject_index_keys').findOne({ tenantId: owner.tenantId }))?.dekVersion).toBe(2);
    expect(JSON.stringify((await server.db.collection('data_subjects').findOne({ _id: created.id as never }))?.sealed)).toBe(sealedBefore);
    // A fresh instance (no cached keys) still reads and finds the subject.
    await server.close();
    server = await startPrivacyServer({ dbName: server.dbName, env: server.env });
    expect(expectOk(await readSubject(server, owner.accessToken, created.id)).dataSubject.email).toBe('grace.rot@example.net');
    expect(expectOk(await findSubjects(server, owner.accessToken, { phone: '+12025550143' })).dataSubjects.edges.map((e) => e.node.id)).toEqual([created.id]);
  });
});

describe('plaintext hygiene', () => {
  it('no email, phone, name, identity or attribute value written appears in any collection, log line or error', async () => {
    const values = ['octavia.butler@example.com', '+12025550177', '202-555-0177', 'Octavia Butler', 'Kindred-1979', 'ext-octavia-77', 'badge-ob-42', 'ParableOfTheSower', 'moved house recently'];
    const errors: string[] = [];
    const created = await mustCreateSubject(server, owner, {
      externalId: 'ext-octavia-77',
      email: 'Octavia.Butler@example.com',
      phone: '+1 202-555-0177',
      fullName: 'Octavia Butler',
      attributes: { book: 'Kindred-1979', nested: { next: ['ParableOfTheSower'] } },
      identities: [{ label: 'badge', value: 'badge-ob-42' }],
    });
    expectOk(await readSubject(server, owner.accessToken, created.id));
    expectOk(await findSubjects(server, owner.accessToken, { email: 'octavia.butler@example.com' }));
    expectOk(await server.gql('mutation($id: ID!) { restrictProcessing(subjectId: $id, reason: "moved house recently") { restricted } }', { id: created.id }, owner.accessToken));
    errors.push(JSON.stringify(await readSubject(server, owner.accessToken, created.id)));
    expectOk(await server.gql('mutation($id: ID!) { exportSubjectData(subjectId: $id) { fileName } }', { id: created.id }, owner.accessToken));
    // Bad input carrying personal data: the errors must not echo it.
    errors.push(JSON.stringify(await server.gql('mutation($i: CreateDataSubjectInput!) { createDataSubject(input: $i) { id } }', { i: { email: 'octavia.butler@@example.com', fullName: 'Octavia Butler' } }, owner.accessToken)));
    errors.push(JSON.stringify(await server.gql('mutation($i: CreateDataSubjectInput!) { createDataSubject(input: $i) { id } }', { i: { phone: '202-555-0177 Octavia Butler' } }, owner.accessToken)));
    errors.push(JSON.stringify(await server.gql('mutation($i: CreateDataSubjectInput!) { createDataSubject(input: $i) { id } }', { i: { externalId: 'ext-octavia-77' } }, owner.accessToken)));
    errors.push(JSON.stringify(await server.gql('mutation($i: CreateDataSubjectInput!) { createDataSubject(input: $i) { id } }', { i: { attributes: { 'Octavia Butler': 'x'.repeat(17_000) } } }, owner.accessToken)));
    errors.push(JSON.stringify(await server.gql('mutation($i: CreateDataSubjectInput!) { createDataSubject(input: $i) { id } }', { i: { attributes: 'Octavia Butler' } }, owner.accessToken)));
    errors.push(JSON.stringify(await server.gql('query($f: DataSubjectFilter) { dataSubjects(filter: $f, purpose: "support") { edges { cursor } } }', { f: { email: 'Octavia Butler' } }, owner.accessToken)));
    for (const error of errors) expect(error).toContain('"errors"');
    const haystacks = { database: await (async () => {
      const parts: string[] = [];
      for (const { name } of await server.db.listCollections().toArray()) parts.push(JSON.stringify(await server.db.collection(name).find({}).toArray()));
      return parts.join('\n');
    })(), logs: server.logs.join(''), errors: errors.join('\n') };
    expect(server.logs.length).toBeGreaterThan(10);
    for (const [where, text] of Object.entries(haystacks)) {
      for (const value of values) expect(text.toLowerCase().includes(value.toLowerCase()), `${where} contains ${value}`).toBe(false);
    }
  });
});
