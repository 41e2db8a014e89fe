import { randomBytes, randomUUID } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, expectCode, expectOk, signUp, type Signed } from '../support/auth.js';
import { newJwtKeyPem, startServer, type GraphQLResponse, type TestServer } from '../support/server.js';
import { mustCreateSubject, RECEIPT } from './support.js';

/**
 * Retention over the API: the policy and per-subject dates (roles, tenancy, bounds), purging
 * (subjects erased with receipts, old access-log entries and closed requests deleted; idempotent;
 * audited), and the daily sweep running exactly once when two instances share one database.
 */

const POLICY = 'subjectRetentionDays accessLogRetentionDays requestRetentionDays updatedAt';
const SET_POLICY = `mutation($i: RetentionPolicyInput!) { setRetentionPolicy(input: $i) { ${POLICY} } }`;
const GET_POLICY = `{ retentionPolicy { ${POLICY} } }`;
const SET_SUBJECT = 'mutation($id: ID!, $u: DateTimeISO) { setSubjectRetention(subjectId: $id, until: $u) { subjectId retainUntil } }';
const PURGE = 'mutation { purgeExpiredData { subjectsErased accessLogEntriesDeleted requestsDeleted } }';
type Counts = { subjectsErased: number; accessLogEntriesDeleted: number; requestsDeleted: number };

let server: TestServer;
let owner: Signed;
beforeAll(async () => {
  server = await startServer();
  owner = await signUp(server, 'Retention');
});
afterAll(async () => server?.close());

const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY);
const call = <T = Record<string, unknown>>(target: TestServer, query: string, variables: Record<string, unknown>, who: Signed) =>
  target.gql<T>(query, variables, who.accessToken) as Promise<GraphQLResponse<T>>;

/** Backdates a subject as if it had been created (and last changed) `days` ago. */
async function backdate(target: TestServer, id: string, days: number, updatedDaysAgo: number | null = null) {
  await target.db.collection('data_subjects').updateOne({ _id: id as never }, { $set: { createdAt: ago(days), updatedAt: updatedDaysAgo === null ? null : ago(updatedDaysAgo) } });
}

describe('retention policy and subject dates', () => {
  it('sets and reads the policy; null keeps; bounds refused with nothing written; audited', async () => {
    expect(expectOk(await call<{ retentionPolicy: Record<string, unknown> }>(server, GET_POLICY, {}, owner)).retentionPolicy).toMatchObject({ subjectRetentionDays: null, accessLogRetentionDays: null, requestRetentionDays: null, updatedAt: null });
    const set = expectOk(await call<{ setRetentionPolicy: Record<string, unknown> }>(server, SET_POLICY, { i: { subjectRetentionDays: 365, accessLogRetentionDays: 90, requestRetentionDays: null } }, owner)).setRetentionPolicy;
    expect(set).toMatchObject({ subjectRetentionDays: 365, accessLogRetentionDays: 90, requestRetentionDays: null });
    for (const i of [{ subjectRetentionDays: 0 }, { accessLogRetentionDays: 36_501 }, { requestRetentionDays: -5 }]) {
      const res = await call(server, SET_POLICY, { i }, owner);
      expectCode(res, 'BAD_USER_INPUT');
      expect(res.errors?.[0]?.extensions.field).toBe(`input.${Object.keys(i)[0]}`);
    }
    expectCode(await call(server, SET_POLICY, { i: { subjectRetentionDays: 1.5 } }, owner), 'BAD_USER_INPUT');
    expect(expectOk(await call<{ retentionPolicy: Record<string, unknown> }>(server, GET_POLICY, {}, owner)).retentionPolicy).toMatchObject({ subjectRetentionDays: 365, accessLogRetentionDays: 90 });
    const event = await server.db.collection('audit_events').findOne({ tenantId: owner.tenantId, action: 'retention.policy_set' });
    expect(event?.details).toEqual({ subjectRetentionDays: 365, accessLogRetentionDays: 90 });
    // Another tenant has its own (empty) policy.
    const other = await signUp(server, 'Other retention');
    expect(expectOk(await call<{ retentionPolicy: Record<string, unknown> }>(server, GET_POLICY, {}, other)).retentionPolicy.subjectRetentionDays).toBeNull();
    expectOk(await call(server, SET_POLICY, { i: {} }, owner)); // back to keeping everything
  });

  it('sets and clears a subject\'s own date (future only, within bounds); another tenant\'s subject is NOT_FOUND', async () => {
    const subject = await mustCreateSubject(server, owner, { fullName: 'Dated' });
    const until = new Date(Date.now() + 30 * DAY).toISOString();
    expect(expectOk(await call<{ setSubjectRetention: { retainUntil: string } }>(server, SET_SUBJECT, { id: subject.id, u: until }, owner)).setSubjectRetention.retainUntil).toBe(until);
    for (const u of [ago(1).toISOString(), new Date(Date.now() + 36_501 * DAY).toISOString()]) {
      const res = await call(server, SET_SUBJECT, { id: subject.id, u }, owner);
      expectCode(res, 'BAD_USER_INPUT');
      expect(res.errors?.[0]?.extensions.field).toBe('until');
    }
    expect((await server.db.collection('data_subjects').findOne({ _id: subject.id as never }))?.retainUntil?.toISOString()).toBe(until);
    expect(expectOk(await call<{ setSubjectRetention: { retainUntil: null } }>(server, SET_SUBJECT, { id: subject.id, u: null }, owner)).setSubjectRetention.retainUntil).toBeNull();
    const other = await signUp(server, 'Thief');
    expectCode(await call(server, SET_SUBJECT, { id: subject.id, u: until }, other), 'NOT_FOUND');
    expectCode(await call(server, SET_SUBJECT, { id: 'ds_000000000000000000000000', u: until }, owner), 'NOT_FOUND');
    const events = await server.db.collection('audit_events').find({ tenantId: owner.tenantId, action: 'subject.retention_set', 'resource.id': subject.id }).toArray();
    expect(events.map((e) => e.details)).toEqual([{ until }, {}]);
  });

  it('roles: ADMIN and OWNER only; API keys only for setSubjectRetention (ADMIN, SUBJECTS_WRITE)', async () => {
    const subject = await mustCreateSubject(server, owner, { fullName: 'Roles' });
    const until = new Date(Date.now() + DAY).toISOString();
    for (const role of ['USER', 'MANAGER']) {
      const member = await addMember(server, owner, role);
      expectCode(await call(server, GET_POLICY, {}, member), 'FORBIDDEN');
      expectCode(await call(server, SET_POLICY, { i: {} }, member), 'FORBIDDEN');
      expectCode(await call(server, SET_SUBJECT, { id: subject.id, u: until }, member), 'FORBIDDEN');
      expectCode(await call(server, PURGE, {}, member), 'FORBIDDEN');
    }
    const admin = await addMember(server, owner, 'ADMIN');
    expectOk(await call(server, GET_POLICY, {}, admin));
    expectOk(await call(server, SET_POLICY, { i: {} }, admin));
    expectOk(await call(server, SET_SUBJECT, { id: subject.id, u: until }, admin));
    expectOk(await call(server, PURGE, {}, admin));
    const key = expectOk(await call<{ createApiKey: { apiKey: string } }>(server, 'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey } }', { i: { name: 'ret', role: 'ADMIN', prefixes: [], scopes: ['SUBJECTS_READ', 'SUBJECTS_WRITE'] } }, owner)).createApiKey.apiKey;
    const asKey = { ...owner, accessToken: key };
    expectOk(await call(server, SET_SUBJECT, { id: subject.id, u: null }, asKey));
    expectCode(await call(server, PURGE, {}, asKey), 'FORBIDDEN');
    expectCode(await call(server, SET_POLICY, { i: {} }, asKey), 'FORBIDDEN');
    expectCode(await server.gql(PURGE, {}), 'UNAUTHENTICATED');
  });
});

describe('purging', () => {
  it('erases subjects past retention with receipts, deletes old access-log entries and closed requests; idempotent; only the caller\'s tenant', async () => {
    const tenant = await signUp(server, 'Purge');
    const other = await signUp(server, 'Untouched');
    const mk = async (who: Signed, name: string) => (await mustCreateSubject(server, who, { fullName: name })).id;
    const old = await mk(tenant, 'Old');
    const touched = await mk(tenant, 'Old but rectified lately');
    const fresh = await mk(tenant, 'Fresh');
    const restricted = await mk(tenant, 'Old and restricted');
    const ownDatePassed = await mk(tenant, 'Own date passed');
    const ownDateAhead = await mk(tenant, 'Old, kept by its own date');
    const othersOld = await mk(other, 'Other tenant, old');
    await backdate(server, old, 40);
    await backdate(server, touched, 40, 5);
    await backdate(server, restricted, 40);
    await backdate(server, othersOld, 40);
    expectOk(await call(server, 'mutation($id: ID!) { restrictProcessing(subjectId: $id, reason: "legal hold") { restricted } }', { id: restricted }, tenant));
    expectOk(await call(server, SET_SUBJECT, { id: ownDatePassed, u: new Date(Date.now() + DAY).toISOString() }, tenant));
    await server.db.collection('data_subjects').updateOne({ _id: ownDatePassed as never }, { $set: { retainUntil: ago(1) } }); // a day later
    expectOk(await call(server, SET_SUBJECT, { id: ownDateAhead, u: new Date(Date.now() + 10 * DAY).toISOString() }, tenant));
    await backdate(server, ownDateAhead, 400);

    // Access log: reads of `fresh` now, two of them backdated 100 days.
    for (let i = 0; i < 3; i++) expectOk(await call(server, 'query($id: ID!) { dataSubject(id: $id, purpose: "support") { fullName } }', { id: fresh }, tenant));
    const entries = await server.db.collection('data_access_log').find({ tenantId: tenant.tenantId, subjectId: fresh }).toArray();
    await server.db.collection('data_access_log').updateMany({ _id: { $in: entries.slice(0, 2).map((e) => e._id) } }, { $set: { at: ago(100) } });
    // Requests: one closed 200 days ago, one closed now, one open and old.
    const create = async (receivedDaysAgo: number) =>
      expectOk(await call<{ createDataSubjectRequest: { id: string } }>(server, 'mutation($i: CreateDataSubjectRequestInput!) { createDataSubjectRequest(input: $i) { id } }', { i: { subjectId: fresh, type: 'OBJECTION', receivedAt: ago(receivedDaysAgo).toISOString() } }, tenant)).createDataSubjectRequest.id;
    const closedLongAgo = await create(230);
    const closedNow = await create(2);
    const openOld = await create(230);
    for (const id of [closedLongAgo, closedNow]) expectOk(await call(server, 'mutation($id: ID!) { rejectDataSubjectRequest(id: $id, reason: "unfounded") { status } }', { id }, tenant));
    await server.db.collection('data_subject_requests').updateOne({ _id: closedLongAgo as never }, { $set: { closedAt: ago(200) } });

    expectOk(await call(server, SET_POLICY, { i: { subjectRetentionDays: 30, accessLogRetentionDays: 60, requestRetentionDays: 180 } }, tenant));
    const counts = expectOk(await call<{ purgeExpiredData: Counts }>(server, PURGE, {}, tenant)).purgeExpiredData;
    expect(counts).toEqual({ subjectsErased: 2, accessLogEntriesDeleted: 2, requestsDeleted: 1 });

    const status = async (id: string) => (await server.db.collection('data_subjects').findOne({ _id: id as never }))?.status;
    expect(await status(old)).toBe('ERASED');
    expect(await status(ownDatePassed)).toBe('ERASED');
    for (const kept of [touched, fresh, restricted, ownDateAhead, othersOld]) expect(await status(kept), kept).toBe('ACTIVE');
    expect(await server.db.collection('data_access_log').countDocuments({ tenantId: tenant.tenantId, subjectId: fresh })).toBe(1);
    expect((await server.db.collection('data_subject_requests').find({ tenantId: tenant.tenantId }).toArray()).map((r) => r._id).sort()).toEqual([closedNow, openOld].sort());

    // Each erasure has a verifiable receipt with reason RETENTION_PERIOD_ENDED.
    const jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
    for (const id of [old, ownDatePassed]) {
      const receipt = expectOk(await call<{ erasureReceipt: { receipt: string } }>(server, RECEIPT, { id }, tenant)).erasureReceipt.receipt;
      const { payload } = await jwtVerify(receipt, jwks, { typ: 'coffer-erasure-receipt+jwt', algorithms: ['EdDSA'] });
      expect(payload).toMatchObject({ tombstoneId: id, reasonCode: 'RETENTION_PERIOD_ENDED' });
    }
    // Idempotent: nothing left to purge.
    expect(expectOk(await call<{ purgeExpiredData: Counts }>(server, PURGE, {}, tenant)).purgeExpiredData).toEqual({ subjectsErased: 0, accessLogEntriesDeleted: 0, requestsDeleted: 0 });
    const purged = await server.db.collection('audit_events').find({ tenantId: tenant.tenantId, action: 'retention.purged' }).toArray();
    expect(purged.map((e) => e.details)).toEqual([
      { trigger: 'ON_DEMAND', subjectsErased: 2, accessLogEntriesDeleted: 2, requestsDeleted: 1 },
      { trigger: 'ON_DEMAND', subjectsErased: 0, accessLogEntriesDeleted: 0, requestsDeleted: 0 },
    ]);
    expect(purged[0]?.resource).toMatchObject({ type: 'TENANT' });
    // The other tenant's events and data are untouched.
    expect(await server.db.collection('audit_events').countDocuments({ tenantId: other.tenantId, action: 'retention.purged' })).toBe(0);
  });
});

describe('the retention sweep', () => {
  it('runs exactly once when two instances start on one database at the same time', async () => {
    const dbName = `ret_${randomUUID().slice(0, 8)}`;
    const keys = { VAULT_MASTER_KEYS: `t1:${randomBytes(32).toString('base64')}`, VAULT_ACTIVE_MASTER_KEY: 't1', JWT_PRIVATE_KEY: newJwtKeyPem() };
    const setup = await startServer(keys, dbName);
    let a: TestServer | undefined;
    let b: TestServer | undefined;
    let setupOpen = true;
    try {
      const tenant = await signUp(setup, 'Swept');
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push((await mustCreateSubject(setup, tenant, { fullName: `Swept ${i}` })).id);
      const keep = (await mustCreateSubject(setup, tenant, { fullName: 'Kept' })).id;
      for (const id of ids) await backdate(setup, id, 10);
      expectOk(await setup.gql(SET_POLICY, { i: { subjectRetentionDays: 7 } }, tenant.accessToken));
      // A day later: the setup instance's lease term (it swept at its start, finding nothing) has ended.
      expect(await setup.db.collection('job_leases').countDocuments({ _id: 'retention sweep' as never })).toBe(1);
      await setup.db.collection('job_leases').updateOne({ _id: 'retention sweep' as never }, { $set: { until: new Date(0) } });
      await setup.close();
      setupOpen = false;
      [a, b] = await Promise.all([startServer(keys, dbName), startServer(keys, dbName)]);
      const events = () => a!.db.collection('audit_events').find({ tenantId: tenant.tenantId, action: 'retention.purged' }).toArray();
      for (let i = 0; i < 200 && (await events()).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      await new Promise((resolve) => setTimeout(resolve, 500)); // room for a second (wrong) run to show
      const runs = await events();
      expect(runs.map((e) => e.details)).toEqual([{ trigger: 'SWEEP', subjectsErased: 4, accessLogEntriesDeleted: 0, requestsDeleted: 0 }]);
      expect(runs[0]?.actor).toMatchObject({ type: 'SYSTEM' });
      expect(await a.db.collection('audit_events').countDocuments({ tenantId: tenant.tenantId, action: 'subject.erased' })).toBe(4);
      expect(await a.db.collection('audit_events').countDocuments({ tenantId: tenant.tenantId, action: 'subject.erasure_started' })).toBe(4);
      for (const id of ids) expect((await a.db.collection('data_subjects').findOne({ _id: id as never }))?.status).toBe('ERASED');
      expect((await a.db.collection('data_subjects').findOne({ _id: keep as never }))?.status).toBe('ACTIVE');
      // One lease, held by one of the two for the whole interval.
      const lease = await a.db.collection('job_leases').findOne({ _id: 'retention sweep' as never });
      expect(lease?.until.getTime()).toBeGreaterThan(Date.now() + 60 * 60_000);
    } finally {
      await a?.db.dropDatabase().catch(() => {});
      await Promise.all([a?.close(), b?.close(), setupOpen ? setup.close() : undefined]);
    }
  });
});
