import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, expectCode, expectOk, signUp, type Signed } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { auditActions } from '../support/vault.js';
import { createSubject, findSubjects, mustCreateSubject, readSubject } from './support.js';

let server: TestServer;
let owner: Signed;
beforeAll(async () => {
  server = await startServer();
  owner = await signUp(server, 'Subjects');
});
afterAll(async () => server?.close());

const person = (tag: string) => ({
  externalId: `cust-${tag}`,
  email: `Ada.${tag}@Example.com`,
  phone: '+44 20 7946 0958',
  fullName: `Ada Lovelace ${tag}`,
  attributes: { city: `London-${tag}`, tags: ['vip'] },
  identities: [{ label: 'device_id', value: `dev-${tag}` }],
});

describe('data subjects', () => {
  it('creates a subject, normalising contact points, and reads it back with a purpose', async () => {
    const created = await mustCreateSubject(server, owner, person('a1'));
    expect(created.email).toBe('ada.a1@example.com');
    expect(created.phone).toBe('+442079460958');
    const read = expectOk(await readSubject(server, owner.accessToken, created.id)).dataSubject;
    expect(read).toMatchObject({ externalId: 'cust-a1', email: 'ada.a1@example.com', fullName: 'Ada Lovelace a1', attributes: { city: 'London-a1', tags: ['vip'] }, identities: [{ label: 'device_id', value: 'dev-a1' }] });
    const raw = await server.db.collection('data_subjects').findOne({ _id: created.id as never });
    expect(JSON.stringify(raw)).not.toContain('a1@example.com');
    expect(JSON.stringify(raw)).not.toContain('Lovelace');
  });

  it('finds subjects by email, phone, external id and identity through blind indexes', async () => {
    const created = await mustCreateSubject(server, owner, { ...person('b2'), phone: '+33 1 42 68 53 00' });
    for (const filter of [{ email: ' ADA.b2@example.COM ' }, { phone: '+33142685300' }, { externalId: 'cust-b2' }, { identity: { label: 'device_id', value: 'dev-b2' } }]) {
      const edges = expectOk(await findSubjects(server, owner.accessToken, filter)).dataSubjects.edges;
      expect(edges.map((e) => e.node.id), JSON.stringify(filter)).toEqual([created.id]);
    }
    expect(expectOk(await findSubjects(server, owner.accessToken, { email: 'nobody@example.com' })).dataSubjects.edges).toEqual([]);
  });

  it('counts the matches only when the query asks for totalCount (a count is another scan on some engines)', async () => {
    const created = await mustCreateSubject(server, owner, person('tc9'));
    const countsDuring = async (query: string) => {
      const before = server.commands.length;
      const res = expectOk(await server.gql<{ dataSubjects: { edges: { node: { id: string } }[]; totalCount?: number } }>(query, { f: { email: 'ada.tc9@example.com' } }, owner.accessToken));
      return { res, counts: server.commands.slice(before).filter((c) => c === 'aggregate:data_subjects' || c === 'count:data_subjects').length };
    };
    const without = await countsDuring('query($f: DataSubjectFilter) { dataSubjects(purpose: "support", filter: $f) { edges { node { id } } } }');
    expect(without.res.dataSubjects.edges.map((e) => e.node.id)).toEqual([created.id]);
    expect(without.counts).toBe(0);
    const withTotal = await countsDuring('query($f: DataSubjectFilter) { dataSubjects(purpose: "support", filter: $f) { totalCount edges { node { id } } } }');
    expect(withTotal.res.dataSubjects.totalCount).toBe(1);
    expect(withTotal.counts).toBe(1);
  });

  it('keeps the same email in two tenants apart (different blind-index values, no cross-tenant reads)', async () => {
    const other = await signUp(server, 'Other tenant');
    const mine = await mustCreateSubject(server, owner, { email: 'shared@example.org' });
    const theirs = await mustCreateSubject(server, other, { email: 'shared@example.org' });
    const docs = await server.db.collection('data_subjects').find({ _id: { $in: [mine.id, theirs.id] } as never }).toArray();
    const lookups = docs.map((d) => (d.lookup as string[]).find((l) => l.startsWith('email:')));
    expect(lookups[0]).toBeDefined();
    expect(lookups[0]).not.toBe(lookups[1]);
    expect(expectOk(await findSubjects(server, owner.accessToken, { email: 'shared@example.org' })).dataSubjects.edges.map((e) => e.node.id)).toEqual([mine.id]);
    expectCode(await readSubject(server, other.accessToken, mine.id), 'NOT_FOUND');
    expectCode(await server.gql('mutation($id: ID!) { restrictProcessing(subjectId: $id, reason: "x") { restricted } }', { id: mine.id }, other.accessToken), 'NOT_FOUND');
    expectCode(await server.gql('mutation($id: ID!) { exportSubjectData(subjectId: $id) { fileName } }', { id: mine.id }, other.accessToken), 'NOT_FOUND');
    expectCode(await server.gql('mutation($id: ID!) { eraseSubject(subjectId: $id, reason: TENANT_DECISION) { state } }', { id: mine.id }, other.accessToken), 'NOT_FOUND');
    expectCode(await server.gql('mutation($i: UpdateDataSubjectInput!) { updateDataSubject(input: $i) { id } }', { i: { id: mine.id, fullName: 'X' } }, other.accessToken), 'NOT_FOUND');
  });

  it('refuses bad input with a code naming the field, writing nothing', async () => {
    const before = await server.db.collection('data_subjects').countDocuments();
    const keysBefore = await server.db.collection('subject_keys').countDocuments();
    const cases: [Record<string, unknown>, string][] = [
      [{ email: 'not-an-email' }, 'input.email'],
      [{ phone: '12345' }, 'input.phone'],
      [{ attributes: { blob: 'x'.repeat(17 * 1024) } }, 'input.attributes'],
      [{ attributes: { a: { b: { c: { d: { e: { f: 1 } } } } } } }, 'input.attributes'],
      [{ identities: [{ label: 'Bad Label', value: 'v' }] }, 'identities[0].label'],
      [{ fullName: '   ' }, 'input.fullName'],
    ];
    for (const [input, field] of cases) {
      const res = await createSubject(server, owner.accessToken, input);
      expectCode(res, 'BAD_USER_INPUT');
      expect(res.errors![0]!.message).toContain(field);
    }
    expect(await server.db.collection('data_subjects').countDocuments()).toBe(before);
    expect(await server.db.collection('subject_keys').countDocuments()).toBe(keysBefore);
    expectCode(await readSubject(server, owner.accessToken, 'ds_000000000000000000000000'), 'NOT_FOUND');
    expectCode(await readSubject(server, owner.accessToken, 'nonsense'), 'NOT_FOUND');
    const created = await mustCreateSubject(server, owner, { fullName: 'Purpose Test' });
    expectCode(await readSubject(server, owner.accessToken, created.id, 'Not A Purpose!'), 'BAD_USER_INPUT');
    expectCode(await createSubject(server, owner.accessToken, { externalId: 'cust-a1' }), 'CONFLICT');
  });

  it('rectifies: audited with the names of the fields changed, never their values', async () => {
    const created = await mustCreateSubject(server, owner, person('c3'));
    const res = expectOk(
      await server.gql<{ updateDataSubject: { changedFields: string[] } }>(
        'mutation($i: UpdateDataSubjectInput!) { updateDataSubject(input: $i) { id changedFields revision } }',
        { i: { id: created.id, email: 'new.c3@example.com', fullName: 'Ada King c3' } },
        owner.accessToken,
      ),
    );
    expect(res.updateDataSubject.changedFields).toEqual(['email', 'fullName']);
    expect(expectOk(await findSubjects(server, owner.accessToken, { email: 'ada.c3@example.com' })).dataSubjects.edges).toEqual([]);
    const found = expectOk(await findSubjects(server, owner.accessToken, { email: 'new.c3@example.com' })).dataSubjects.edges;
    expect(found.map((e) => e.node.fullName)).toEqual(['Ada King c3']);
    const event = await server.db.collection('audit_events').findOne({ action: 'subject.updated', 'resource.id': created.id });
    expect(event?.details).toEqual({ fields: ['email', 'fullName'] });
    expect(JSON.stringify(event)).not.toContain('c3@example.com');
  });

  it('logs every read with who, when, which fields, purpose, ip and user agent', async () => {
    const created = await mustCreateSubject(server, owner, person('d4'));
    expectOk(await readSubject(server, owner.accessToken, created.id, 'billing', 'id email fullName'));
    const log = expectOk(
      await server.gql<{ dataAccessLog: { edges: { node: Record<string, unknown> }[] } }>(
        'query($id: ID!) { dataAccessLog(subjectId: $id) { edges { node { at actorType actorId action fields purpose ip userAgent requestId } } } }',
        { id: created.id },
        owner.accessToken,
      ),
    ).dataAccessLog.edges.map((e) => e.node);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ actorType: 'USER', actorId: owner.userId, action: 'READ', fields: ['email', 'fullName'], purpose: 'billing' });
    expect(log[0]!.ip).toBeTruthy();
    expect(log[0]!.userAgent).toBeTruthy();
    const actions = await auditActions(server, owner.tenantId);
    expect(actions).toContain('subject.read');
    expect(actions).toContain('subject.created');
  });

  it('restriction refuses ordinary reads and updates (FORBIDDEN, reason RESTRICTED); export still works; lifting restores', async () => {
    const created = await mustCreateSubject(server, owner, person('e5'));
    const restricted = expectOk(await server.gql<{ restrictProcessing: { restricted: boolean } }>('mutation($id: ID!) { restrictProcessing(subjectId: $id, reason: "disputes accuracy") { subjectId restricted since } }', { id: created.id }, owner.accessToken));
    expect(restricted.restrictProcessing.restricted).toBe(true);
    const refused = await readSubject(server, owner.accessToken, created.id);
    expectCode(refused, 'FORBIDDEN');
    expect(refused.errors![0]!.extensions.reason).toBe('RESTRICTED');
    const update = await server.gql('mutation($i: UpdateDataSubjectInput!) { updateDataSubject(input: $i) { id } }', { i: { id: created.id, fullName: 'X' } }, owner.accessToken);
    expect(update.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'RESTRICTED' });
    expectOk(await readSubject(server, owner.accessToken, created.id, 'legal_claims'));
    const listed = expectOk(await findSubjects(server, owner.accessToken, { externalId: 'cust-e5' })).dataSubjects.edges;
    expect(listed[0]!.node).toMatchObject({ id: created.id, restricted: true, email: null });
    const exported = expectOk(await server.gql<{ exportSubjectData: { document: { restriction: unknown } } }>('mutation($id: ID!) { exportSubjectData(subjectId: $id) { document } }', { id: created.id }, owner.accessToken));
    expect(exported.exportSubjectData.document.restriction).toMatchObject({ restricted: true, reason: 'disputes accuracy' });
    expectOk(await server.gql('mutation($id: ID!) { liftRestriction(subjectId: $id) { restricted } }', { id: created.id }, owner.accessToken));
    expectOk(await readSubject(server, owner.accessToken, created.id));
    const actions = await auditActions(server, owner.tenantId);
    expect(actions).toEqual(expect.arrayContaining(['subject.restricted', 'subject.restriction_lifted', 'subject.exported']));
    const events = await server.db.collection('audit_events').find({ tenantId: owner.tenantId }).toArray();
    expect(JSON.stringify(events)).not.toContain('disputes accuracy');
  });

  it('exports the versioned document: profile, identities, restriction, access log, empty requests/consent/opt-outs', async () => {
    const created = await mustCreateSubject(server, owner, person('f6'));
    expectOk(await readSubject(server, owner.accessToken, created.id, 'support'));
    const res = expectOk(
      await server.gql<{ exportSubjectData: { format: string; version: number; fileName: string; document: Record<string, any> } }>(
        'mutation($id: ID!) { exportSubjectData(subjectId: $id) { format version fileName document } }',
        { id: created.id },
        owner.accessToken,
      ),
    ).exportSubjectData;
    expect(res.format).toBe('coffer.subject-export');
    expect(res.version).toBe(1);
    expect(res.fileName).toMatch(new RegExp(`^coffer-subject-export-${created.id}-`));
    const doc = res.document;
    expect(doc.tenant).toEqual({ id: owner.tenantId, name: 'Subjects' });
    expect(doc.subject).toMatchObject({ id: created.id, email: 'ada.f6@example.com', phone: '+442079460958', displayName: 'Ada Lovelace f6', attributes: { city: 'London-f6', tags: ['vip'] } });
    expect(doc.subject.identities).toEqual([{ label: 'device_id', value: 'dev-f6' }, { label: 'external_id', value: 'cust-f6' }]);
    expect(doc.restriction).toEqual({ restricted: false, since: null, reason: null });
    expect(doc.accessLog.map((e: { action: string; purpose: string }) => `${e.action}:${e.purpose}`)).toEqual(expect.arrayContaining(['READ:support', 'EXPORT:subject_export']));
    expect(doc.requests).toEqual([]);
    expect(doc.consent).toEqual([]);
    expect(doc.optOuts).toEqual([]);
  });
});

describe('who may do what', () => {
  it('USER reads no personal data; MANAGER manages subjects; export, erasure and restriction need ADMIN', async () => {
    const user = await addMember(server, owner, 'USER');
    const manager = await addMember(server, owner, 'MANAGER');
    const admin = await addMember(server, owner, 'ADMIN');
    const created = await mustCreateSubject(server, manager, person('g7'));
    expectCode(await readSubject(server, user.accessToken, created.id), 'FORBIDDEN');
    expectCode(await createSubject(server, user.accessToken, { fullName: 'x' }), 'FORBIDDEN');
    expectCode(await findSubjects(server, user.accessToken, {}), 'FORBIDDEN');
    expectOk(await readSubject(server, manager.accessToken, created.id));
    const adminOps = [
      ['mutation($id: ID!) { exportSubjectData(subjectId: $id) { fileName } }', {}],
      ['mutation($id: ID!) { restrictProcessing(subjectId: $id, reason: "r") { restricted } }', {}],
      ['mutation($id: ID!) { eraseSubject(subjectId: $id, reason: TENANT_DECISION) { state } }', {}],
      ['query($id: ID!) { erasureReceipt(subjectId: $id) { state } }', {}],
    ] as const;
    for (const [query] of adminOps) expectCode(await server.gql(query, { id: created.id }, manager.accessToken), 'FORBIDDEN');
    expectOk(await server.gql(adminOps[0][0], { id: created.id }, admin.accessToken));
    expectOk(await server.gql(adminOps[1][0], { id: created.id }, admin.accessToken));
    expectCode(await readSubject(server, 'not-a-token', created.id), 'UNAUTHENTICATED');
    expectCode(await server.gql('query($id: ID!) { dataSubject(id: $id, purpose: "support") { id } }', { id: created.id }), 'UNAUTHENTICATED');
  });

  it('API keys get explicit scopes: subject keys reach subjects, not secrets; keys without scopes keep secret access only', async () => {
    const createKey = async (scopes: string[] | null, role = 'MANAGER', prefixes = ['*']) =>
      expectOk(
        await server.gql<{ createApiKey: { apiKey: string; key: { scopes: string[] } } }>(
          'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey key { scopes } } }',
          { i: { name: 'k', role, prefixes, ...(scopes ? { scopes } : {}) } },
          owner.accessToken,
        ),
      ).createApiKey;
    const subjectsKey = await createKey(['SUBJECTS_READ', 'SUBJECTS_WRITE'], 'MANAGER', []);
    expect(subjectsKey.key.scopes).toEqual(['SUBJECTS_READ', 'SUBJECTS_WRITE']);
    const created = await mustCreateSubject(server, subjectsKey.apiKey, person('h8'));
    expectOk(await readSubject(server, subjectsKey.apiKey, created.id));
    expectCode(await server.gql('{ secrets { totalCount } }', {}, subjectsKey.apiKey), 'FORBIDDEN');
    expectCode(await server.gql('mutation($id: ID!) { eraseSubject(subjectId: $id, reason: TENANT_DECISION) { state } }', { id: created.id }, subjectsKey.apiKey), 'FORBIDDEN');

    const readOnly = await createKey(['SUBJECTS_READ'], 'MANAGER', []);
    expectOk(await readSubject(server, readOnly.apiKey, created.id));
    expectCode(await createSubject(server, readOnly.apiKey, { fullName: 'x' }), 'FORBIDDEN');

    const legacy = await createKey(null);
    expect(legacy.key.scopes).toEqual(['SECRETS_READ', 'SECRETS_WRITE']);
    expectOk(await server.gql('{ secrets { totalCount } }', {}, legacy.apiKey));
    expectCode(await readSubject(server, legacy.apiKey, created.id), 'FORBIDDEN');
    // A key stored before scopes existed keeps its secret access.
    const id = legacy.apiKey.slice(4, 20);
    await server.db.collection('api_keys').updateOne({ _id: id as never }, { $unset: { scopes: '' } });
    const fresh = await createKey(null);
    await server.db.collection('api_keys').updateOne({ _id: fresh.apiKey.slice(4, 20) as never }, { $unset: { scopes: '' } });
    expectOk(await server.gql('{ secrets { totalCount } }', {}, fresh.apiKey));
    expectCode(await readSubject(server, fresh.apiKey, created.id), 'FORBIDDEN');

    const adminKey = await createKey(['SUBJECTS_READ', 'SUBJECTS_WRITE'], 'ADMIN', []);
    expectOk(await server.gql('mutation($id: ID!) { exportSubjectData(subjectId: $id) { fileName } }', { id: created.id }, adminKey.apiKey));
    const log = await server.db.collection('data_access_log').find({ subjectId: created.id }).toArray();
    expect(log.some((e) => e.actor.type === 'API_KEY')).toBe(true);
  });
});
