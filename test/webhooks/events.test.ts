import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_FIELDS, expectCode, expectOk, signUp, type Signed } from '../support/auth.js';
import type { TestServer } from '../support/server.js';
import { mustCreateSubject } from '../privacy/support.js';
import { mustCreateWebhook, payloadOf, Receiver, startWebhookServer, waitFor, type Received } from './support.js';

/**
 * Every event type reaches a subscribed receiver with the payload README "Webhooks" documents,
 * and no payload holds a secret value, token, password, email or a subject's personal data.
 */
let server: TestServer;
let owner: Signed;
let receiver: Receiver;
let signingSecret: string;
let webhookId: string;
const ALL = ['SECRET_ROTATION_DUE', 'SECRET_EXPIRING', 'SECRET_EXPIRED', 'KEY_ROTATION_COMPLETED', 'DSR_DUE_SOON', 'DSR_OVERDUE', 'REFRESH_TOKEN_REUSED', 'ACCOUNT_LOCKED', 'AUDIT_VERIFICATION_FAILED'];
/** Everything sensitive the tests put in: none may appear in any payload. */
const sensitive: string[] = [];

beforeAll(async () => {
  // TRUST_PROXY lets the lockout test choose its client address; no grace before old data keys retire.
  server = await startWebhookServer({ TRUST_PROXY: 'loopback', KEY_RETIRE_GRACE_SECONDS: '0' });
  owner = await signUp(server, 'Events');
  sensitive.push(owner.email, owner.password, owner.accessToken, owner.refreshToken);
  receiver = await new Receiver().start();
  const created = await mustCreateWebhook(server, owner, { url: receiver.url, events: ALL });
  signingSecret = created.signingSecret;
  webhookId = created.webhook.id;
  sensitive.push(signingSecret, signingSecret.slice('whsec_'.length));
});
afterAll(async () => {
  await server?.close();
  await receiver?.close();
});

async function secret(name: string, value: string, extra: Record<string, unknown> = {}): Promise<string> {
  sensitive.push(value);
  const res = await server.gql<{ createSecret: { id: string } }>('mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }', { i: { name, value, ...extra } }, owner.accessToken);
  return expectOk(res).createSecret.id;
}

function received(type: string, match: (data: Record<string, unknown>) => boolean = () => true): Promise<Received & { data: Record<string, unknown> }> {
  return waitFor(`a ${type} delivery`, () => {
    const hit = receiver.received.map((r) => ({ ...r, payload: payloadOf(r) })).find((r) => r.payload.type === type && match(r.payload.data));
    if (!hit) return null;
    new Webhook(signingSecret).verify(hit.body, hit.headers as Record<string, string>); // throws when not signed right
    return { ...hit, data: hit.payload.data };
  });
}

describe('scan-derived events', () => {
  it('secret.expiring and secret.expired carry the secret id, name and expiry, never the value', async () => {
    const soon = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const expiring = await secret('billing/stripe-key', 'sk_live_expiring_value_1', { expiresAt: soon });
    const hit = await received('secret.expiring', (d) => d.secretId === expiring);
    expect(hit.data).toEqual({ eventId: expect.any(String), secretId: expiring, secretName: 'billing/stripe-key', expiresAt: soon });

    // Time passes (the expiry moved into the past in the database): a new event, expired.
    const expired = await secret('billing/old-key', 'sk_live_expired_value_2', { expiresAt: soon });
    const past = new Date(Date.now() - 60_000);
    await server.db.collection('secrets').updateOne({ _id: expired as never }, { $set: { expiresAt: past } });
    const gone = await received('secret.expired', (d) => d.secretId === expired);
    expect(gone.data).toMatchObject({ secretName: 'billing/old-key', expiresAt: past.toISOString() });
  });

  it('secret.rotation_due once per rotation date', async () => {
    const id = await secret('db/rotating', 'rotating-value-3', { rotationIntervalDays: 30, rotationWarningDays: 7 });
    const due = new Date(Date.now() - 1000);
    await server.db.collection('secrets').updateOne({ _id: id as never }, { $set: { rotationDueAt: due } });
    const hit = await received('secret.rotation_due', (d) => d.secretId === id);
    expect(hit.data).toMatchObject({ secretName: 'db/rotating', rotationDueAt: due.toISOString() });
    await new Promise((resolve) => setTimeout(resolve, 2500)); // two more scans
    expect(receiver.received.filter((r) => payloadOf(r).type === 'secret.rotation_due' && payloadOf(r).data.secretId === id)).toHaveLength(1);
  });

  it('dsr.due_soon and dsr.overdue carry the request id, type and deadline, nothing about the subject', async () => {
    const subject = await mustCreateSubject(server, owner, { email: 'ada.lovelace@example.org', fullName: 'Ada Lovelace' });
    sensitive.push('ada.lovelace@example.org', 'Ada Lovelace', subject.id);
    const create = 'mutation($i: CreateDataSubjectRequestInput!) { createDataSubjectRequest(input: $i) { id dueAt } }';
    const soon = expectOk(await server.gql<{ createDataSubjectRequest: { id: string; dueAt: string } }>(create, { i: { subjectId: subject.id, type: 'ACCESS', receivedAt: new Date(Date.now() - 26 * 86_400_000).toISOString() } }, owner.accessToken)).createDataSubjectRequest;
    const late = expectOk(await server.gql<{ createDataSubjectRequest: { id: string; dueAt: string } }>(create, { i: { subjectId: subject.id, type: 'ERASURE', receivedAt: new Date(Date.now() - 40 * 86_400_000).toISOString() } }, owner.accessToken)).createDataSubjectRequest;
    const dueSoon = await received('dsr.due_soon', (d) => d.requestId === soon.id);
    expect(dueSoon.data).toEqual({ eventId: expect.any(String), requestId: soon.id, requestType: 'ACCESS', dueAt: soon.dueAt });
    const overdue = await received('dsr.overdue', (d) => d.requestId === late.id);
    expect(overdue.data).toEqual({ eventId: expect.any(String), requestId: late.id, requestType: 'ERASURE', dueAt: late.dueAt });
    // Received 40 days ago, due a month later: overdue for about ten days, within the 30-day
    // retention (a deadline older than WEBHOOK_RETENTION_DAYS is no longer raised: README "Retention").
    expect(new Date(late.dueAt).getTime()).toBeLessThan(Date.now());
  });
});

describe('audit-derived events', () => {
  it('security.refresh_token_reused: the session and user ids, never the token', async () => {
    const refresh = `mutation($t: String!) { refreshToken(refreshToken: $t) { ${AUTH_FIELDS} } }`;
    const first = expectOk(await server.gql<{ refreshToken: { refreshToken: string } }>(refresh, { t: owner.refreshToken }));
    sensitive.push(first.refreshToken.refreshToken);
    expectCode(await server.gql(refresh, { t: owner.refreshToken }), 'UNAUTHENTICATED');
    const hit = await received('security.refresh_token_reused');
    expect(hit.data).toEqual({ eventId: expect.any(String), sessionId: expect.any(String), userId: owner.userId });
  });

  it('audit-derived events are derived again from the audit log: an outbox write lost to a crash is made by the next scan, with the same ids', async () => {
    const first = await received('security.refresh_token_reused');
    const eventId = first.data.eventId as string;
    // A crash between the audit append and the observer's outbox writes: neither was written.
    await server.db.collection('webhook_deliveries').deleteMany({ eventId });
    await server.db.collection('webhook_events').deleteOne({ _id: eventId as never });
    const again = await waitFor('the event derived again', () => receiver.received.filter((r) => payloadOf(r).data.eventId === eventId).length >= 2 || null);
    expect(again).toBe(true);
    const copies = receiver.received.filter((r) => payloadOf(r).data.eventId === eventId);
    expect(copies.map((r) => r.headers['webhook-id'])).toEqual([first.headers['webhook-id'], first.headers['webhook-id']]); // receivers dedupe on it
    expect(copies[1]!.body).toBe(copies[0]!.body);
    await new Promise((resolve) => setTimeout(resolve, 2500)); // later scans find it queued already
    expect(receiver.received.filter((r) => payloadOf(r).data.eventId === eventId)).toHaveLength(2);
  });

  it('security.account_locked: sent to the locked user\'s tenants with the user id, never the email', async () => {
    const login = `mutation($input: LoginInput!) { login(input: $input) { ${AUTH_FIELDS} } }`;
    for (let i = 0; i < 5; i += 1) {
      await server.gql(login, { input: { email: owner.email, password: `wrong-password-${i}-xyz` } }, undefined, { 'x-forwarded-for': '203.0.113.9' });
    }
    const hit = await received('security.account_locked');
    expect(hit.data).toEqual({ eventId: expect.any(String), userId: owner.userId, until: expect.any(String) });
  });

  it('security.audit_verification_failed when verifyAuditLog finds a broken chain', async () => {
    // Someone edits a stored audit event of this tenant directly in the database.
    await server.db.collection('audit_events').updateOne({ tenantId: owner.tenantId, seq: 1 }, { $set: { 'details.forged': true } });
    const verified = expectOk(await server.gql<{ verifyAuditLog: { valid: boolean } }>('query { verifyAuditLog { valid } }', {}, signedAgain.accessToken));
    expect(verified.verifyAuditLog.valid).toBe(false);
    const hit = await received('security.audit_verification_failed');
    expect(hit.data).toEqual({ eventId: expect.any(String), firstInvalidSequence: 1, checkedEvents: 0 });
  });

  it('key.rotation_completed; the webhook secret is re-encrypted under the new data key and still signs', async () => {
    const before = await server.db.collection('webhooks').findOne({ _id: webhookId as never });
    expect(before?.secret.dekVersion).toBe(1);
    expectOk(await server.gql('mutation { rotateTenantKey { activeDekVersion } }', {}, signedAgain.accessToken));
    const hit = await received('key.rotation_completed'); // verified with the secret shown at creation
    expect(hit.data).toMatchObject({ targetVersion: 2, retiredVersions: expect.any(Array), reencrypted: expect.any(Number) });
    const after = await server.db.collection('webhooks').findOne({ _id: webhookId as never });
    expect(after?.secret.dekVersion).toBe(2);
  });
});

let signedAgain: Signed;
beforeAll(async () => {
  // The owner's first session is revoked by the reuse test; a second session for the later tests.
  const res = await server.gql<{ login: { accessToken: string; refreshToken: string } }>(`mutation($input: LoginInput!) { login(input: $input) { ${AUTH_FIELDS} } }`, { input: { email: owner.email, password: owner.password } });
  const p = expectOk(res).login;
  signedAgain = { ...owner, accessToken: p.accessToken, refreshToken: p.refreshToken };
  sensitive.push(p.accessToken, p.refreshToken);
});

describe('payloads', () => {
  it('no payload holds a secret value, signing secret, token, password, email or a subject\'s personal data', () => {
    expect(receiver.received.length).toBeGreaterThanOrEqual(9);
    const types = new Set(receiver.received.map((r) => payloadOf(r).type));
    expect(types.size).toBe(9);
    for (const r of receiver.received) {
      for (const value of sensitive) expect(r.body.includes(value), `a ${payloadOf(r).type} payload holds a sensitive value`).toBe(false);
      expect(r.body).not.toMatch(/@example\.(com|org)/);
      expect(JSON.stringify(r.headers)).not.toMatch(/whsec_/);
    }
  });
});
