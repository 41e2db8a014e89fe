import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_CATALOGUE } from '../../src/modules/audit/audit-catalogue.js';
import { DSR_STATUSES, DSR_TYPES } from '../../src/modules/privacy/dsr-state.js';
import { addGdprMonths } from '../../src/modules/privacy/gdpr-deadline.js';
import { addMember, expectCode, expectOk, signUp, type Signed } from '../support/auth.js';
import type { GraphQLResponse, TestServer } from '../support/server.js';
import { dumpDatabase, mustCreateSubject, readSubject, startPrivacyServer } from './support.js';

/**
 * Data-subject requests over the API: roles, tenancy, input, the state machine (including a
 * race), GDPR deadlines at month ends and leap years, the extension rules, deadline listings,
 * ACCESS completion returning the export, ERASURE completion with a verifiable receipt, and no
 * note or reason in clear anywhere.
 */

type Req = {
  id: string;
  subjectId: string;
  type: string;
  status: string;
  receivedAt: string;
  dueAt: string;
  originalDueAt: string;
  overdue: boolean;
  extension: { months: number; decidedAt: string; reason: string | null } | null;
  notes: string | null;
  rejectionReason: string | null;
  closedAt: string | null;
  exportProducedAt: string | null;
  erasureReceipt: string | null;
  revision: number;
};
const REQ = 'id subjectId type status receivedAt dueAt originalDueAt overdue extension { months decidedAt reason } notes rejectionReason closedAt exportProducedAt erasureReceipt revision';
const CREATE = `mutation($i: CreateDataSubjectRequestInput!) { createDataSubjectRequest(input: $i) { ${REQ} } }`;
const START = `mutation($id: ID!) { startDataSubjectRequest(id: $id) { ${REQ} } }`;
const EXTEND = `mutation($id: ID!, $r: String!, $m: Int) { extendDataSubjectRequest(id: $id, reason: $r, months: $m) { ${REQ} } }`;
const COMPLETE = `mutation($id: ID!) { completeDataSubjectRequest(id: $id) { request { ${REQ} } export { format fileName document } erasure { subjectId state receipt } } }`;
const REJECT = `mutation($id: ID!, $r: String!) { rejectDataSubjectRequest(id: $id, reason: $r) { ${REQ} } }`;
const LIST = `query($f: DataSubjectRequestFilter, $first: Int, $after: String) { dataSubjectRequests(filter: $f, first: $first, after: $after) { edges { cursor node { ${REQ} } } pageInfo { hasNextPage endCursor } totalCount } }`;
type Completion = { request: Req; export: { format: string; fileName: string; document: { subject: { id: string; email: string }; requests: { id: string; status: string }[] } } | null; erasure: { subjectId: string; state: string; receipt: string } | null };
type ListResult = { dataSubjectRequests: { edges: { cursor: string; node: Req }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null }; totalCount: number } };

let server: TestServer & { dbName: string; env: Record<string, string> };
let owner: Signed;
beforeAll(async () => {
  server = await startPrivacyServer();
  owner = await signUp(server, 'Requests');
});
afterAll(async () => {
  await server?.db.dropDatabase().catch(() => {});
  await server?.close();
});

const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();

async function newRequest(target: TestServer, who: Signed | string, input: Record<string, unknown>): Promise<Req> {
  return expectOk(await target.gql<{ createDataSubjectRequest: Req }>(CREATE, { i: { receivedAt: daysAgo(1), type: 'ACCESS', ...input } }, typeof who === 'string' ? who : who.accessToken)).createDataSubjectRequest;
}

const call = <T = Record<string, unknown>>(target: TestServer, query: string, variables: Record<string, unknown>, who: Signed | string = owner) =>
  target.gql<T>(query, variables, typeof who === 'string' ? who : who.accessToken) as Promise<GraphQLResponse<T>>;

describe('data-subject requests: lifecycle', () => {
  it('records a request with its GDPR deadline, seals the notes, moves RECEIVED → IN_PROGRESS → COMPLETED, audited without text', async () => {
    const subject = await mustCreateSubject(server, owner, { email: 'req.one@example.com' });
    const created = await newRequest(server, owner, { subjectId: subject.id, type: 'RECTIFICATION', receivedAt: '2024-01-31T10:00:00.000Z', notes: 'Caller says her surname changed after marriage' });
    expect(created).toMatchObject({ subjectId: subject.id, type: 'RECTIFICATION', status: 'RECEIVED', dueAt: '2024-02-29T10:00:00.000Z', originalDueAt: '2024-02-29T10:00:00.000Z', overdue: true, notes: 'Caller says her surname changed after marriage', revision: 1 });
    const stored = await server.db.collection('data_subject_requests').findOne({ _id: created.id as never });
    expect(stored?.sealed.notes).toBeDefined();
    expect(JSON.stringify(stored)).not.toMatch(/surname|marriage/);

    const started = expectOk(await call<{ startDataSubjectRequest: Req }>(server, START, { id: created.id })).startDataSubjectRequest;
    expect(started).toMatchObject({ status: 'IN_PROGRESS', revision: 2 });
    const done = expectOk(await call<{ completeDataSubjectRequest: Completion }>(server, COMPLETE, { id: created.id })).completeDataSubjectRequest;
    expect(done.request).toMatchObject({ status: 'COMPLETED', overdue: false, exportProducedAt: null, erasureReceipt: null });
    expect(done.request.closedAt).not.toBeNull();
    expect(done.export).toBeNull();

    const events = await server.db.collection('audit_events').find({ tenantId: owner.tenantId, 'resource.id': created.id }).toArray();
    expect(events.map((e) => e.action)).toEqual(['dsr.created', 'dsr.started', 'dsr.completed']);
    expect(events[0]?.resource.type).toBe('DATA_SUBJECT_REQUEST');
    expect(events[0]?.details).toEqual({ subjectId: subject.id, type: 'RECTIFICATION', dueAt: '2024-02-29T10:00:00.000Z' });
    expect(JSON.stringify(events)).not.toMatch(/surname|marriage|req\.one/);
  });

  it('refuses illegal moves with CONFLICT (from, action, allowed) and keeps one winner in a race', async () => {
    const subject = await mustCreateSubject(server, owner, { fullName: 'Race Subject' });
    const r = await newRequest(server, owner, { subjectId: subject.id, type: 'OBJECTION' });
    const early = await call(server, COMPLETE, { id: r.id });
    expectCode(early, 'CONFLICT');
    expect(early.errors?.[0]?.extensions).toMatchObject({ from: 'RECEIVED', action: 'COMPLETE', allowed: ['START', 'REJECT'] });

    // Eight concurrent starts: exactly one wins, the others are CONFLICT.
    const starts = await Promise.all(Array.from({ length: 8 }, () => call<{ startDataSubjectRequest: Req }>(server, START, { id: r.id })));
    expect(starts.filter((s) => !s.errors).length).toBe(1);
    for (const s of starts.filter((x) => x.errors)) expectCode(s, 'CONFLICT');
    expect((await server.db.collection('data_subject_requests').findOne({ _id: r.id as never }))?.revision).toBe(2);
    expectCode(await call(server, START, { id: r.id }), 'CONFLICT');

    // Complete and reject at once: one of them wins, the request ends in that one status.
    const [completed, rejected] = await Promise.all([call(server, COMPLETE, { id: r.id }), call(server, REJECT, { id: r.id, r: 'duplicate of an earlier objection' })]);
    expect([completed, rejected].filter((x) => !x.errors).length).toBe(1);
    const final = await server.db.collection('data_subject_requests').findOne({ _id: r.id as never });
    expect(final?.status).toBe(completed.errors ? 'REJECTED' : 'COMPLETED');
    for (const query of [START, COMPLETE]) expectCode(await call(server, query, { id: r.id }), 'CONFLICT');
    expectCode(await call(server, REJECT, { id: r.id, r: 'again' }), 'CONFLICT');
    expectCode(await call(server, EXTEND, { id: r.id, r: 'late' }), 'CONFLICT');

    // REJECT straight from RECEIVED, with the reason sealed.
    const r2 = await newRequest(server, owner, { subjectId: subject.id, type: 'ACCESS' });
    const rej = expectOk(await call<{ rejectDataSubjectRequest: Req }>(server, REJECT, { id: r2.id, r: 'identity could not be verified' })).rejectDataSubjectRequest;
    expect(rej).toMatchObject({ status: 'REJECTED', rejectionReason: 'identity could not be verified' });
    expect(JSON.stringify(await server.db.collection('data_subject_requests').findOne({ _id: r2.id as never }))).not.toContain('verified');
  });

  it('bad input: clear BAD_USER_INPUT or NOT_FOUND, nothing written', async () => {
    const subject = await mustCreateSubject(server, owner, { fullName: 'Input Subject' });
    const before = await server.db.collection('data_subject_requests').countDocuments();
    const future = new Date(Date.now() + 86_400_000).toISOString();
    const cases: [Record<string, unknown>, string, string | null][] = [
      [{ subjectId: subject.id, type: 'ACCESS', receivedAt: future }, 'BAD_USER_INPUT', 'input.receivedAt'],
      [{ subjectId: subject.id, type: 'ACCESS', receivedAt: '1999-12-31T23:59:59Z' }, 'BAD_USER_INPUT', 'input.receivedAt'],
      [{ subjectId: subject.id, type: 'ACCESS', receivedAt: daysAgo(1), notes: 'n'.repeat(4001) }, 'BAD_USER_INPUT', 'input.notes'],
      [{ subjectId: 'ds_000000000000000000000000', type: 'ACCESS', receivedAt: daysAgo(1) }, 'NOT_FOUND', null],
      [{ subjectId: 'nonsense', type: 'ACCESS', receivedAt: daysAgo(1) }, 'NOT_FOUND', null],
    ];
    for (const [input, code, field] of cases) {
      const res = await call(server, CREATE, { i: input });
      expectCode(res, code);
      if (field) expect(res.errors?.[0]?.extensions.field).toBe(field);
    }
    expectCode(await call(server, CREATE, { i: { subjectId: subject.id, type: 'DELETE_EVERYTHING', receivedAt: daysAgo(1) } }), 'BAD_USER_INPUT');
    expectCode(await call(server, CREATE, { i: { subjectId: subject.id, type: 'ACCESS', receivedAt: 'yesterday' } }), 'BAD_USER_INPUT');
    expect(await server.db.collection('data_subject_requests').countDocuments()).toBe(before);

    const r = await newRequest(server, owner, { subjectId: subject.id });
    const revision = (await server.db.collection('data_subject_requests').findOne({ _id: r.id as never }))?.revision;
    expectCode(await call(server, REJECT, { id: r.id, r: '   ' }), 'BAD_USER_INPUT');
    expectCode(await call(server, EXTEND, { id: r.id, r: '' }), 'BAD_USER_INPUT');
    expectCode(await call(server, EXTEND, { id: r.id, r: 'complex', m: 3 }), 'BAD_USER_INPUT');
    expectCode(await call(server, EXTEND, { id: r.id, r: 'complex', m: 0 }), 'BAD_USER_INPUT');
    expectCode(await call(server, EXTEND, { id: r.id, r: 'x'.repeat(2001) }), 'BAD_USER_INPUT');
    expect((await server.db.collection('data_subject_requests').findOne({ _id: r.id as never }))?.revision).toBe(revision);
    expectCode(await call(server, START, { id: 'dsr_000000000000000000000000' }), 'NOT_FOUND');
    expectCode(await call(server, START, { id: 'bogus' }), 'NOT_FOUND');
    for (const [f, first] of [[{ dueWithinDays: -1 }, 10], [{ dueWithinDays: 366 }, 10], [{ overdue: true, dueWithinDays: 7 }, 10], [{ status: 'COMPLETED', overdue: true }, 10], [{}, 0], [{}, 101]] as const) {
      expectCode(await call(server, LIST, { f, first }), 'BAD_USER_INPUT');
    }
    expectCode(await call(server, LIST, { after: 'not-a-cursor' }), 'BAD_USER_INPUT');
  });

  it('another tenant sees none of it: NOT_FOUND for every operation, empty listings', async () => {
    const other = await signUp(server, 'Other requests');
    const subject = await mustCreateSubject(server, owner, { fullName: 'Mine' });
    const r = await newRequest(server, owner, { subjectId: subject.id });
    expectCode(await call(server, CREATE, { i: { subjectId: subject.id, type: 'ACCESS', receivedAt: daysAgo(1) } }, other), 'NOT_FOUND');
    expectCode(await call(server, START, { id: r.id }, other), 'NOT_FOUND');
    expectCode(await call(server, EXTEND, { id: r.id, r: 'complex' }, other), 'NOT_FOUND');
    expectCode(await call(server, COMPLETE, { id: r.id }, other), 'NOT_FOUND');
    expectCode(await call(server, REJECT, { id: r.id, r: 'no' }, other), 'NOT_FOUND');
    expect(expectOk(await call<ListResult>(server, LIST, {}, other)).dataSubjectRequests.totalCount).toBe(0);
    expect((await server.db.collection('data_subject_requests').findOne({ _id: r.id as never }))?.status).toBe('RECEIVED');
  });

  it('roles: ADMIN and OWNER only; API keys need ADMIN and the subject scopes', async () => {
    const user = await addMember(server, owner, 'USER');
    const manager = await addMember(server, owner, 'MANAGER');
    const admin = await addMember(server, owner, 'ADMIN');
    const subject = await mustCreateSubject(server, owner, { fullName: 'Roles' });
    const r = await newRequest(server, owner, { subjectId: subject.id });
    for (const who of [user, manager]) {
      expectCode(await call(server, CREATE, { i: { subjectId: subject.id, type: 'ACCESS', receivedAt: daysAgo(1) } }, who), 'FORBIDDEN');
      expectCode(await call(server, LIST, {}, who), 'FORBIDDEN');
      expectCode(await call(server, START, { id: r.id }, who), 'FORBIDDEN');
      expectCode(await call(server, EXTEND, { id: r.id, r: 'complex' }, who), 'FORBIDDEN');
      expectCode(await call(server, COMPLETE, { id: r.id }, who), 'FORBIDDEN');
      expectCode(await call(server, REJECT, { id: r.id, r: 'no' }, who), 'FORBIDDEN');
    }
    expectCode(await server.gql(LIST, {}), 'UNAUTHENTICATED');
    const mine = await newRequest(server, admin, { subjectId: subject.id });
    expectOk(await call(server, LIST, {}, admin));
    expectOk(await call(server, START, { id: mine.id }, admin));
    expectOk(await call(server, EXTEND, { id: mine.id, r: 'complex', m: 1 }, admin));
    expectOk(await call(server, COMPLETE, { id: mine.id }, admin));
    expectOk(await call(server, REJECT, { id: r.id, r: 'withdrawn by the subject' }, owner));

    const key = async (role: string, scopes: string[]) =>
      expectOk(await call<{ createApiKey: { apiKey: string } }>(server, 'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey } }', { i: { name: 'dsr', role, prefixes: [], scopes } })).createApiKey.apiKey;
    const adminKey = await key('ADMIN', ['SUBJECTS_READ', 'SUBJECTS_WRITE']);
    const viaKey = await newRequest(server, adminKey, { subjectId: subject.id });
    expectOk(await call(server, START, { id: viaKey.id }, adminKey));
    expectOk(await call(server, LIST, {}, adminKey));
    const readKey = await key('ADMIN', ['SUBJECTS_READ']);
    expectOk(await call(server, LIST, {}, readKey));
    expectCode(await call(server, REJECT, { id: viaKey.id, r: 'no' }, readKey), 'FORBIDDEN');
    const managerKey = await key('MANAGER', ['SUBJECTS_READ', 'SUBJECTS_WRITE']);
    expectCode(await call(server, LIST, {}, managerKey), 'FORBIDDEN');
    expectCode(await call(server, START, { id: viaKey.id }, managerKey), 'FORBIDDEN');
  });
});

describe('data-subject requests: deadlines', () => {
  it('dueAt follows the GDPR month rule at month ends and in leap years', async () => {
    const subject = await mustCreateSubject(server, owner, { fullName: 'Deadlines' });
    const cases: [string, string][] = [
      ['2024-01-31T10:00:00.000Z', '2024-02-29T10:00:00.000Z'], // leap year
      ['2023-01-31T10:00:00.000Z', '2023-02-28T10:00:00.000Z'],
      ['2100-01-31T00:00:00.000Z', ''], // future: refused below
      ['2024-03-31T23:30:00.000Z', '2024-04-30T23:30:00.000Z'],
      ['2023-12-15T08:00:00.000Z', '2024-01-15T08:00:00.000Z'],
      ['2000-02-29T12:00:00.000Z', '2000-03-29T12:00:00.000Z'],
    ];
    for (const [receivedAt, due] of cases) {
      if (!due) continue;
      expect((await newRequest(server, owner, { subjectId: subject.id, receivedAt })).dueAt, receivedAt).toBe(due);
    }
  });

  it('extends once, by up to two further months counted from receipt, only before the original deadline (pinned clock)', async () => {
    const now = new Date('2024-02-10T09:00:00.000Z');
    const pinned = await startPrivacyServer({ privacy: { now: () => now } });
    try {
      const admin = await signUp(pinned, 'Pinned clock');
      const subject = await mustCreateSubject(pinned, admin, { fullName: 'Extended' });
      const r = await newRequest(pinned, admin, { subjectId: subject.id, type: 'PORTABILITY', receivedAt: '2024-01-31T10:00:00.000Z' });
      expect(r).toMatchObject({ dueAt: '2024-02-29T10:00:00.000Z', overdue: false });
      const extended = expectOk(await call<{ extendDataSubjectRequest: Req }>(pinned, EXTEND, { id: r.id, r: 'Several systems hold the data; export needs a migration' }, admin)).extendDataSubjectRequest;
      // 31 Jan + 1 + 2 months = 30 Apr (not 28 Feb + 2 months = 28 Apr).
      expect(extended).toMatchObject({ dueAt: '2024-04-30T10:00:00.000Z', originalDueAt: '2024-02-29T10:00:00.000Z', extension: { months: 2, reason: 'Several systems hold the data; export needs a migration', decidedAt: now.toISOString() } });
      const again = await call(pinned, EXTEND, { id: r.id, r: 'more time', m: 1 }, admin);
      expectCode(again, 'CONFLICT');
      expect(again.errors?.[0]?.extensions.reason).toBe('ALREADY_EXTENDED');

      const late = await newRequest(pinned, admin, { subjectId: subject.id, receivedAt: '2024-01-05T10:00:00.000Z' });
      expect(late).toMatchObject({ dueAt: '2024-02-05T10:00:00.000Z', overdue: true });
      const refused = await call(pinned, EXTEND, { id: late.id, r: 'too late' }, admin);
      expectCode(refused, 'CONFLICT');
      expect(refused.errors?.[0]?.extensions.reason).toBe('ORIGINAL_DEADLINE_PASSED');

      const one = await newRequest(pinned, admin, { subjectId: subject.id, receivedAt: '2024-01-30T00:00:00.000Z' });
      expect(expectOk(await call<{ extendDataSubjectRequest: Req }>(pinned, EXTEND, { id: one.id, r: 'complex', m: 1 }, admin)).extendDataSubjectRequest.dueAt).toBe('2024-03-30T00:00:00.000Z');

      // The extension (with its reason, shared with the subject) is in the subject's export.
      const exported = expectOk(await call<{ exportSubjectData: { document: { requests: { id: string; dueAt: string; extension: { reason: string } | null }[] } } }>(pinned, 'mutation($id: ID!) { exportSubjectData(subjectId: $id) { document } }', { id: subject.id }, admin)).exportSubjectData.document;
      expect(exported.requests.map((q) => q.id).sort()).toEqual([r.id, late.id, one.id].sort());
      expect(exported.requests.find((q) => q.id === r.id)).toMatchObject({ dueAt: '2024-04-30T10:00:00.000Z', extension: { reason: 'Several systems hold the data; export needs a migration' } });
    } finally {
      await pinned.db.dropDatabase().catch(() => {});
      await pinned.close();
    }
  });

  it('extends a current request by two months from receipt (real clock)', async () => {
    const subject = await mustCreateSubject(server, owner, { fullName: 'Now' });
    const receivedAt = daysAgo(3);
    const r = await newRequest(server, owner, { subjectId: subject.id, receivedAt });
    const extended = expectOk(await call<{ extendDataSubjectRequest: Req }>(server, EXTEND, { id: r.id, r: 'complex request' })).extendDataSubjectRequest;
    expect(extended.dueAt).toBe(addGdprMonths(new Date(receivedAt), 3).toISOString());
  });

  it('lists overdue and due-within-7-days requests from index ranges, earliest deadline first, paged', async () => {
    const tenant = await signUp(server, 'Listing');
    const subject = await mustCreateSubject(server, tenant, { fullName: 'Listing' });
    // Due dates: ~10 days ago (overdue), ~5 days ahead (due soon), ~30 days ahead (neither), and a closed overdue one.
    const overdue = await newRequest(server, tenant, { subjectId: subject.id, receivedAt: daysAgo(40) });
    const soon = await newRequest(server, tenant, { subjectId: subject.id, receivedAt: daysAgo(25), type: 'ERASURE' });
    const later = await newRequest(server, tenant, { subjectId: subject.id, receivedAt: daysAgo(0.01), type: 'OBJECTION' });
    const closed = await newRequest(server, tenant, { subjectId: subject.id, receivedAt: daysAgo(45) });
    expectOk(await call(server, REJECT, { id: closed.id, r: 'unfounded' }, tenant));
    const list = async (f: Record<string, unknown>, first?: number, after?: string) => expectOk(await call<ListResult>(server, LIST, { f, first, after }, tenant)).dataSubjectRequests;

    const od = await list({ overdue: true });
    expect(od.edges.map((e) => e.node.id)).toEqual([overdue.id]);
    expect(od.edges[0]?.node.overdue).toBe(true);
    expect(od.totalCount).toBe(1);
    expect((await list({ dueWithinDays: 7 })).edges.map((e) => e.node.id)).toEqual([soon.id]);
    expect((await list({ dueWithinDays: 7, type: 'ACCESS' })).edges).toEqual([]);
    expect((await list({ overdue: false })).edges.map((e) => e.node.id)).toEqual([soon.id, later.id]);
    expect((await list({ status: 'REJECTED' })).edges.map((e) => e.node.id)).toEqual([closed.id]);
    // All, earliest deadline first, one per page.
    const seen: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await list({}, 1, after);
      expect(page.totalCount).toBe(4);
      seen.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor!;
    }
    expect(seen).toEqual([closed.id, overdue.id, soon.id, later.id]);
    // The deadline filters seek the tenantId+status+dueAt index.
    const indexes = await server.db.collection('data_subject_requests').indexes();
    expect(indexes.some((ix) => JSON.stringify(ix.key) === JSON.stringify({ tenantId: 1, status: 1, dueAt: 1 }))).toBe(true);
  });
});

describe('data-subject requests: completion', () => {
  it('ACCESS completion returns the export (which lists the request), records it as produced and stores no file', async () => {
    const subject = await mustCreateSubject(server, owner, { email: 'access.me@example.org', fullName: 'Access Me' });
    const r = await newRequest(server, owner, { subjectId: subject.id, type: 'ACCESS' });
    expectOk(await call(server, START, { id: r.id }));
    const collectionsBefore = (await server.db.listCollections().toArray()).map((c) => c.name).sort();
    const done = expectOk(await call<{ completeDataSubjectRequest: Completion }>(server, COMPLETE, { id: r.id })).completeDataSubjectRequest;
    expect(done.export?.format).toBe('coffer.subject-export');
    expect(done.export?.fileName).toMatch(new RegExp(`^coffer-subject-export-${subject.id}-`));
    expect(done.export?.document.subject).toMatchObject({ id: subject.id, email: 'access.me@example.org' });
    expect(done.export?.document.requests.map((q) => q.id)).toContain(r.id);
    expect(done.request.status).toBe('COMPLETED');
    expect(done.request.exportProducedAt).not.toBeNull();
    expect((await server.db.listCollections().toArray()).map((c) => c.name).sort()).toEqual(collectionsBefore);
    const stored = await server.db.collection('data_subject_requests').findOne({ _id: r.id as never });
    expect(JSON.stringify(stored)).not.toContain('access.me');
    const completed = await server.db.collection('audit_events').findOne({ action: 'dsr.completed', 'resource.id': r.id });
    expect(completed?.details).toEqual({ subjectId: subject.id, type: 'ACCESS', exportProduced: true });
  });

  it('ERASURE completion erases the subject and references a receipt that verifies and names the request; the request still lists', async () => {
    const subject = await mustCreateSubject(server, owner, { email: 'erase.me@example.org', fullName: 'Erase Me' });
    const r = await newRequest(server, owner, { subjectId: subject.id, type: 'ERASURE', notes: 'Wants everything gone after account closure' });
    const access = await newRequest(server, owner, { subjectId: subject.id, type: 'ACCESS' });
    expectOk(await call(server, START, { id: r.id }));
    const done = expectOk(await call<{ completeDataSubjectRequest: Completion }>(server, COMPLETE, { id: r.id })).completeDataSubjectRequest;
    expect(done.erasure).toMatchObject({ subjectId: subject.id, state: 'DONE' });
    expect(done.request.erasureReceipt).toBe(done.erasure?.receipt);
    const jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(done.request.erasureReceipt!, jwks, { typ: 'coffer-erasure-receipt+jwt', algorithms: ['EdDSA'] });
    expect(payload).toMatchObject({ tombstoneId: subject.id, requestId: r.id, reasonCode: 'TENANT_DECISION' });
    expectCode(await readSubject(server, owner.accessToken, subject.id), 'NOT_FOUND');

    // Still listed by the tombstone id; its notes are shredded with the subject key.
    const listed = expectOk(await call<ListResult>(server, LIST, { f: { status: 'COMPLETED', type: 'ERASURE' } })).dataSubjectRequests.edges.map((e) => e.node);
    expect(listed.find((n) => n.id === r.id)).toMatchObject({ subjectId: subject.id, notes: null, erasureReceipt: done.erasure?.receipt });
    // An open ACCESS request about the erased subject cannot be completed: it is rejected instead.
    expectOk(await call(server, START, { id: access.id }));
    const conflict = await call(server, COMPLETE, { id: access.id });
    expectCode(conflict, 'CONFLICT');
    expect(conflict.errors?.[0]?.extensions.reason).toBe('SUBJECT_ERASED');
    expect(expectOk(await call<{ rejectDataSubjectRequest: Req }>(server, REJECT, { id: access.id, r: 'subject erased' })).rejectDataSubjectRequest).toMatchObject({ status: 'REJECTED', rejectionReason: null });
    // No new request can be made about it.
    expectCode(await call(server, CREATE, { i: { subjectId: subject.id, type: 'ACCESS', receivedAt: daysAgo(1) } }), 'NOT_FOUND');
  });
});

describe('data-subject requests: hygiene', () => {
  it('the audit catalogue records the request vocabularies as dsr-state.ts declares them', () => {
    expect(AUDIT_CATALOGUE['dsr.created'].details.type.values).toEqual([...DSR_TYPES]);
    expect(AUDIT_CATALOGUE['dsr.rejected'].details.from.values).toEqual([...DSR_STATUSES]);
  });

  it('notes and reasons never appear in clear in any collection, log line, audit entry or error; reading notes is logged', async () => {
    const secrets = ['Called from a payphone in Leeds', 'Lawyer letter pending, reference Q-778', 'Suspected impersonation by ex-partner'];
    const subject = await mustCreateSubject(server, owner, { fullName: 'Hygiene Subject' });
    const r = await newRequest(server, owner, { subjectId: subject.id, type: 'ERASURE', notes: secrets[0] });
    expectOk(await call(server, EXTEND, { id: r.id, r: secrets[1] }));
    const other = await newRequest(server, owner, { subjectId: subject.id, type: 'ACCESS' });
    expectOk(await call(server, REJECT, { id: other.id, r: secrets[2] }));
    const errors = [JSON.stringify(await call(server, CREATE, { i: { subjectId: subject.id, type: 'ACCESS', receivedAt: '1990-01-01T00:00:00Z', notes: secrets[0] } }))];
    errors.push(JSON.stringify(await call(server, EXTEND, { id: r.id, r: secrets[1] })));
    errors.push(JSON.stringify(await call(server, REJECT, { id: r.id, r: `${secrets[2]} ${'x'.repeat(2001)}` })));
    const listed = expectOk(await call<ListResult>(server, LIST, { f: { type: 'ERASURE', status: 'RECEIVED' } })).dataSubjectRequests.edges.map((e) => e.node).find((n) => n.id === r.id);
    expect(listed).toMatchObject({ notes: secrets[0], extension: { reason: secrets[1] } });
    const log = await server.db.collection('data_access_log').find({ subjectId: subject.id, fields: 'requestNotes' }).toArray();
    expect(log.length).toBeGreaterThan(0);
    // Without selecting text, nothing is decrypted nor logged.
    const count = log.length;
    expectOk(await call(server, `query { dataSubjectRequests(filter: { type: ERASURE }) { edges { node { id status } } } }`, {}));
    expect(await server.db.collection('data_access_log').countDocuments({ subjectId: subject.id, fields: 'requestNotes' })).toBe(count);

    const haystacks = { database: await dumpDatabase(server), logs: server.logs.join(''), errors: errors.join('\n') };
    for (const error of errors) expect(error).toContain('"errors"');
    for (const [where, text] of Object.entries(haystacks)) {
      for (const value of secrets) expect(text.includes(value), `${where} contains ${value}`).toBe(false);
      expect(text.includes('payphone'), where).toBe(false);
    }
  });
});
