import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, AUTH_FIELDS, expectCode, expectOk, signUp, type Signed } from '../support/auth.js';
import type { GraphQLResponse, TestServer } from '../support/server.js';
import { deliveriesOf, mustCreateWebhook, Receiver, startWebhookServer, waitFor, type DeliveryShape } from './support.js';

/**
 * retryWebhookDelivery: a given-up delivery goes out again with the same webhook-id. Events come
 * from the audit observer (a refresh token reused), so the scan (and its pruning) runs only at start.
 */
let server: TestServer;
let owner: Signed;
const receivers: Receiver[] = [];
const RETRY = `mutation($id: ID!) { retryWebhookDelivery(id: $id) { id status attempts nextAttemptAt lastError } }`;
type RetryShape = { retryWebhookDelivery: Pick<DeliveryShape, 'id' | 'status' | 'attempts' | 'nextAttemptAt' | 'lastError'> };

beforeAll(async () => {
  server = await startWebhookServer({ WEBHOOK_SCAN_INTERVAL_SECONDS: '86400' });
  owner = await signUp(server, 'Retries');
});
afterAll(async () => {
  await server?.close();
  await Promise.all(receivers.map((r) => r.close()));
});

async function receiver(): Promise<Receiver> {
  const r = await new Receiver().start();
  receivers.push(r);
  return r;
}

/** Raises REFRESH_TOKEN_REUSED in `tenant`: a member's refresh token used twice. */
async function reuseEvent(tenant: Signed): Promise<void> {
  const member = await addMember(server, tenant, 'USER');
  const refresh = `mutation($t: String!) { refreshToken(refreshToken: $t) { ${AUTH_FIELDS} } }`;
  expectOk(await server.gql(refresh, { t: member.refreshToken }));
  expectCode(await server.gql(refresh, { t: member.refreshToken }), 'UNAUTHENTICATED');
}

/** A webhook whose only delivery was given up (3 attempts answered 503). */
async function givenUp(tenant: Signed): Promise<{ r: Receiver; webhookId: string; secret: string; row: DeliveryShape }> {
  const r = await receiver();
  r.respond = () => ({ status: 503 });
  const { webhook, signingSecret } = await mustCreateWebhook(server, tenant, { url: r.url, events: ['REFRESH_TOKEN_REUSED'] });
  await reuseEvent(tenant);
  const [row] = await waitFor('given up', async () => {
    const rows = await deliveriesOf(server, tenant, webhook.id);
    return rows[0]?.status === 'FAILED' ? rows : null;
  });
  return { r, webhookId: webhook.id, secret: signingSecret, row: row! };
}

const reasonOf = (res: GraphQLResponse) => res.errors?.[0]?.extensions.reason;

describe('retryWebhookDelivery', () => {
  it('puts a given-up delivery back (attempts reset, due now); it goes out with the same webhook-id and a fresh signature; audited', async () => {
    const { r, webhookId, secret, row } = await givenUp(owner);
    expect(row).toMatchObject({ attempts: 3, lastError: 'http_503' });
    expect(r.received).toHaveLength(3);
    r.respond = () => ({ status: 204 });
    await new Promise((resolve) => setTimeout(resolve, 1100)); // timestamps are in seconds: the retry's is a later one
    const retried = expectOk(await server.gql<RetryShape>(RETRY, { id: row.id }, owner.accessToken)).retryWebhookDelivery;
    expect(retried).toMatchObject({ id: row.id, status: 'PENDING', attempts: 0 });
    expect(new Date(retried.nextAttemptAt!).getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    await waitFor('the retried delivery', () => r.received.length >= 4);
    const [last] = r.received.slice(-1);
    expect(last!.headers['webhook-id']).toBe(row.id);
    expect(new Set(r.received.map((x) => x.headers['webhook-id'])).size).toBe(1);
    expect(Number(last!.headers['webhook-timestamp'])).toBeGreaterThan(Number(r.received[2]!.headers['webhook-timestamp']));
    expect(r.received.slice(0, 3).map((x) => x.headers['webhook-signature'])).not.toContain(last!.headers['webhook-signature']);
    expect(() => new Webhook(secret).verify(last!.body, last!.headers as Record<string, string>)).not.toThrow();
    const [after] = await waitFor('delivered', async () => {
      const rows = await deliveriesOf(server, owner, webhookId);
      return rows[0]?.status === 'DELIVERED' ? rows : null;
    });
    expect(after).toMatchObject({ attempts: 1, lastHttpStatus: 204 });

    const audit = await server.db.collection('audit_events').find({ tenantId: owner.tenantId, action: 'webhook.delivery_retried' }).toArray();
    expect(audit).toHaveLength(1);
    expect(audit[0]!.resource).toMatchObject({ id: webhookId });
    expect(audit[0]!.details).toEqual({ deliveryId: row.id, eventType: 'REFRESH_TOKEN_REUSED' });

    // Delivered now: refused.
    const again = await server.gql(RETRY, { id: row.id }, owner.accessToken);
    expectCode(again, 'CONFLICT');
    expect(reasonOf(again)).toBe('NOT_FAILED');
  }, 60_000);

  it('refuses a pending delivery, and of two concurrent retries exactly one wins', async () => {
    const { r, row } = await givenUp(owner);
    r.respond = () => ({ status: 204, delayMs: 1500 }); // the retried attempt stays in flight a while
    const both = await Promise.all([server.gql<RetryShape>(RETRY, { id: row.id }, owner.accessToken), server.gql<RetryShape>(RETRY, { id: row.id }, owner.accessToken)]);
    const won = both.filter((res) => !res.errors);
    const lost = both.filter((res) => res.errors);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expectCode(lost[0]!, 'CONFLICT');
    await waitFor('the attempt in flight', () => r.received.length >= 4);
    const pending = await server.gql(RETRY, { id: row.id }, owner.accessToken);
    expectCode(pending, 'CONFLICT');
    expect(reasonOf(pending)).toBe('NOT_FAILED');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(r.received).toHaveLength(4); // sent once
    expect(await server.db.collection('audit_events').countDocuments({ tenantId: owner.tenantId, action: 'webhook.delivery_retried', 'details.deliveryId': row.id })).toBe(1);
  }, 60_000);

  it('refuses while the webhook is disabled (nothing changes), NOT_FOUND once it is deleted', async () => {
    const { webhookId, row } = await givenUp(owner);
    expectOk(await server.gql('mutation($id: ID!) { disableWebhook(id: $id) { enabled } }', { id: webhookId }, owner.accessToken));
    const res = await server.gql(RETRY, { id: row.id }, owner.accessToken);
    expectCode(res, 'CONFLICT');
    expect(reasonOf(res)).toBe('WEBHOOK_DISABLED');
    expect((await server.db.collection('webhook_deliveries').findOne({ _id: row.id as never }))?.status).toBe('FAILED');
    expectOk(await server.gql('mutation($id: ID!) { deleteWebhook(id: $id) }', { id: webhookId }, owner.accessToken));
    expectCode(await server.gql(RETRY, { id: row.id }, owner.accessToken), 'NOT_FOUND');
  }, 60_000);

  it('refuses a given-up delivery older than the retention (EXPIRED), unchanged', async () => {
    const { row } = await givenUp(owner);
    await server.db.collection('webhook_deliveries').updateOne({ _id: row.id as never }, { $set: { createdAt: new Date(Date.now() - 31 * 86_400_000) } });
    const res = await server.gql(RETRY, { id: row.id }, owner.accessToken);
    expectCode(res, 'CONFLICT');
    expect(reasonOf(res)).toBe('EXPIRED');
    expect((await server.db.collection('webhook_deliveries').findOne({ _id: row.id as never }))?.status).toBe('FAILED');
  }, 60_000);

  it('another tenant\'s delivery id is NOT_FOUND, like an unknown one, and stays FAILED; MANAGER, USER and API keys are FORBIDDEN; ADMIN may', async () => {
    const { row } = await givenUp(owner);
    const stranger = await signUp(server, 'Stranger');
    const foreign = await server.gql(RETRY, { id: row.id }, stranger.accessToken);
    const unknown = await server.gql(RETRY, { id: 'msg_0123456789abcdef0123456789abcdef' }, stranger.accessToken);
    expectCode(foreign, 'NOT_FOUND');
    expectCode(unknown, 'NOT_FOUND');
    expect(foreign.errors![0]!.message).toBe(unknown.errors![0]!.message);
    expect((await server.db.collection('webhook_deliveries').findOne({ _id: row.id as never }))?.status).toBe('FAILED');

    for (const role of ['MANAGER', 'USER']) {
      const member = await addMember(server, owner, role);
      expectCode(await server.gql(RETRY, { id: row.id }, member.accessToken), 'FORBIDDEN');
    }
    const key = expectOk(
      await server.gql<{ createApiKey: { apiKey: string } }>('mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey } }', { i: { name: 'svc', role: 'ADMIN', prefixes: ['*'] } }, owner.accessToken),
    ).createApiKey.apiKey;
    expectCode(await server.gql(RETRY, { id: row.id }, key), 'FORBIDDEN');
    expectCode(await server.gql(RETRY, { id: row.id }), 'UNAUTHENTICATED');
    expect((await server.db.collection('webhook_deliveries').findOne({ _id: row.id as never }))?.status).toBe('FAILED');

    const admin = await addMember(server, owner, 'ADMIN');
    expect(expectOk(await server.gql<RetryShape>(RETRY, { id: row.id }, admin.accessToken)).retryWebhookDelivery.status).toBe('PENDING');
  }, 60_000);
});
