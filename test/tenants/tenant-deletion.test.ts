import { mustPurpose, mustRecord } from '../consent/support.js';
import type { JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MasterKeyring } from '../../src/modules/keys/keyring.js';
import { TenantKeyService } from '../../src/modules/keys/tenant-key.service.js';
import { createLogger } from '../../src/logger.js';
import { verifyTenantDeletionReceipt } from '../../src/modules/tenants/tenant-deletion-receipt.js';
import { addMember, expectCode, expectOk, login, signUp, type Signed } from '../support/auth.js';
import { expectRefused, ME_QUERY } from '../support/http.js';
import { mustCreate } from '../support/vault.js';
import { startPrivacyServer } from '../privacy/support.js';
import type { TestServer } from '../support/server.js';

type Server = Awaited<ReturnType<typeof startPrivacyServer>>;
let server: Server;
/** Tenants whose deletion the hook interrupts once, after the named step. */
const stopAfter = new Map<string, string>();
const hook = (tenantId: string, state: string) => {
  if (stopAfter.get(tenantId) === state) {
    stopAfter.delete(tenantId);
    throw new Error(`test stop after ${state}`);
  }
};
beforeAll(async () => {
  server = await startPrivacyServer({ privacy: { afterTenantDeletionStep: hook } });
});
afterAll(async () => server?.close());

const DELETE = `mutation($slug: String!) { deleteTenant(confirmSlug: $slug) {
  tenantId state receiptId requestedBy completedAt destroyedDekVersions destroyedAuditKey
  destroyedWrappedKeys { collection count } recordsRemoved { collection count } receipt } }`;
const RECEIPT = 'query($id: ID!) { tenantDeletionReceipt(tenantId: $id) { tenantId state receipt recordsRemoved { collection count } } }';

interface Deletion {
  tenantId: string;
  state: string;
  receiptId: string;
  requestedBy: string;
  destroyedDekVersions: number[];
  destroyedAuditKey: boolean;
  destroyedWrappedKeys: { collection: string; count: number }[];
  recordsRemoved: { collection: string; count: number }[];
  receipt: string | null;
}

async function slugOf(s: TestServer, tenantId: string): Promise<string> {
  return (await s.db.collection('tenants').findOne({ _id: tenantId as never }))!.slug as string;
}

async function platformAdmin(s: TestServer): Promise<string> {
  const user = await signUp(s, 'Admin Home');
  await s.db.collection('users').updateOne({ _id: user.userId as never }, { $set: { platformAdmin: true } });
  return expectOk(await login(s, user.email, user.password)).login.accessToken;
}

/** A tenant with a secret, a data subject, an API key and a second member. */
async function populated(s: TestServer, name: string) {
  const owner = await signUp(s, name);
  const admin = await addMember(s, owner, 'ADMIN');
  await mustCreate(s, owner, 'prod/db/password', 'hunter2-very-secret');
  const subject = expectOk(
    await s.gql<{ createDataSubject: { id: string } }>('mutation($i: CreateDataSubjectInput!) { createDataSubject(input: $i) { id } }', { i: { email: 'ada.lovelace@example.com', fullName: 'Ada Lovelace' } }, owner.accessToken),
  ).createDataSubject;
  const key = expectOk(
    await s.gql<{ createApiKey: { apiKey: string } }>('mutation { createApiKey(input: { name: "ci", role: USER, prefixes: ["*"] }) { apiKey } }', {}, admin.accessToken),
  ).createApiKey.apiKey;
  expectOk(await s.gql('{ secrets { totalCount } }', {}, key));
  // Consent data too (purposes, the ledger, its head and its key, suppression entries and the suppression key), and a request.
  await mustPurpose(s, owner, 'newsletter');
  await mustRecord(s, owner, { subjectId: subject.id, purpose: 'newsletter', channel: 'EMAIL', granted: true, method: 'API' });
  expectOk(await s.gql('mutation($s: ID!) { optOut(subjectId: $s, channel: EMAIL, reason: SUBJECT_REQUEST, source: API) { id } }', { s: subject.id }, owner.accessToken));
  expectOk(await s.gql('mutation($i: CreateDataSubjectRequestInput!) { createDataSubjectRequest(input: $i) { id } }', { i: { subjectId: subject.id, type: 'ACCESS', receivedAt: new Date().toISOString() } }, owner.accessToken));
  return { owner, admin, subjectId: subject.id, key };
}

async function tenantDocsLeft(s: TestServer, tenantId: string): Promise<Record<string, number>> {
  const left: Record<string, number> = {};
  for (const { name } of await s.db.listCollections().toArray()) {
    const n = await s.db.collection(name).countDocuments({ tenantId });
    if (n) left[name] = n;
  }
  return left;
}

describe('deleteTenant', () => {
  let owner: Signed;
  beforeAll(async () => {
    owner = await signUp(server, 'Refusals');
  });

  it('is refused for a non-OWNER, a wrong or another tenant\'s slug, and without a token; nothing happens', async () => {
    const admin = await addMember(server, owner, 'ADMIN');
    const other = await signUp(server, 'Someone Else');
    const slug = await slugOf(server, owner.tenantId);
    expectCode(await server.gql(DELETE, { slug }, admin.accessToken), 'FORBIDDEN');
    expectCode(await server.gql(DELETE, { slug: slug.toUpperCase() }, owner.accessToken), 'BAD_USER_INPUT');
    expectCode(await server.gql(DELETE, { slug: `${slug} ` }, owner.accessToken), 'BAD_USER_INPUT');
    expectCode(await server.gql(DELETE, { slug: await slugOf(server, other.tenantId) }, owner.accessToken), 'BAD_USER_INPUT');
    expectCode(await server.gql(DELETE, { slug }), 'UNAUTHENTICATED');
    const tenant = await server.db.collection('tenants').findOne({ _id: owner.tenantId as never });
    expect(tenant?.status).toBe('ACTIVE');
    expect(tenant?.deletion).toBeUndefined();
    expect(await server.db.collection('tenant_keys').countDocuments({ _id: owner.tenantId as never })).toBe(1);
    expectOk(await server.gql(ME_QUERY, {}, admin.accessToken));
    // The receipt query is for platform administrators only.
    expectCode(await server.gql(RECEIPT, { id: owner.tenantId }, owner.accessToken), 'FORBIDDEN');
  });

  it('shreds every key, refuses every token and API key, purges every collection and returns a verifiable receipt', async () => {
    const { owner: o, admin, subjectId, key } = await populated(server, 'Doomed Corp');
    const tenantId = o.tenantId;
    const slug = await slugOf(server, tenantId);
    // Raw copies, as a backup would hold them.
    const secretCopy = await server.db.collection('secrets').findOne({ tenantId });
    const subjectCopy = await server.db.collection('data_subjects').findOne({ _id: subjectId as never });
    expect(secretCopy).toBeTruthy();
    expect(subjectCopy).toBeTruthy();

    const deletion = expectOk(await server.gql<{ deleteTenant: Deletion }>(DELETE, { slug }, o.accessToken)).deleteTenant;
    expect(deletion).toMatchObject({ tenantId, state: 'DONE', requestedBy: o.userId, destroyedDekVersions: [1], destroyedAuditKey: true });
    expect(deletion.destroyedWrappedKeys).toEqual([
      { collection: 'consent_ledger_keys', count: 1 },
      { collection: 'consent_suppression_keys', count: 1 },
      { collection: 'subject_index_keys', count: 1 },
      { collection: 'subject_keys', count: 1 },
    ]);
    const removed = Object.fromEntries(deletion.recordsRemoved.map((r) => [r.collection, r.count]));
    expect(removed).toMatchObject({ secrets: 1, data_subjects: 1, api_keys: 1, memberships: 2, consent_purposes: 1, consent_ledger: 2, consent_suppressions: 1, data_subject_requests: 1 });
    expect(removed.audit_events).toBeGreaterThan(3);

    // The receipt verifies with the published keys and says the same.
    const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    const payload = await verifyTenantDeletionReceipt(deletion.receipt!, jwks);
    expect(payload).toMatchObject({ type: 'coffer.tenant-deletion-receipt', schemaVersion: 1, tenantId, receiptId: deletion.receiptId, keysDestroyed: { dekVersions: [1], auditKey: true } });
    expect(payload.recordsRemoved).toEqual(removed);
    // (Not "ada" alone: the receipt's random ids are hex and can hold it.)
    const [, body] = deletion.receipt!.split('.');
    expect(Buffer.from(body!, 'base64url').toString()).not.toMatch(/lovelace|hunter2|Doomed/i);

    // No document of the tenant anywhere; only the tombstone (its own _id) remains.
    expect(await tenantDocsLeft(server, tenantId)).toEqual({});
    const tombstone = await server.db.collection('tenants').findOne({ _id: tenantId as never });
    expect(tombstone).toMatchObject({ status: 'DELETED', slug, name: 'Deleted tenant', deletion: { state: 'DONE' } });
    expect(await server.db.collection('sessions').countDocuments({ tenantId })).toBe(0);

    // Nothing opens with the master keys: no wrapped DEK is left.
    expect(await server.db.collection('tenant_keys').countDocuments({ _id: tenantId as never })).toBe(0);
    const logger = createLogger('silent');
    const keys = new TenantKeyService({ db: server.db, keyring: MasterKeyring.fromConfig(server.config.vault), logger });
    await expect(keys.dek(tenantId, secretCopy!.versions?.[0]?.dekVersion ?? 1)).rejects.toThrow(/no keys/);
    expect(JSON.stringify(subjectCopy)).not.toContain('ada.lovelace');

    // Every member token and the tenant's API key are refused at once.
    expectRefused(await server.gql(ME_QUERY, {}, o.accessToken));
    expectRefused(await server.gql(ME_QUERY, {}, admin.accessToken));
    expectCode(await server.gql('{ secrets { totalCount } }', {}, key), 'UNAUTHENTICATED');
    expectCode(await server.gql('mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }', { t: o.refreshToken }), 'UNAUTHENTICATED');
    // The accounts remain (they may belong elsewhere), but have no tenant to log in to.
    expectCode(await login(server, admin.email, admin.password), 'FORBIDDEN');

    // The platform chain records it, with ids and counts only; the admin can fetch the receipt.
    const event = await server.db.collection('audit_events').findOne({ tenantId: '__platform__', action: 'tenant.deleted', 'resource.id': tenantId });
    expect(event?.actor).toEqual({ type: 'USER', id: o.userId });
    expect(event?.details.receiptId).toBe(deletion.receiptId);
    expect(JSON.stringify(event)).not.toMatch(/Doomed|@example/);
    const adminToken = await platformAdmin(server);
    const fetched = expectOk(await server.gql<{ tenantDeletionReceipt: Deletion }>(RECEIPT, { id: tenantId }, adminToken)).tenantDeletionReceipt;
    expect(fetched).toMatchObject({ tenantId, state: 'DONE', receipt: deletion.receipt });
    expectCode(await server.gql(RECEIPT, { id: owner.tenantId }, adminToken), 'NOT_FOUND');
    // A deleted tenant cannot be reactivated; its slug stays reserved.
    expectCode(await server.gql('mutation($id: ID!) { reactivateTenant(id: $id) { status } }', { id: tenantId }, adminToken), 'NOT_FOUND');
    expect(server.logs.join('')).not.toMatch(/ada\.lovelace|hunter2/);
  });

  it('completes a deletion interrupted after any step: on the next call, or on a fresh instance at start', async () => {
    // Interrupted before the status changed: the owner's next call completes it.
    const first = await populated(server, 'Interrupted Early');
    stopAfter.set(first.owner.tenantId, 'KEYS_DESTROYED');
    const slug = await slugOf(server, first.owner.tenantId);
    expectCode(await server.gql(DELETE, { slug }, first.owner.accessToken), 'INTERNAL_SERVER_ERROR');
    expect(await server.db.collection('tenant_keys').countDocuments({ _id: first.owner.tenantId as never })).toBe(0);
    const done = expectOk(await server.gql<{ deleteTenant: Deletion }>(DELETE, { slug }, first.owner.accessToken)).deleteTenant;
    expect(done.state).toBe('DONE');
    expect(done.destroyedDekVersions).toEqual([1]);
    expect(await tenantDocsLeft(server, first.owner.tenantId)).toEqual({});

    // Interrupted once DELETED: the owner's token is refused, so a platform admin's receipt call completes it…
    const second = await populated(server, 'Interrupted Late');
    stopAfter.set(second.owner.tenantId, 'MARKED_DELETED');
    expectCode(await server.gql(DELETE, { slug: await slugOf(server, second.owner.tenantId) }, second.owner.accessToken), 'INTERNAL_SERVER_ERROR');
    expectRefused(await server.gql(ME_QUERY, {}, second.owner.accessToken));
    const adminToken = await platformAdmin(server);
    const completed = expectOk(await server.gql<{ tenantDeletionReceipt: Deletion }>(RECEIPT, { id: second.owner.tenantId }, adminToken)).tenantDeletionReceipt;
    expect(completed.state).toBe('DONE');
    expect(await tenantDocsLeft(server, second.owner.tenantId)).toEqual({});

    // …and a fresh instance on the same database completes one at start.
    const third = await populated(server, 'Interrupted Purge');
    stopAfter.set(third.owner.tenantId, 'PURGED');
    expectCode(await server.gql(DELETE, { slug: await slugOf(server, third.owner.tenantId) }, third.owner.accessToken), 'INTERNAL_SERVER_ERROR');
    await server.close();
    server = await startPrivacyServer({ dbName: server.dbName, env: server.env, privacy: { afterTenantDeletionStep: hook } });
    let state = '';
    for (let i = 0; i < 100 && state !== 'DONE'; i++) {
      state = (await server.db.collection('tenants').findOne({ _id: third.owner.tenantId as never }))?.deletion?.state;
      if (state !== 'DONE') await new Promise((r) => setTimeout(r, 50));
    }
    expect(state).toBe('DONE');
    const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    const tombstone = await server.db.collection('tenants').findOne({ _id: third.owner.tenantId as never });
    expect((await verifyTenantDeletionReceipt(tombstone!.deletion.receipt, jwks)).tenantId).toBe(third.owner.tenantId);
    expect(await tenantDocsLeft(server, third.owner.tenantId)).toEqual({});
  });
});
