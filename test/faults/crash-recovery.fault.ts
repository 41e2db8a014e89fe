/**
 * kill -9 of the real processes in the middle of long jobs, then a restart: the job finishes
 * and nothing is left half-done. The server is `tsx src/main.ts` (and the CLI `tsx
 * src/cli/index.ts`) on MONGODB_URI of a database of its own on the run's database server;
 * the test reads that database directly only to choose the moment of the kill and to check
 * what is stored.
 */
import { randomBytes } from 'node:crypto';
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { MongoClient, type Db } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyReceipt } from '../../src/modules/privacy/erasure-receipt.js';
import { STRONG_PASSWORD, uniqueEmail } from '../support/auth.js';
import { newJwtKeyPem } from '../support/server.js';
import { crash, databaseUri, freshDbName, inParallel, killAll, output, spawnTsx, startServerProcess, waitFor, type ServerProcess } from './support.js';

const clients: MongoClient[] = [];
afterAll(async () => {
  killAll();
  for (const client of clients) await client.close().catch(() => {});
});

/** The test's own view of a database (for timing kills and checking storage, never for the job itself). */
async function openDb(dbName: string): Promise<Db> {
  const client = new MongoClient(databaseUri(dbName));
  clients.push(client);
  await client.connect();
  return client.db(dbName);
}

const masterKey = () => randomBytes(32).toString('base64');

function serverEnv(dbName: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    MONGODB_URI: databaseUri(dbName),
    VAULT_MASTER_KEYS: `t1:${masterKey()}`,
    VAULT_ACTIVE_MASTER_KEY: 't1',
    JWT_PRIVATE_KEY: newJwtKeyPem(),
    LOG_LEVEL: 'info',
    RATE_LIMIT_PER_MINUTE: '1000000',
    AUTH_RATE_LIMIT_PER_MINUTE: '1000000',
    KEY_RETIRE_GRACE_SECONDS: '0',
    ...extra,
  };
}

interface Owner {
  token: string;
  tenantId: string;
}

async function signUp(server: ServerProcess, tenantName: string): Promise<Owner> {
  const res = await server.gql<{ signUp: { accessToken: string; tenant: { id: string } } }>(
    'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken tenant { id } } }',
    { input: { email: uniqueEmail('crash'), password: STRONG_PASSWORD, tenantName } },
  );
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return { token: res.data!.signUp.accessToken, tenantId: res.data!.signUp.tenant.id };
}

const valueOf = (name: string, version: number) => `${name} value v${version} ${'x'.repeat(version)}`;

/** `name` with versions 1..versions, each value known. */
async function seedSecret(server: ServerProcess, owner: Owner, name: string, versions: number): Promise<void> {
  const created = await server.gql('mutation($input: CreateSecretInput!) { createSecret(input: $input) { version } }', { input: { name, value: valueOf(name, 1) } }, owner.token);
  expect(created.errors, JSON.stringify(created.errors)).toBeUndefined();
  for (let v = 2; v <= versions; v++) {
    const updated = await server.gql('mutation($input: UpdateSecretInput!) { updateSecret(input: $input) { version } }', { input: { name, value: valueOf(name, v) } }, owner.token);
    expect(updated.errors, JSON.stringify(updated.errors)).toBeUndefined();
  }
}

/** Every version of every named secret opens through the API, with its own value. */
async function expectEveryVersionOpens(server: ServerProcess, owner: Owner, names: string[], versions: number): Promise<void> {
  const fields = Array.from({ length: versions }, (_, i) => `v${i + 1}: value(version: ${i + 1})`).join(' ');
  await inParallel(names, 4, async (name) => {
    const res = await server.gql<{ secret: Record<string, string> | null }>(`query($n: String!) { secret(name: $n) { ${fields} } }`, { n: name }, owner.token);
    expect(res.errors, `${name}: ${JSON.stringify(res.errors)}`).toBeUndefined();
    for (let v = 1; v <= versions; v++) expect(res.data?.secret?.[`v${v}`], `${name} v${v}`).toBe(valueOf(name, v));
  });
}

async function expectAuditChainValid(server: ServerProcess, owner: Owner): Promise<void> {
  const res = await server.gql<{ verifyAuditLog: { valid: boolean; checkedEvents: number } }>('{ verifyAuditLog { valid checkedEvents } }', {}, owner.token);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  expect(res.data!.verifyAuditLog.valid).toBe(true);
}

interface ReencryptionDoc {
  reencryption: { state: string; done: number; total: number };
  deks: { version: number; retiredAt: Date | null; masterKeyId: string }[];
  auditKey: { masterKeyId: string };
}

describe('kill -9 during tenant re-encryption', () => {
  it('killed partway through rotateTenantKey\'s re-encryption, the restarted server finishes it: every version of every secret opens, old keys retired', async () => {
    const dbName = freshDbName('reenc');
    // A short lease (REENCRYPTION_LEASE_SECONDS, default 60) so the restarted server takes over soon.
    const env = serverEnv(dbName, { REENCRYPTION_BATCH_SIZE: '2', REENCRYPTION_LEASE_SECONDS: '8' });
    const db = await openDb(dbName);
    const first = await startServerProcess(env);
    const owner = await signUp(first, 'Rotation Co');
    const names = Array.from({ length: 80 }, (_, i) => `reenc/s${String(i).padStart(3, '0')}`);
    const VERSIONS = 3;
    await inParallel(names, 4, (name) => seedSecret(first, owner, name, VERSIONS));

    const rotated = await first.gql<{ rotateTenantKey: { activeDekVersion: number; reencryption: { total: number } } }>('mutation { rotateTenantKey { activeDekVersion reencryption { total } } }', {}, owner.token);
    expect(rotated.errors, JSON.stringify(rotated.errors)).toBeUndefined();
    expect(rotated.data!.rotateTenantKey.reencryption.total).toBe(names.length * VERSIONS);
    const keys = db.collection<ReencryptionDoc>('tenant_keys');
    // Kill while the job is partway: some versions moved, not all.
    const partway = await waitFor(async () => {
      const doc = await keys.findOne({ tenantId: owner.tenantId });
      const r = doc?.reencryption;
      if (r?.state !== 'RUNNING') throw new Error(`re-encryption ${r?.state} before the kill: make it longer`);
      return r.done >= r.total / 4 && r.done < r.total ? r : undefined;
    }, 30_000, () => output(first), first, 10);
    await crash(first);
    const atKill = (await keys.findOne({ tenantId: owner.tenantId }))!.reencryption;
    expect(atKill.state).toBe('RUNNING');
    expect(atKill.done).toBeLessThan(atKill.total);

    const restartedAt = Date.now();
    const second = await startServerProcess(env);
    // The dead instance's lease lapses (8 s), then the restarted server takes the job over.
    const finished = await waitFor(async () => {
      const doc = await keys.findOne({ tenantId: owner.tenantId });
      return doc?.reencryption.state === 'DONE' ? doc : undefined;
    }, 60_000, () => output(second), second, 250);
    const resumeMs = Date.now() - restartedAt;
    console.log(`re-encryption: killed at ${partway.done}/${partway.total} (saved ${atKill.done}), finished ${resumeMs} ms after the restart (lease 8 s)`);

    expect(finished.deks.filter((d) => d.version !== 2).every((d) => d.retiredAt !== null)).toBe(true);
    const status = await second.gql<{ tenantKeyStatus: { activeDekVersion: number; versions: { version: number; retiredAt: string | null; secretVersionCount: number }[] } }>(
      '{ tenantKeyStatus { activeDekVersion versions { version retiredAt secretVersionCount } } }', {}, owner.token);
    expect(status.errors, JSON.stringify(status.errors)).toBeUndefined();
    expect(status.data!.tenantKeyStatus.activeDekVersion).toBe(2);
    expect(status.data!.tenantKeyStatus.versions.find((v) => v.version === 2)!.secretVersionCount).toBe(names.length * VERSIONS);
    await expectEveryVersionOpens(second, owner, names, VERSIONS);
    await expectAuditChainValid(second, owner);
    const events = await db.collection('audit_events').countDocuments({ tenantId: owner.tenantId, action: 'key.reencryption_completed' });
    expect(events).toBe(1);
    await crash(second);
  }, 200_000);
});

describe('kill -9 during master-key re-wrap (the CLI rewrap-keys)', () => {
  it('killed partway through many tenants, a second run finishes; the server then starts with the new master key alone and every secret opens', async () => {
    const dbName = freshDbName('rewrap');
    const env = serverEnv(dbName);
    const db = await openDb(dbName);
    const server = await startServerProcess(env);
    const TENANTS = 40;
    const owners = await inParallel(Array.from({ length: TENANTS }, (_, i) => i), 4, async (i) => {
      const owner = await signUp(server, `Rewrap ${i}`);
      await seedSecret(server, owner, `rewrap/t${i}`, 2);
      return owner;
    });
    server.child.kill('SIGTERM');
    await server.exited;

    const oldKeys = env.VAULT_MASTER_KEYS!;
    const rotatedEnv = { ...env, NODE_ENV: 'test', VAULT_MASTER_KEYS: `${oldKeys},t2:${masterKey()}`, VAULT_ACTIVE_MASTER_KEY: 't2' };
    const keys = db.collection<ReencryptionDoc>('tenant_keys');
    const total = await keys.countDocuments({});
    expect(total).toBeGreaterThanOrEqual(TENANTS);
    const onNewKey = () => keys.countDocuments({ 'auditKey.masterKeyId': 't2' });

    const killed = spawnTsx('src/cli/index.ts', ['rewrap-keys'], rotatedEnv);
    const partway = await waitFor(async () => {
      const moved = await onNewKey();
      if (moved === total) throw new Error('rewrap-keys finished before the kill: make it longer');
      return moved > 0 ? moved : undefined;
    }, 60_000, () => output(killed), killed, 5);
    await crash(killed);
    const atKill = await onNewKey();
    expect(atKill).toBeLessThan(total);

    const again = spawnTsx('src/cli/index.ts', ['rewrap-keys'], rotatedEnv);
    const exit = await again.exited;
    expect(exit, output(again)).toEqual({ code: 0, signal: null });
    console.log(`rewrap-keys: killed with ${partway}/${total} tenants moved (${atKill} at exit); the second run moved the rest`);
    expect(again.stdout.join('\n')).toMatch(/^ {2}t1: 0 wrapped keys \(unused: can be removed\)$/m);
    // Every key document is under t2: the tenants' and the platform chain's (created by the CLI's
    // key.platform_rewrapped audit event if no earlier platform event had made it).
    expect(await onNewKey()).toBe(await keys.countDocuments({}));
    expect(await onNewKey()).toBeGreaterThanOrEqual(total);
    // Every live wrapped DEK is under t2 too.
    for (const doc of await keys.find({}).toArray()) {
      for (const dek of doc.deks) if (dek.retiredAt === null) expect(dek.masterKeyId).toBe('t2');
    }

    // The old master key is gone from the keyring: the server starts (it refuses when a stored key needs a missing master key).
    const newOnly = { ...env, VAULT_MASTER_KEYS: rotatedEnv.VAULT_MASTER_KEYS.split(',')[1]!, VAULT_ACTIVE_MASTER_KEY: 't2' };
    const restarted = await startServerProcess(newOnly);
    await inParallel(owners, 4, async (owner, i) => {
      await expectEveryVersionOpens(restarted, owner, [`rewrap/t${i}`], 2);
      await expectAuditChainValid(restarted, owner);
    });
    // Each tenant's re-wrap is audited once (a re-wrap killed before its audit event is the gap to look for).
    const audited = await db.collection('audit_events').distinct('tenantId', { action: 'key.master_rewrapped' });
    const unaudited = owners.filter((o) => !audited.includes(o.tenantId)).map((o) => o.tenantId);
    expect(unaudited, 'tenants re-wrapped without a key.master_rewrapped event').toEqual([]);
    await crash(restarted);
  }, 200_000);
});

interface SubjectDoc {
  _id: string;
  status: string;
  erasure?: { state: string } | null;
}

const ERASE = 'mutation($id: ID!) { eraseSubject(subjectId: $id, reason: CONSENT_WITHDRAWN) { state receipt } }';
const RECEIPT = 'query($id: ID!) { erasureReceipt(subjectId: $id) { subjectId tombstoneId state erasedAt receipt } }';

describe('kill -9 during subject erasure', () => {
  /** Where each subject's erasure is killed: after the step named (the server pauses there, FAULT_ERASURE_STEP_DELAY_MS). */
  const KILL_AT = ['KEY_DESTROYED', 'INDEX_REMOVED', 'RECORDS_SCRUBBED', 'VERIFIED'] as const;

  it('killed between every pair of steps, the restarted server completes each erasure: lookups find nothing, receipts verify, nothing half-done', async () => {
    const dbName = freshDbName('erase');
    const env = serverEnv(dbName, { FAULT_ERASURE_STEP_DELAY_MS: '1500' });
    const db = await openDb(dbName);
    let server = await startServerProcess(env);
    const owner = await signUp(server, 'Erasure Co');
    const people = KILL_AT.map((step, i) => ({
      step,
      input: {
        externalId: `crash-${i}`,
        email: `ada.${i}@example.net`,
        phone: '+1 202-555-0143',
        fullName: `Ada Lovelace ${i}`,
        attributes: { tier: `gold-${i}` },
        identities: [{ label: 'badge', value: `badge-${i}` }],
      },
    }));
    const ids: string[] = [];
    for (const person of people) {
      const res = await server.gql<{ createDataSubject: { id: string } }>('mutation($input: CreateDataSubjectInput!) { createDataSubject(input: $input) { id } }', { input: person.input }, owner.token);
      expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
      ids.push(res.data!.createDataSubject.id);
    }
    const subjects = db.collection<SubjectDoc>('data_subjects');
    const stateOf = async (id: string) => (await subjects.findOne({ _id: id }))?.erasure?.state;

    // One erasure per server life: started, then the server is killed once it has recorded the chosen step.
    for (const [i, person] of people.entries()) {
      void server.gql(ERASE, { id: ids[i] }, owner.token).catch(() => undefined); // its answer dies with the server
      await waitFor(async () => ((await stateOf(ids[i]!)) === person.step ? true : undefined), 60_000, () => output(server), server, 20);
      await crash(server);
      expect(await stateOf(ids[i]!), 'the kill landed on the chosen step').toBe(person.step);
      server = await startServerProcess(env); // resumes every unfinished erasure at start
    }
    const restartedAt = Date.now();
    await waitFor(async () => ((await subjects.countDocuments({ _id: { $in: ids }, status: 'ERASED' })) === ids.length ? true : undefined), 90_000, () => output(server), server, 250);
    console.log(`erasure: ${ids.length} erasures killed after ${KILL_AT.join(', ')}; all done ${Date.now() - restartedAt} ms after the last restart (1.5 s pause per step)`);

    const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    for (const [i, id] of ids.entries()) {
      const receipt = await server.gql<{ erasureReceipt: { state: string; receipt: string; tombstoneId: string } }>(RECEIPT, { id }, owner.token);
      expect(receipt.errors, JSON.stringify(receipt.errors)).toBeUndefined();
      expect(receipt.data!.erasureReceipt.state).toBe('DONE');
      const verified = await verifyReceipt(receipt.data!.erasureReceipt.receipt, createLocalJWKSet(jwks));
      expect(verified.payload).toMatchObject({ tombstoneId: id, tenantId: owner.tenantId });
      expect(verified.payload.checks.every((c) => c.passed)).toBe(true);
      // Erasing again returns the same receipt: no second erasure, no new state.
      const again = await server.gql<{ eraseSubject: { state: string; receipt: string } }>(ERASE, { id }, owner.token);
      expect(again.data?.eraseSubject.receipt).toBe(receipt.data!.erasureReceipt.receipt);
      // Lookups by every former identifier find nothing.
      for (const filter of [{ email: people[i]!.input.email }, { externalId: people[i]!.input.externalId }, { phone: people[i]!.input.phone }, { identity: people[i]!.input.identities[0] }]) {
        const found = await server.gql<{ dataSubjects: { edges: unknown[] } }>('query($f: DataSubjectFilter, $p: String!) { dataSubjects(filter: $f, purpose: $p) { edges { node { id } } } }', { f: filter, p: 'support' }, owner.token);
        expect(found.errors, JSON.stringify(found.errors)).toBeUndefined();
        expect(found.data!.dataSubjects.edges, JSON.stringify(filter)).toEqual([]);
      }
      const read = await server.gql<{ dataSubject: { email: string | null } | null }>('query($id: ID!) { dataSubject(id: $id, purpose: "support") { email fullName } }', { id }, owner.token);
      expect(read.data?.dataSubject?.email ?? null).toBeNull();
    }
    // Nothing half-done in storage: no subject key, no access-log entry, no sealed field, no plan left running.
    expect(await db.collection('subject_keys').countDocuments({ subjectId: { $in: ids } })).toBe(0);
    expect(await db.collection('data_access_log').countDocuments({ subjectId: { $in: ids } })).toBe(0);
    for (const doc of await db.collection('data_subjects').find({ _id: { $in: ids as never[] } }).toArray()) {
      expect(doc.status).toBe('ERASED');
      expect(doc.sealed).toEqual({});
      expect(doc.lookup).toEqual([]);
      expect(doc.erasure.formerLookup).toBeUndefined();
      expect(doc.erasure.sample).toBeUndefined();
    }
    expect(await db.collection('audit_events').countDocuments({ tenantId: owner.tenantId, action: 'subject.erased' })).toBe(ids.length);
    expect(await db.collection('audit_events').countDocuments({ tenantId: owner.tenantId, action: 'subject.erasure_started' })).toBe(ids.length);
    await expectAuditChainValid(server, owner);
    await crash(server);
  }, 240_000);
});

const PURGE = 'mutation { purgeExpiredData { subjectsErased accessLogEntriesDeleted requestsDeleted } }';

describe('kill -9 during a retention purge', () => {
  it('killed partway through purgeExpiredData, a restart and a second purge finish it: every subject past retention erased with a verifiable receipt, none half-done, counts add up, none within retention touched', async () => {
    const dbName = freshDbName('purge');
    // A pause after every erasure step makes the purge (one erasure after another) last long enough to kill partway.
    const env = serverEnv(dbName, { FAULT_ERASURE_STEP_DELAY_MS: '100' });
    const db = await openDb(dbName);
    const first = await startServerProcess(env);
    const owner = await signUp(first, 'Retention Co');
    const PAST = 20;
    const KEPT = 8;
    // Policy: subjects are kept 3650 days after their last change; a subject's own date overrides it.
    const policy = await first.gql('mutation { setRetentionPolicy(input: { subjectRetentionDays: 3650 }) { subjectRetentionDays } }', {}, owner.token);
    expect(policy.errors, JSON.stringify(policy.errors)).toBeUndefined();
    const create = async (i: number, kind: string) => {
      const res = await first.gql<{ createDataSubject: { id: string } }>('mutation($input: CreateDataSubjectInput!) { createDataSubject(input: $input) { id } }', {
        input: { externalId: `${kind}-${i}`, email: `${kind}.${i}@example.net`, fullName: `${kind} person ${i}`, identities: [{ label: 'badge', value: `${kind}-badge-${i}` }] },
      }, owner.token);
      expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
      return res.data!.createDataSubject.id;
    };
    const setUntil = async (id: string, until: Date) => {
      const res = await first.gql('mutation($id: ID!, $u: DateTimeISO) { setSubjectRetention(subjectId: $id, until: $u) { retainUntil } }', { id, u: until.toISOString() }, owner.token);
      expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    };
    // Past retention: their own date a few seconds ahead, then waited out (the server's clock is the real one).
    const lapseAt = new Date(Date.now() + 8_000);
    const past = await inParallel(Array.from({ length: PAST }, (_, i) => i), 4, async (i) => {
      const id = await create(i, 'past');
      await setUntil(id, lapseAt);
      return id;
    });
    // Within retention: half with their own date a month ahead, half under the 3650-day policy.
    const kept = await inParallel(Array.from({ length: KEPT }, (_, i) => i), 4, async (i) => {
      const id = await create(i, 'kept');
      if (i % 2 === 0) await setUntil(id, new Date(Date.now() + 30 * 86_400_000));
      return id;
    });
    const subjects = db.collection<SubjectDoc & { revision: number; sealed: object; lookup: unknown[] }>('data_subjects');
    const keptBefore = await subjects.find({ _id: { $in: kept } }).toArray();
    const keptKeysBefore = await db.collection('subject_keys').countDocuments({ subjectId: { $in: kept } });
    expect(keptKeysBefore).toBeGreaterThanOrEqual(KEPT);
    const wait = lapseAt.getTime() + 500 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));

    const countBy = async (status: string) => subjects.countDocuments({ _id: { $in: past }, status });
    void first.gql(PURGE, {}, owner.token).catch(() => undefined); // its answer dies with the server
    await waitFor(async () => {
      const erased = await countBy('ERASED');
      if (erased === PAST) throw new Error('the purge finished before the kill: make it longer');
      return erased >= PAST / 4 && (await countBy('ERASING')) === 1 ? erased : undefined;
    }, 90_000, () => output(first), first, 20);
    await crash(first);
    const atKill = { erased: await countBy('ERASED'), erasing: await countBy('ERASING'), active: await countBy('ACTIVE') };
    expect(atKill.erased + atKill.erasing + atKill.active).toBe(PAST);
    expect(atKill.erasing, 'one erasure in flight at the kill').toBe(1);
    expect(atKill.active).toBeGreaterThan(0);
    const midway = (await subjects.findOne({ _id: { $in: past }, status: 'ERASING' }))!;
    expect(await db.collection('audit_events').countDocuments({ tenantId: owner.tenantId, action: 'retention.purged' }), 'the killed purge never finished').toBe(0);

    const restartedAt = Date.now();
    const second = await startServerProcess(env); // resumes the erasure in flight at start
    const again = await second.gql<{ purgeExpiredData: { subjectsErased: number; accessLogEntriesDeleted: number; requestsDeleted: number } }>(PURGE, {}, owner.token);
    expect(again.errors, JSON.stringify(again.errors)).toBeUndefined();
    await waitFor(async () => ((await countBy('ERASED')) === PAST ? true : undefined), 60_000, () => output(second), second, 100);
    console.log(`retention purge: ${PAST} subjects past retention, ${KEPT} within; killed with ${atKill.erased} erased, 1 in flight (${midway.erasure?.state}), ${atKill.active} not started; the second purge erased ${again.data!.purgeExpiredData.subjectsErased}, all done ${Date.now() - restartedAt} ms after the restart (0.1 s pause per step)`);
    // Counts add up: the second purge counts exactly the ones the first never started.
    expect(again.data!.purgeExpiredData).toEqual({ subjectsErased: atKill.active, accessLogEntriesDeleted: 0, requestsDeleted: 0 });
    const third = await second.gql<{ purgeExpiredData: { subjectsErased: number } }>(PURGE, {}, owner.token);
    expect(third.data?.purgeExpiredData.subjectsErased, 'a purge after that finds nothing').toBe(0);

    // Every subject past retention: erased with a receipt that verifies, reason RETENTION_PERIOD_ENDED, every check passed.
    const jwks = createLocalJWKSet((await (await fetch(`${second.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet);
    await inParallel(past, 4, async (id) => {
      const receipt = await second.gql<{ erasureReceipt: { state: string; receipt: string } }>(RECEIPT, { id }, owner.token);
      expect(receipt.errors, JSON.stringify(receipt.errors)).toBeUndefined();
      expect(receipt.data!.erasureReceipt.state).toBe('DONE');
      const verified = await verifyReceipt(receipt.data!.erasureReceipt.receipt, jwks);
      expect(verified.payload).toMatchObject({ tombstoneId: id, tenantId: owner.tenantId, reasonCode: 'RETENTION_PERIOD_ENDED' });
      expect(verified.payload.checks.every((c) => c.passed)).toBe(true);
    });
    // None half-erased: no key, access-log entry, sealed field, lookup or plan data left.
    expect(await db.collection('subject_keys').countDocuments({ subjectId: { $in: past } })).toBe(0);
    expect(await db.collection('data_access_log').countDocuments({ subjectId: { $in: past } })).toBe(0);
    for (const doc of await subjects.find({ _id: { $in: past } }).toArray()) {
      expect(doc.status).toBe('ERASED');
      expect(doc.sealed).toEqual({});
      expect(doc.lookup).toEqual([]);
      expect((doc.erasure as Record<string, unknown>).formerLookup).toBeUndefined();
      expect((doc.erasure as Record<string, unknown>).sample).toBeUndefined();
    }
    // One start and one end per erasure; one retention.purged per finished purge run (the killed one wrote none).
    const audits = db.collection('audit_events');
    expect(await audits.countDocuments({ tenantId: owner.tenantId, action: 'subject.erasure_started' })).toBe(PAST);
    expect(await audits.countDocuments({ tenantId: owner.tenantId, action: 'subject.erased' })).toBe(PAST);
    expect(await audits.countDocuments({ tenantId: owner.tenantId, action: 'retention.purged' })).toBe(2);

    // Within retention: untouched (same revision, keys kept) and readable through the API.
    const keptAfter = await subjects.find({ _id: { $in: kept } }).toArray();
    expect(keptAfter.map((d) => [d._id, d.status, d.revision])).toEqual(keptBefore.map((d) => [d._id, 'ACTIVE', d.revision]));
    expect(await db.collection('subject_keys').countDocuments({ subjectId: { $in: kept } })).toBe(keptKeysBefore);
    await inParallel(kept, 4, async (id, i) => {
      const read = await second.gql<{ dataSubject: { email: string | null } | null }>('query($id: ID!) { dataSubject(id: $id, purpose: "support") { email } }', { id }, owner.token);
      expect(read.errors, JSON.stringify(read.errors)).toBeUndefined();
      expect(read.data!.dataSubject?.email).toBe(`kept.${i}@example.net`);
    });
    await expectAuditChainValid(second, owner);
    await crash(second);
  }, 240_000);
});
