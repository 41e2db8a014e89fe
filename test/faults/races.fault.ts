/**
 * Contention through the real HTTP API, at once: many writers on one secret with the same
 * expected revision (compare-and-set), and many consent records for one subject (the ledger's
 * append by compare-and-set on its head).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, signUp, type Signed } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { mustCreate, reveal, updateSecret } from '../support/vault.js';
import { mustPurpose, recordConsent, status } from '../consent/support.js';

const WRITERS = 50;

let server: TestServer;
let owner: Signed;
beforeAll(async () => {
  server = await startServer();
  owner = await signUp(server, 'Race Co');
});
afterAll(async () => {
  await server?.close();
});

describe('compare-and-set race', () => {
  it(`${WRITERS} concurrent updateSecret calls with the same expectedRevision: exactly one wins, the rest get CONFLICT, no version lost or duplicated`, async () => {
    const created = await mustCreate(server, owner, 'race/one', 'initial');
    const results = await Promise.all(
      Array.from({ length: WRITERS }, (_, i) => updateSecret(server, owner, { name: 'race/one', value: `writer ${i}`, expectedRevision: created.revision })),
    );
    const winners = results.map((res, i) => ({ res, i })).filter(({ res }) => !res.errors);
    const codes = results.filter((res) => res.errors).map((res) => res.errors![0]!.extensions.code);
    expect(winners, JSON.stringify(results.filter((r) => r.errors && r.errors[0]!.extensions.code !== 'CONFLICT').slice(0, 3))).toHaveLength(1);
    expect(codes).toEqual(Array(WRITERS - 1).fill('CONFLICT'));
    const winner = winners[0]!;
    expect(winner.res.data!.updateSecret.version).toBe(2);

    // Exactly two versions, 1 and 2; version 2 holds the winner's value, version 1 the original.
    const after = await server.gql<{ secret: { version: number; revision: number; versions: { version: number }[] } }>('{ secret(name: "race/one") { version revision versions { version } } }', {}, owner.accessToken);
    expect(expectOk(after).secret.versions.map((v) => v.version).sort()).toEqual([1, 2]);
    expect(after.data!.secret.version).toBe(2);
    expect(after.data!.secret.revision).toBe(created.revision + 1);
    expect(expectOk(await reveal(server, owner, 'race/one')).secret?.value).toBe(`writer ${winner.i}`);
    expect(expectOk(await reveal(server, owner, 'race/one', 1)).secret?.value).toBe('initial');
    // One audit event for the one write that happened.
    const updates = await server.db.collection('audit_events').countDocuments({ tenantId: owner.tenantId, action: 'secret.updated' });
    expect(updates).toBe(1);
  });
});

const CONSENT_WRITERS = 50;

describe('concurrent consent records', () => {
  it(`${CONSENT_WRITERS} concurrent recordConsent for one subject, purpose and channel: ${CONSENT_WRITERS} records, seq gap-free and unique, ledger valid, status = the last record by seq`, async () => {
    const purpose = await mustPurpose(server, owner, 'race-news');
    const subject = expectOk(
      await server.gql<{ createDataSubject: { id: string } }>('mutation($input: CreateDataSubjectInput!) { createDataSubject(input: $input) { id } }', { input: { externalId: 'race-subject', email: 'race@example.net' } }, owner.accessToken),
    ).createDataSubject.id;
    const before = expectOk(await server.gql<{ verifyConsentLedger: { headSeq: number } }>('{ verifyConsentLedger { headSeq } }', {}, owner.accessToken)).verifyConsentLedger.headSeq;

    const startedAt = Date.now();
    const results = await Promise.all(
      Array.from({ length: CONSENT_WRITERS }, (_, i) => recordConsent(server, owner, { subjectId: subject, purpose: purpose.key, channel: 'EMAIL', granted: i % 2 === 0, method: 'API' })),
    );
    const elapsedMs = Date.now() - startedAt;
    const failed = results.filter((r) => r.errors);
    expect(failed.map((r) => r.errors), 'every concurrent record is accepted').toEqual([]);
    const records = results.map((r) => r.data!.recordConsent);
    console.log(`consent race: ${CONSENT_WRITERS} concurrent recordConsent in ${elapsedMs} ms`);

    // Each call got its own place: seqs are exactly before+1 .. before+50, no duplicate, no gap; ids unique.
    const seqs = records.map((r) => r.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: CONSENT_WRITERS }, (_, i) => before + 1 + i));
    expect(new Set(records.map((r) => r.id)).size).toBe(CONSENT_WRITERS);

    // Stored: exactly 50 records for the subject, the same ids and seqs as answered.
    const history = expectOk(
      await server.gql<{ consentHistory: { totalCount: number; edges: { node: { id: string; seq: number; granted: boolean } }[] } }>(
        'query($s: ID!) { consentHistory(subjectId: $s, first: 100) { totalCount edges { node { id seq granted } } } }', { s: subject }, owner.accessToken),
    ).consentHistory;
    expect(history.totalCount).toBe(CONSENT_WRITERS);
    expect(history.edges.map((e) => e.node.id).sort()).toEqual(records.map((r) => r.id).sort());
    expect(await server.db.collection('consent_ledger').countDocuments({ tenantId: owner.tenantId, subjectId: subject })).toBe(CONSENT_WRITERS);

    const verified = expectOk(await server.gql<{ verifyConsentLedger: { valid: boolean; checked: number; headSeq: number; findings: unknown[] } }>('{ verifyConsentLedger { valid checked headSeq findings { seq problem } } }', {}, owner.accessToken)).verifyConsentLedger;
    expect(verified).toEqual({ valid: true, checked: before + CONSENT_WRITERS, headSeq: before + CONSENT_WRITERS, findings: [] });

    // The status is the record with the highest seq, whichever request finished last.
    const last = records.reduce((a, b) => (b.seq > a.seq ? b : a));
    const entry = (await status(server, owner, subject)).entries.find((e) => e.purpose === purpose.key && e.channel === 'EMAIL')!;
    expect(entry.recordId).toBe(last.id);
    expect(entry.recordedGranted).toBe(last.granted);
  });
});
