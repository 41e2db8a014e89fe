import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, signUp, type Signed } from '../support/auth.js';
import type { TestServer } from '../support/server.js';
import { deliveriesOf, expiringSecret, mustCreateWebhook, payloadOf, Receiver, startWebhookServer, waitFor } from './support.js';

let server: TestServer;
let owner: Signed;
const receivers: Receiver[] = [];

async function receiver(): Promise<Receiver> {
  const r = await new Receiver().start();
  receivers.push(r);
  return r;
}

beforeAll(async () => {
  server = await startWebhookServer();
  owner = await signUp(server, 'Hooks');
});
afterAll(async () => {
  if (process.env.WH_DEBUG) console.log(server.logs.filter((l) => /webhook|"level":[45]0/.test(l)).join("").slice(0, 6000));
  await server?.close();
  await Promise.all(receivers.map((r) => r.close()));
});

describe('delivery', () => {
  it('POSTs the event signed per Standard Webhooks: the library verifies it with the secret shown once', async () => {
    const r = await receiver();
    const { webhook, signingSecret } = await mustCreateWebhook(server, owner, { url: r.url, events: ['SECRET_EXPIRING'], description: 'ops' });
    expect(signingSecret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const secretId = await expiringSecret(server, owner, 'prod/db/password', 'hunter2-value-never-sent');
    const [hit] = await waitFor('a delivery', () => (r.received.length ? r.received : null));
    expect(hit!.headers['content-type']).toBe('application/json');
    expect(hit!.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(hit!.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
    const verified = new Webhook(signingSecret).verify(hit!.body, hit!.headers as Record<string, string>) as { type: string; data: Record<string, unknown> };
    expect(verified.type).toBe('secret.expiring');
    const payload = payloadOf(hit!);
    expect(payload.data).toMatchObject({ secretId, secretName: 'prod/db/password' });
    expect(typeof payload.data.eventId).toBe('string');
    // A wrong secret, or a changed body, does not verify.
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(hit!.body, hit!.headers as Record<string, string>)).toThrow();
    expect(() => new Webhook(signingSecret).verify(hit!.body.replace('prod', 'dev!'), hit!.headers as Record<string, string>)).toThrow();

    const [log] = await waitFor('the delivery recorded', async () => {
      const rows = await deliveriesOf(server, owner, webhook.id);
      return rows.length === 1 && rows[0]!.status === 'DELIVERED' ? rows : null;
    });
    expect(log).toMatchObject({ id: hit!.headers['webhook-id'], eventType: 'SECRET_EXPIRING', attempts: 1, lastHttpStatus: 204, lastError: null, nextAttemptAt: null });
    expect(log!.deliveredAt).not.toBeNull();
    expect(log!.lastDurationMs).toBeGreaterThanOrEqual(0);
    // The scan keeps running: the same secret and expiry never make a second event.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(r.received).toHaveLength(1);
  });

  it('retries after 500s with the same webhook-id, with growing waits, then delivers; the log keeps only a few bytes of the answer', async () => {
    const r = await receiver();
    r.respond = (_req, index) => (index < 2 ? { status: 500, body: `${'x'.repeat(200)} internal stack trace` } : { status: 200, body: 'ok' });
    const { webhook } = await mustCreateWebhook(server, owner, { url: r.url, events: ['SECRET_EXPIRING'] });
    await expiringSecret(server, owner, 'retry/one', 'v');
    await waitFor('three attempts', () => r.received.length >= 3);
    const ids = new Set(r.received.map((x) => x.headers['webhook-id']));
    expect(ids.size).toBe(1);
    // Backoff: base 100 ms doubling with jitter (at least half): ≥ 50 ms, then ≥ 100 ms.
    expect(r.received[1]!.at - r.received[0]!.at).toBeGreaterThanOrEqual(50);
    expect(r.received[2]!.at - r.received[1]!.at).toBeGreaterThanOrEqual(100);
    const [row] = await waitFor('delivered', async () => {
      const rows = await deliveriesOf(server, owner, webhook.id);
      return rows[0]?.status === 'DELIVERED' ? rows : null;
    });
    expect(row).toMatchObject({ attempts: 3, lastHttpStatus: 200, lastResponseSnippet: 'ok' });
  });

  it('gives up after the maximum number of attempts (FAILED, no next retry), the log showing the last status and at most 64 bytes', async () => {
    const r = await receiver();
    r.respond = () => ({ status: 503, body: 'y'.repeat(500) });
    const { webhook } = await mustCreateWebhook(server, owner, { url: r.url, events: ['SECRET_EXPIRING'] });
    await expiringSecret(server, owner, 'giveup/one', 'v');
    const [row] = await waitFor('given up', async () => {
      const rows = await deliveriesOf(server, owner, webhook.id);
      return rows[0]?.status === 'FAILED' ? rows : null;
    });
    expect(row).toMatchObject({ attempts: 3, lastHttpStatus: 503, lastError: 'http_503', nextAttemptAt: null, deliveredAt: null });
    expect(row!.lastResponseSnippet).toBe('y'.repeat(64));
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(r.received).toHaveLength(3);
  });

  it('does not follow redirects: a 302 is a failed attempt', async () => {
    const target = await receiver();
    const r = await receiver();
    r.respond = () => ({ status: 302 });
    const { webhook } = await mustCreateWebhook(server, owner, { url: r.url, events: ['SECRET_EXPIRING'] });
    await expiringSecret(server, owner, 'redirect/one', 'v');
    const [row] = await waitFor('an attempt', async () => {
      const rows = await deliveriesOf(server, owner, webhook.id);
      return rows[0]?.lastHttpStatus === 302 ? rows : null;
    });
    expect(row!.lastError).toBe('http_302');
    expect(target.received).toHaveLength(0);
  });

  it('a disabled webhook gets nothing, also of what was queued before it was disabled; enabled again, it gets new events', async () => {
    const r = await receiver();
    // The first attempt is answered slowly with a 500: the webhook is disabled meanwhile.
    r.respond = () => ({ status: 500, delayMs: 1000 });
    const { webhook } = await mustCreateWebhook(server, owner, { url: r.url, events: ['SECRET_EXPIRING'] });
    await expiringSecret(server, owner, 'disabled/one', 'v');
    await waitFor('a first attempt', () => r.received.length >= 1);
    expectOk(await server.gql('mutation($id: ID!) { disableWebhook(id: $id) { enabled } }', { id: webhook.id }, owner.accessToken));
    await expiringSecret(server, owner, 'disabled/two', 'v');
    const rows = await waitFor('the queued delivery cancelled', async () => {
      const found = await deliveriesOf(server, owner, webhook.id);
      return found[0]?.status === 'CANCELLED' ? found : null;
    });
    expect(rows).toHaveLength(1); // nothing queued for the event raised while disabled
    expect(rows[0]).toMatchObject({ lastError: 'webhook_disabled', nextAttemptAt: null });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(r.received).toHaveLength(1);

    r.respond = () => ({ status: 204 });
    expectOk(await server.gql('mutation($id: ID!) { enableWebhook(id: $id) { enabled } }', { id: webhook.id }, owner.accessToken));
    await expiringSecret(server, owner, 'disabled/three', 'v');
    await waitFor('a delivery after enabling', () => r.received.some((x) => payloadOf(x).data.secretName === 'disabled/three'));
    expect(r.received.some((x) => payloadOf(x).data.secretName === 'disabled/two')).toBe(false);
  });

  it('after rotateWebhookSecret deliveries carry two signatures: the new secret and, during the grace period, the old one verify', async () => {
    const r = await receiver();
    const { webhook, signingSecret: oldSecret } = await mustCreateWebhook(server, owner, { url: r.url, events: ['SECRET_EXPIRING'] });
    const rotated = expectOk(
      await server.gql<{ rotateWebhookSecret: { signingSecret: string; webhook: { previousSecretValidUntil: string | null } } }>(
        'mutation($id: ID!) { rotateWebhookSecret(id: $id) { signingSecret webhook { previousSecretValidUntil } } }',
        { id: webhook.id },
        owner.accessToken,
      ),
    ).rotateWebhookSecret;
    expect(rotated.signingSecret).not.toBe(oldSecret);
    expect(new Date(rotated.webhook.previousSecretValidUntil!).getTime()).toBeGreaterThan(Date.now() + 23 * 3_600_000);
    await expiringSecret(server, owner, 'rotation/one', 'v');
    const [hit] = await waitFor('a delivery', () => (r.received.length ? r.received : null));
    expect(String(hit!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(() => new Webhook(rotated.signingSecret).verify(hit!.body, hit!.headers as Record<string, string>)).not.toThrow();
    expect(() => new Webhook(oldSecret).verify(hit!.body, hit!.headers as Record<string, string>)).not.toThrow();
  });

  it('one delivery per (event, endpoint): two webhooks each get the event once, with different webhook-ids', async () => {
    const a = await receiver();
    const b = await receiver();
    await mustCreateWebhook(server, owner, { url: a.url, events: ['SECRET_EXPIRING'] });
    await mustCreateWebhook(server, owner, { url: b.url, events: ['SECRET_EXPIRING'] });
    await expiringSecret(server, owner, 'fanout/one', 'v');
    const pick = (r: Receiver) => r.received.filter((x) => payloadOf(x).data.secretName === 'fanout/one');
    await waitFor('both', () => pick(a).length === 1 && pick(b).length === 1);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(pick(a)).toHaveLength(1);
    expect(pick(b)).toHaveLength(1);
    expect(payloadOf(pick(a)[0]!).data.eventId).toBe(payloadOf(pick(b)[0]!).data.eventId);
    expect(pick(a)[0]!.headers['webhook-id']).not.toBe(pick(b)[0]!.headers['webhook-id']);
  });

  it('deleting the tenant removes its webhooks, outbox events and deliveries, and nothing comes back', async () => {
    const r = await receiver();
    const tenant = await signUp(server, 'Leaving');
    await mustCreateWebhook(server, tenant, { url: r.url, events: ['SECRET_EXPIRING'] });
    await expiringSecret(server, tenant, 'leaving/one', 'v');
    await waitFor('a delivery', () => r.received.length >= 1);
    const slug = expectOk(await server.gql<{ me: { tenant: { slug: string } } }>('query { me { tenant { slug } } }', {}, tenant.accessToken)).me.tenant.slug;
    expectOk(await server.gql('mutation($slug: String!) { deleteTenant(confirmSlug: $slug) { state } }', { slug }, tenant.accessToken));
    await new Promise((resolve) => setTimeout(resolve, 1500)); // scans and delivery passes run meanwhile
    for (const name of ['webhooks', 'webhook_events', 'webhook_deliveries']) {
      expect(await server.db.collection(name).countDocuments({ tenantId: tenant.tenantId }), name).toBe(0);
    }
  });
});
