import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyConsentReceipt } from '../../src/modules/consent/consent-receipt.js';
import { addMember, expectCode, expectOk, signUp, type Signed } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { auditActions, expectNoPlaintext } from '../support/vault.js';
import { dumpDatabase, mustCreateSubject } from '../privacy/support.js';
import { canContact, mustPurpose, mustRecord, optOut, reasons, recordConsent, status, verifyLedger } from './support.js';

let server: TestServer;
let owner: Signed;
let jwks: JSONWebKeySet;
beforeAll(async () => {
  server = await startServer({ UNSUBSCRIBE_BASE_URL: 'https://coffer.example.test' });
  owner = await signUp(server, 'Consent Co');
  jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
});
afterAll(async () => {
  await server?.close();
});

const person = (tag: string) => ({ email: `ada.${tag}@example.org`, phone: '+44 20 7946 0958', fullName: `Ada Lovelace ${tag}` });
const PROOF = { ip: '203.0.113.77', userAgent: 'Mozilla/5.0 ProofAgent/9.9', capturedAt: '2025-01-02T03:04:05.000Z', evidence: 'signup-form-v7-checkbox-ticked' };

describe('purposes and notices', () => {
  it('creates, publishes a new notice version on text change only, retires (never deletes), lists, and gives the Art. 30 basis', async () => {
    const p = await mustPurpose(server, owner, 'newsletter', { honoursGpc: true });
    expect(p.noticeVersion).toBe(1);
    expect(p.noticeSha256).toMatch(/^[0-9a-f]{64}$/);
    expectCode(await server.gql('mutation { createConsentPurpose(input: { key: "newsletter", name: "x", description: "y", legalBasis: CONSENT, noticeText: "z" }) { id } }', {}, owner.accessToken), 'CONFLICT');
    const update = 'mutation($i: UpdateConsentPurposeInput!) { updateConsentPurpose(input: $i) { noticeVersion noticeSha256 notices { version sha256 text } name } }';
    const same = expectOk(await server.gql<{ updateConsentPurpose: { noticeVersion: number } }>(update, { i: { key: 'newsletter', noticeText: 'We use your contact details for newsletter. v1' } }, owner.accessToken));
    expect(same.updateConsentPurpose.noticeVersion).toBe(1);
    const changed = expectOk(await server.gql<{ updateConsentPurpose: { noticeVersion: number; notices: { version: number; sha256: string }[] } }>(update, { i: { key: 'newsletter', name: 'News', noticeText: 'Newsletter notice v2' } }, owner.accessToken));
    expect(changed.updateConsentPurpose.noticeVersion).toBe(2);
    expect(changed.updateConsentPurpose.notices.map((n) => n.version)).toEqual([1, 2]);
    expect(changed.updateConsentPurpose.notices[0]!.sha256).toBe(p.noticeSha256);

    await mustPurpose(server, owner, 'old-offers');
    const retired = expectOk(await server.gql<{ retireConsentPurpose: { retired: boolean } }>('mutation { retireConsentPurpose(key: "old-offers") { retired } }', {}, owner.accessToken));
    expect(retired.retireConsentPurpose.retired).toBe(true);
    const listed = expectOk(await server.gql<{ consentPurposes: { key: string }[] }>('{ consentPurposes { key } }', {}, owner.accessToken)).consentPurposes.map((x) => x.key);
    expect(listed).toContain('newsletter');
    expect(listed).not.toContain('old-offers');
    const all = expectOk(await server.gql<{ consentPurposes: { key: string }[] }>('{ consentPurposes(includeRetired: true) { key } }', {}, owner.accessToken)).consentPurposes.map((x) => x.key);
    expect(all).toContain('old-offers');
    expect(Object.keys((await server.db.listCollections({ name: 'consent_purposes' }).toArray())[0] ?? {})).toContain('name');

    const ropa = expectOk(await server.gql<{ recordsOfProcessing: { purpose: { key: string }; legalBasis: string; personalData: string[]; retention: string | null; retentionNote: string }[] }>(
      '{ recordsOfProcessing { purpose { key } legalBasis personalData retention retentionNote } }', {}, owner.accessToken)).recordsOfProcessing;
    const entry = ropa.find((r) => r.purpose.key === 'newsletter')!;
    expect(entry.legalBasis).toBe('CONSENT');
    expect(entry.personalData).toEqual(expect.arrayContaining(['email', 'phone', 'fullName', 'consentProof']));
    expect(entry.retention).toBe('data subjects: kept; data-access log: kept; closed requests: kept');
    expect(entry.retentionNote).toMatch(/retention policy/i);
    // Bad input: clear errors naming the field.
    const bad = await server.gql('mutation { createConsentPurpose(input: { key: "Bad Key!", name: "x", description: "y", legalBasis: CONSENT, noticeText: "z" }) { id } }', {}, owner.accessToken);
    expectCode(bad, 'BAD_USER_INPUT');
    expect(bad.errors![0]!.message).toMatch(/^input\.key:/);
  });
});

describe('the consent ledger', () => {
  it('appends records (withdrawal too), shows status with renewal after a notice change, history newest first, and offers no way to change a record', async () => {
    const purpose = await mustPurpose(server, owner, 'product-updates');
    const subject = await mustCreateSubject(server, owner, person('l1'));
    const granted = await mustRecord(server, owner, { subjectId: subject.id, purpose: 'product-updates', proof: PROOF });
    expect(granted).toMatchObject({ kind: 'CONSENT', granted: true, method: 'WEB_FORM', noticeVersion: 1, noticeSha256: purpose.noticeSha256, hasProof: true });
    expect((await status(server, owner, subject.id)).entries).toEqual([expect.objectContaining({ purpose: 'product-updates', channel: 'EMAIL', granted: true, needsRenewal: false })]);
    expect(await reasons(server, owner, subject.id, 'EMAIL', 'product-updates')).toEqual([]);
    expect(await reasons(server, owner, subject.id, 'SMS', 'product-updates')).toEqual(['NO_CONSENT']);

    expectOk(await server.gql('mutation($i: UpdateConsentPurposeInput!) { updateConsentPurpose(input: $i) { noticeVersion } }', { i: { key: 'product-updates', noticeText: 'Updates notice, second edition' } }, owner.accessToken));
    expect((await status(server, owner, subject.id)).entries[0]).toMatchObject({ granted: true, needsRenewal: true, noticeVersion: 1, currentNoticeVersion: 2 });
    expect(await reasons(server, owner, subject.id, 'EMAIL', 'product-updates')).toEqual(['NOTICE_OUTDATED']);
    await mustRecord(server, owner, { subjectId: subject.id, purpose: 'product-updates', noticeVersion: 2 });
    expect((await status(server, owner, subject.id)).entries[0]).toMatchObject({ needsRenewal: false, noticeVersion: 2 });

    const withdrawn = expectOk(await server.gql<{ withdrawConsent: { granted: boolean; kind: string } }>(
      'mutation($s: ID!) { withdrawConsent(subjectId: $s, purpose: "product-updates", channel: EMAIL) { granted kind } }', { s: subject.id }, owner.accessToken)).withdrawConsent;
    expect(withdrawn).toEqual({ granted: false, kind: 'CONSENT' });
    expect(await reasons(server, owner, subject.id, 'EMAIL', 'product-updates')).toEqual(['CONSENT_WITHDRAWN']);

    const history = expectOk(await server.gql<{ consentHistory: { totalCount: number; edges: { node: { seq: number; granted: boolean } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } }>(
      'query($s: ID!) { consentHistory(subjectId: $s, first: 2) { totalCount edges { node { seq granted } } pageInfo { hasNextPage endCursor } } }', { s: subject.id }, owner.accessToken)).consentHistory;
    expect(history.totalCount).toBe(3);
    expect(history.edges.map((e) => e.node.granted)).toEqual([false, true]);
    expect(history.edges[0]!.node.seq).toBeGreaterThan(history.edges[1]!.node.seq);
    const next = expectOk(await server.gql<{ consentHistory: { edges: { node: { granted: boolean } }[] } }>(
      'query($s: ID!, $a: String) { consentHistory(subjectId: $s, first: 2, after: $a) { edges { node { granted } } } }', { s: subject.id, a: history.pageInfo.endCursor }, owner.accessToken)).consentHistory;
    expect(next.edges).toHaveLength(1);

    // Immutability: the schema has no operation that updates or deletes a record.
    const schema = (await import('node:fs')).readFileSync('schema/schema.graphql', 'utf8');
    const mutations = schema.slice(schema.indexOf('type Mutation'));
    for (const forbiddenOp of ['updateConsent', 'deleteConsent', 'updateConsentRecord', 'deleteConsentRecord', 'deleteOptOut']) expect(mutations).not.toContain(`${forbiddenOp}(`);
    expect((await verifyLedger(server, owner)).valid).toBe(true);
  });

  it('refuses bad input with clear errors and writes nothing', async () => {
    const subject = await mustCreateSubject(server, owner, person('l2'));
    const before = await server.db.collection('consent_ledger').countDocuments({});
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ subjectId: subject.id, purpose: 'no-such-purpose' }, /^input\.purpose:/],
      [{ subjectId: subject.id, purpose: 'newsletter', noticeVersion: 9 }, /^input\.noticeVersion:/],
      [{ subjectId: subject.id, purpose: 'newsletter', proof: { ip: 'x'.repeat(65) } }, /^input\.proof\.ip:/],
      [{ subjectId: subject.id, purpose: 'old-offers' }, /retired/],
    ];
    for (const [input, message] of cases) {
      const res = await recordConsent(server, owner, { channel: 'EMAIL', granted: true, method: 'API', ...input });
      expect(res.errors?.[0]?.message, JSON.stringify(res.errors)).toMatch(message);
    }
    expectCode(await recordConsent(server, owner, { subjectId: 'ds_000000000000000000000000', purpose: 'newsletter', channel: 'EMAIL', granted: true, method: 'API' }), 'NOT_FOUND');
    expect(await server.db.collection('consent_ledger').countDocuments({})).toBe(before);
  });

  it('signs a receipt per record, verifiable with the served JWKS; an altered receipt is refused', async () => {
    const subject = await mustCreateSubject(server, owner, person('r1'));
    const record = await mustRecord(server, owner, { subjectId: subject.id, purpose: 'newsletter', proof: PROOF });
    const receipt = expectOk(await server.gql<{ consentReceipt: { id: string; jws: string; payload: Record<string, unknown> } }>(
      'query($id: ID!) { consentReceipt(id: $id) { id jws payload } }', { id: record.id }, owner.accessToken)).consentReceipt;
    expect(decodeProtectedHeader(receipt.jws).typ).toBe('coffer-consent-receipt+jwt');
    const verified = await verifyConsentReceipt(receipt.jws, jwks);
    expect(verified).toMatchObject({
      type: 'coffer.consent-receipt', schemaVersion: 1, receiptId: record.id, controller: { id: owner.tenantId, name: 'Consent Co' }, subject: { id: subject.id },
      purpose: { key: 'newsletter', legalBasis: 'CONSENT' }, notice: { version: 2, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }, method: 'WEB_FORM', state: 'GIVEN', channel: 'EMAIL',
    });
    expect(JSON.stringify(verified)).not.toContain('ada.r1');
    // Altered payload → refused; an erasure-receipt or access-token typ is not accepted as a consent receipt.
    const [h, p, s] = receipt.jws.split('.');
    const altered = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    altered.state = 'WITHDRAWN';
    await expect(verifyConsentReceipt(`${h}.${Buffer.from(JSON.stringify(altered)).toString('base64url')}.${s}`, jwks)).rejects.toThrow();
    await expect(jwtVerify(receipt.jws, createLocalJWKSet(jwks), { typ: 'coffer-erasure-receipt+jwt' })).rejects.toThrow();
    await expect(verifyConsentReceipt(owner.accessToken, jwks)).rejects.toThrow();
  });
});

describe('record of processing', () => {
  const ROPA = '{ recordsOfProcessing { purpose { key } retention retentionPeriods { subjectRetentionDays accessLogRetentionDays requestRetentionDays } } }';
  type Ropa = { recordsOfProcessing: { purpose: { key: string }; retention: string; retentionPeriods: Record<string, number | null> }[] };

  it('states the tenant\'s retention policy (null keeps), for every purpose, and follows changes to it', async () => {
    const admin = await signUp(server, 'Retention Co');
    await mustPurpose(server, admin, 'mail');
    await mustPurpose(server, admin, 'offers');
    const read = async () => expectOk(await server.gql<Ropa>(ROPA, {}, admin.accessToken)).recordsOfProcessing;

    for (const entry of await read()) expect(entry.retentionPeriods).toEqual({ subjectRetentionDays: null, accessLogRetentionDays: null, requestRetentionDays: null });

    expectOk(await server.gql('mutation { setRetentionPolicy(input: { subjectRetentionDays: 365, accessLogRetentionDays: 90 }) { subjectRetentionDays } }', {}, admin.accessToken));
    const set = await read();
    expect(set.map((r) => r.purpose.key).sort()).toEqual(['mail', 'offers']);
    for (const entry of set) {
      expect(entry.retentionPeriods).toEqual({ subjectRetentionDays: 365, accessLogRetentionDays: 90, requestRetentionDays: null });
      expect(entry.retention).toBe('data subjects: 365 days after their last change; data-access log: 90 days after recording; closed requests: kept');
    }

    // Another tenant's policy is its own.
    const other = expectOk(await server.gql<Ropa>(ROPA, {}, owner.accessToken)).recordsOfProcessing;
    expect(other[0]!.retentionPeriods.subjectRetentionDays).toBeNull();

    // A MANAGER may read the record of processing (the policy itself is ADMIN+).
    const manager = await addMember(server, admin, 'MANAGER');
    expect(expectOk(await server.gql<Ropa>(ROPA, {}, manager.accessToken)).recordsOfProcessing[0]!.retentionPeriods.accessLogRetentionDays).toBe(90);
  });
});

describe('tamper evidence', () => {
  async function freshTenant(name: string) {
    const admin = await signUp(server, name);
    await mustPurpose(server, admin, 'mail');
    const subject = await mustCreateSubject(server, admin, person(name));
    const records = [];
    for (let i = 0; i < 4; i += 1) records.push(await mustRecord(server, admin, { subjectId: subject.id, purpose: 'mail', granted: i % 2 === 0 }));
    expect((await verifyLedger(server, admin)).valid).toBe(true);
    return { admin, records, ledger: server.db.collection('consent_ledger') };
  }

  it('detects a raw edit', async () => {
    const { admin, records, ledger } = await freshTenant('edit');
    await ledger.updateOne({ _id: records[1]!.id as never }, { $set: { granted: true } });
    const result = await verifyLedger(server, admin);
    expect(result.valid).toBe(false);
    expect(result.findings).toEqual([{ seq: records[1]!.seq, recordId: records[1]!.id, problem: 'EDITED' }]);
  });

  it('detects a raw deletion, in the middle and at the end', async () => {
    const { admin, records, ledger } = await freshTenant('delete');
    await ledger.deleteOne({ _id: records[1]!.id as never });
    await ledger.deleteOne({ _id: records[3]!.id as never });
    const result = await verifyLedger(server, admin);
    expect(result.valid).toBe(false);
    expect(result.findings).toEqual([
      { seq: records[1]!.seq, recordId: null, problem: 'DELETED' },
      { seq: records[3]!.seq, recordId: null, problem: 'DELETED' },
    ]);
  });

  it('detects raw insertions (a forged record at the end, one squeezed between two)', async () => {
    const { admin, records, ledger } = await freshTenant('insert');
    const template = (await ledger.findOne({ _id: records[0]!.id as never }))!;
    await ledger.insertOne({ ...template, _id: 'cr_forged_end' as never, seq: records[3]!.seq + 1, prevHash: 'x'.repeat(64), hash: 'f'.repeat(64) });
    await ledger.insertOne({ ...template, _id: 'cr_forged_mid' as never, seq: records[1]!.seq + 0.5 });
    const result = await verifyLedger(server, admin);
    expect(result.valid).toBe(false);
    expect(result.findings.map((f) => [f.recordId, f.problem])).toEqual([
      ['cr_forged_mid', 'INSERTED'],
      ['cr_forged_end', 'INSERTED'],
    ]);
  });
});

describe('erasure shreds proofs, keeps the chain and the suppression list', () => {
  it('verifies after erasure, proofs unreadable, suppression holds for a new subject with the same email, receipt counts it', async () => {
    const subject = await mustCreateSubject(server, owner, { email: 'Grace.Suppressed@Example.org', fullName: 'Grace S' });
    await mustRecord(server, owner, { subjectId: subject.id, purpose: 'newsletter', proof: PROOF });
    expectOk(await optOut(server, owner, { s: subject.id, c: 'EMAIL', proof: PROOF }));
    expect(await reasons(server, owner, subject.id, 'EMAIL', 'newsletter')).toEqual(['OPTED_OUT', 'SUPPRESSED']);
    const exported = expectOk(await server.gql<{ exportSubjectData: { document: { consent: { receipt: string; purpose: string }[]; optOuts: { channel: string; receipt: string }[] } } }>(
      'mutation($id: ID!) { exportSubjectData(subjectId: $id) { document } }', { id: subject.id }, owner.accessToken)).exportSubjectData.document;
    expect(exported.consent).toEqual([expect.objectContaining({ purpose: 'newsletter', receipt: expect.any(String) })]);
    expect(exported.optOuts).toEqual([expect.objectContaining({ channel: 'EMAIL', optedOut: true })]);
    await verifyConsentReceipt(exported.optOuts[0]!.receipt, jwks);

    const erased = expectOk(await server.gql<{ eraseSubject: { receipt: string } }>('mutation($id: ID!) { eraseSubject(subjectId: $id, reason: CONSENT_WITHDRAWN) { receipt } }', { id: subject.id }, owner.accessToken)).eraseSubject;
    const claims = JSON.parse(Buffer.from(erased.receipt.split('.')[1]!, 'base64url').toString()) as { suppressionEntriesKept: number };
    expect(claims.suppressionEntriesKept).toBe(1);
    expect((await verifyLedger(server, owner)).valid).toBe(true);
    const stored = await server.db.collection('consent_ledger').find({ subjectId: subject.id }).toArray();
    expect(stored.length).toBe(2);
    expect(stored.every((r) => typeof r.proof === 'string')).toBe(true);
    expect(await server.db.collection('subject_keys').countDocuments({ subjectId: subject.id })).toBe(0); // the key that sealed them is gone
    const dump = await dumpDatabase(server);
    expectNoPlaintext(dump, ['203.0.113.77', 'ProofAgent/9.9', 'signup-form-v7', 'grace.suppressed@example.org', 'Grace.Suppressed'], 'database');
    expect(await server.db.collection('consent_suppressions').countDocuments({ tenantId: owner.tenantId, channel: 'EMAIL' })).toBeGreaterThanOrEqual(1);
    expect(await reasons(server, owner, subject.id, 'EMAIL', 'newsletter')).toEqual(['ERASED']);

    const again = await mustCreateSubject(server, owner, { email: 'grace.suppressed@example.org' });
    await mustRecord(server, owner, { subjectId: again.id, purpose: 'newsletter' });
    expect(await reasons(server, owner, again.id, 'EMAIL', 'newsletter')).toEqual(['SUPPRESSED']);
    expect(await reasons(server, owner, again.id, 'SMS', 'newsletter')).toEqual(['NO_CONSENT']);
    // Opting in again (with proof) lifts it.
    expectOk(await server.gql('mutation($s: ID!, $p: ConsentProofInput!) { optIn(subjectId: $s, channel: EMAIL, proof: $p) { id } }', { s: again.id, p: { evidence: 'phone call 12' } }, owner.accessToken));
    expect(await reasons(server, owner, again.id, 'EMAIL', 'newsletter')).toEqual([]);
  });
});

describe('Global Privacy Control', () => {
  it('overrides an earlier opt-in for purposes honouring GPC until a later affirmative grant; status shows the conflict', async () => {
    await mustPurpose(server, owner, 'ads', { honoursGpc: true, legalBasis: 'LEGITIMATE_INTERESTS' });
    const subject = await mustCreateSubject(server, owner, person('g1'));
    await mustRecord(server, owner, { subjectId: subject.id, purpose: 'newsletter' });
    await mustRecord(server, owner, { subjectId: subject.id, purpose: 'product-updates', noticeVersion: 2 });
    expect(await reasons(server, owner, subject.id, 'EMAIL', 'ads')).toEqual([]); // legitimate interests: no consent record needed
    expect(await reasons(server, owner, subject.id, 'EMAIL', 'newsletter', true)).toEqual(['GPC']);
    expect(await reasons(server, owner, subject.id, 'EMAIL', 'ads')).toEqual(['GPC']);
    expect(await reasons(server, owner, subject.id, 'EMAIL', 'product-updates')).toEqual([]); // does not honour GPC
    const s = await status(server, owner, subject.id);
    expect(s.gpcSignalled).toBe(true);
    expect(s.entries.find((e) => e.purpose === 'newsletter')).toMatchObject({ granted: false, recordedGranted: true, gpcOverride: true });
    // A grant that itself carries GPC is not affirmative; a later one without GPC is.
    await mustRecord(server, owner, { subjectId: subject.id, purpose: 'newsletter', gpc: true });
    expect(await reasons(server, owner, subject.id, 'EMAIL', 'newsletter')).toEqual(['GPC']);
    await mustRecord(server, owner, { subjectId: subject.id, purpose: 'newsletter' });
    expect(await reasons(server, owner, subject.id, 'EMAIL', 'newsletter')).toEqual([]);
    expect((await status(server, owner, subject.id)).entries.find((e) => e.purpose === 'newsletter')).toMatchObject({ granted: true, gpcOverride: false });
  });
});

describe('contact decisions', () => {
  it('reports RESTRICTED and purpose-scoped opt-outs, and counts opt-outs per channel and reason', async () => {
    const subject = await mustCreateSubject(server, owner, person('c1'));
    await mustRecord(server, owner, { subjectId: subject.id, purpose: 'newsletter', channel: 'SMS' });
    expectOk(await optOut(server, owner, { s: subject.id, c: 'SMS', p: 'product-updates', r: 'COMPLAINT', src: 'API' }));
    expect(await reasons(server, owner, subject.id, 'SMS', 'newsletter')).toEqual([]);
    expect(await reasons(server, owner, subject.id, 'SMS', 'product-updates')).toEqual(['OPTED_OUT', 'SUPPRESSED', 'NO_CONSENT']);
    expectOk(await server.gql('mutation($id: ID!) { restrictProcessing(subjectId: $id, reason: "disputed accuracy") { restricted } }', { id: subject.id }, owner.accessToken));
    expect(await reasons(server, owner, subject.id, 'SMS', 'newsletter')).toEqual(['RESTRICTED']);
    const stats = expectOk(await server.gql<{ optOutStatistics: { total: number; counts: { channel: string; reason: string; count: number }[] } }>(
      'query($f: DateTimeISO!, $t: DateTimeISO!) { optOutStatistics(from: $f, to: $t) { total counts { channel reason count } } }',
      { f: new Date(Date.now() - 3_600_000).toISOString(), t: new Date(Date.now() + 60_000).toISOString() }, owner.accessToken)).optOutStatistics;
    expect(stats.counts).toEqual(expect.arrayContaining([{ channel: 'SMS', reason: 'COMPLAINT', count: 1 }, { channel: 'EMAIL', reason: 'SUBJECT_REQUEST', count: 1 }]));
  });

  it('decides for 1,000 recipients in one call with a fixed number of database reads', async () => {
    const a = await mustCreateSubject(server, owner, { email: 'bulk.a@example.org' });
    await mustRecord(server, owner, { subjectId: a.id, purpose: 'newsletter' });
    const b = await mustCreateSubject(server, owner, { email: 'bulk.b@example.org' });
    expectOk(await optOut(server, owner, { s: b.id, c: 'EMAIL' }));
    const contacts: Record<string, string>[] = [{ subjectId: a.id }, { email: 'BULK.A@example.org' }, { email: 'bulk.b@example.org' }, { phone: '+1 202 555 0100' }];
    for (let i = contacts.length; i < 1000; i += 1) contacts.push({ email: `nobody${i}@example.net` });
    const before = server.commands.length;
    const decisions = expectOk(await server.gql<{ canContactMany: { subjectId: string | null; allowed: boolean; reasons: string[] }[] }>(
      'query($c: [ContactInput!]!) { canContactMany(contacts: $c, channel: EMAIL, purpose: "newsletter") { subjectId allowed reasons } }', { c: contacts }, owner.accessToken)).canContactMany;
    const reads = server.commands.slice(before).filter((c) => c.startsWith('find:') || c.startsWith('aggregate:'));
    expect(reads.length).toBeLessThanOrEqual(12);
    expect(decisions).toHaveLength(1000);
    expect(decisions[0]).toEqual({ subjectId: a.id, allowed: true, reasons: [] });
    expect(decisions[1]).toEqual({ subjectId: a.id, allowed: true, reasons: [] });
    expect(decisions[2]!.reasons).toContain('SUPPRESSED');
    expect(decisions[3]).toEqual({ subjectId: null, allowed: false, reasons: ['UNKNOWN_SUBJECT'] });
    expectCode(await server.gql('query($c: [ContactInput!]!) { canContactMany(contacts: $c, channel: EMAIL, purpose: "newsletter") { allowed } }', { c: [...contacts, { email: 'x@example.org' }] }, owner.accessToken), 'BAD_USER_INPUT');
    expectCode(await server.gql('query($c: [ContactInput!]!) { canContactMany(contacts: $c, channel: EMAIL, purpose: "newsletter") { allowed } }', { c: [{ email: 'a@example.org', phone: '+442079460958' }] }, owner.accessToken), 'BAD_USER_INPUT');
  });
});

describe('roles and scopes', () => {
  it('purposes ADMIN+, consent writes and reads MANAGER+, canContact MANAGER+ or CONTACT_CHECK keys', async () => {
    const manager = await addMember(server, owner, 'MANAGER');
    const user = await addMember(server, owner, 'USER');
    const admin = await addMember(server, owner, 'ADMIN');
    const subject = await mustCreateSubject(server, owner, person('p1'));
    expectCode(await (await import('./support.js')).createPurpose(server, manager, { key: 'by-manager', name: 'n', description: 'd', legalBasis: 'CONSENT', noticeText: 't' }), 'FORBIDDEN');
    await mustPurpose(server, admin, 'by-admin');
    await mustRecord(server, manager, { subjectId: subject.id, purpose: 'by-admin' });
    expectCode(await recordConsent(server, user, { subjectId: subject.id, purpose: 'by-admin', channel: 'EMAIL', granted: true, method: 'API' }), 'FORBIDDEN');
    expectCode(await server.gql('query($s: ID!) { consentStatus(subjectId: $s) { subjectId } }', { s: subject.id }, user.accessToken), 'FORBIDDEN');
    expectCode(await canContact(server, user, subject.id, 'EMAIL', 'by-admin'), 'FORBIDDEN');
    expectOk(await canContact(server, manager, subject.id, 'EMAIL', 'by-admin'));
    expectCode(await server.gql('{ verifyConsentLedger { valid } }', {}, manager.accessToken), 'FORBIDDEN');
    expectCode(await canContact(server, 'no-token', subject.id, 'EMAIL', 'by-admin'), 'UNAUTHENTICATED');

    const key = async (scopes: string[], role = 'USER') =>
      expectOk(await server.gql<{ createApiKey: { apiKey: string } }>('mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey } }', { i: { name: 'k', role, prefixes: [], scopes } }, owner.accessToken)).createApiKey.apiKey;
    const checker = await key(['CONTACT_CHECK']);
    expect(expectOk(await canContact(server, checker, subject.id, 'EMAIL', 'by-admin')).canContact.allowed).toBe(true);
    expectCode(await recordConsent(server, checker, { subjectId: subject.id, purpose: 'by-admin', channel: 'EMAIL', granted: true, method: 'API' }), 'FORBIDDEN');
    expectCode(await server.gql('query($s: ID!) { consentStatus(subjectId: $s) { subjectId } }', { s: subject.id }, checker), 'FORBIDDEN');
    const subjectsKey = await key(['SUBJECTS_READ'], 'MANAGER');
    expectCode(await canContact(server, subjectsKey, subject.id, 'EMAIL', 'by-admin'), 'FORBIDDEN');
    const writer = await key(['SUBJECTS_READ', 'SUBJECTS_WRITE'], 'MANAGER');
    await mustRecord(server, writer, { subjectId: subject.id, purpose: 'by-admin', granted: false, method: 'API' });
    // Another tenant sees nothing of this one.
    const stranger = await signUp(server, 'Stranger');
    expectCode(await server.gql('query($s: ID!) { consentStatus(subjectId: $s) { subjectId } }', { s: subject.id }, stranger.accessToken), 'NOT_FOUND');
  });
});

describe('audit', () => {
  it('records every consent action without personal data', async () => {
    const actions = await auditActions(server, owner.tenantId);
    for (const action of ['consent.purpose_created', 'consent.purpose_updated', 'consent.purpose_retired', 'consent.recorded', 'consent.opted_out', 'consent.opted_in', 'consent.gpc_signalled']) {
      expect(actions).toContain(action);
    }
    const events = JSON.stringify(await server.db.collection('audit_events').find({ tenantId: owner.tenantId, action: /^consent\./ }).toArray());
    expectNoPlaintext(events, ['203.0.113.77', 'ProofAgent', 'signup-form-v7', '@example.org', 'Ada Lovelace', 'phone call 12'], 'audit log');
  });
});
