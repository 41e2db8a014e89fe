import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { CATCH_UP_MS } from '../../src/modules/webhooks/webhook-audit-source.js';
import { webhookRetention } from '../../src/modules/webhooks/webhook-retention.js';
import { DSR_DUE_SOON_DAYS } from '../../src/modules/webhooks/webhook-scan.js';
import { expectOk, signUp } from '../support/auth.js';
import { testEnv, type TestServer } from '../support/server.js';
import { mustCreateWebhook, payloadOf, Receiver, startWebhookServer, waitFor } from './support.js';

/**
 * Pruning (WEBHOOK_RETENTION_DAYS) never makes an event go out twice. The webhooks module's
 * clock is moved days ahead (`offset`), so scans, deliveries and pruning run "later" against the
 * real database while the secret stays as it was created.
 */
const DAY = 86_400_000;
let offset = 0;
let server: TestServer;
let receiver: Receiver;

beforeAll(async () => {
  // The shortest retention (1 day), far shorter than the 7-day warning period of SECRET_EXPIRING.
  server = await startWebhookServer({ WEBHOOK_RETENTION_DAYS: '1', WEBHOOK_EXPIRY_WARNING_DAYS: '7' }, undefined, { now: () => new Date(Date.now() + offset) });
  receiver = await new Receiver().start();
});
afterAll(async () => {
  if (process.env.WH_DEBUG) console.log(server.logs.filter((l) => /pruned|webhook\.|"level":[45]0/.test(l)).join('').slice(-6000));
  await server?.close();
  await receiver?.close();
});

/** Waits for at least two scans (each followed by a prune) to have run at the current offset. */
async function scansPass(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 2600));
}

describe('pruning the outbox', () => {
  it('deletes finished deliveries and old event records, and a scan after it sends nothing again (events still derivable are kept)', async () => {
    const owner = await signUp(server, 'Pruned');
    const { webhook } = await mustCreateWebhook(server, owner, { url: receiver.url, events: ['SECRET_EXPIRING', 'SECRET_EXPIRED'] });
    const res = await server.gql<{ createSecret: { id: string } }>('mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }', { i: { name: 'prune/one', value: 'v', expiresAt: new Date(Date.now() + 6.5 * DAY).toISOString() } }, owner.accessToken);
    expectOk(res);
    const types = () => receiver.received.map((r) => payloadOf(r).type);
    const count = (name: string) => server.db.collection(name).countDocuments({ tenantId: owner.tenantId });
    await waitFor('secret.expiring', () => types().includes('secret.expiring'));
    await waitFor('delivered', async () => (await server.db.collection('webhook_deliveries').countDocuments({ tenantId: owner.tenantId, status: 'DELIVERED' })) === 1);

    // Three days later: the delivery row is past the 1-day retention and pruned; the event record
    // is kept (the secret is still within its warning period, so every scan derives the event again).
    offset = 3 * DAY;
    await waitFor('the delivery pruned', async () => ((await count('webhook_deliveries')) === 0 ? true : null));
    await scansPass();
    expect(await count('webhook_events')).toBe(1);
    expect(types()).toEqual(['secret.expiring']);
    const log = expectOk(await server.gql<{ webhookDeliveries: { totalCount: number } }>('query($id: ID!) { webhookDeliveries(webhookId: $id) { totalCount } }', { id: webhook.id }, owner.accessToken));
    expect(log.webhookDeliveries.totalCount).toBe(0);

    // A week later the secret has expired: a new event (another type, another id).
    offset = 7 * DAY;
    await waitFor('secret.expired', () => types().includes('secret.expired'));

    // Twenty days later both records are past every derivation window and pruned; the expired
    // secret is still there, but its expiry is older than the retention, so no scan raises it again.
    offset = 20 * DAY;
    await waitFor('everything pruned', async () => ((await count('webhook_events')) + (await count('webhook_deliveries')) === 0 ? true : null));
    await scansPass();
    expect(await count('webhook_events')).toBe(0);
    expect(await count('webhook_deliveries')).toBe(0);
    expect(types()).toEqual(['secret.expiring', 'secret.expired']);
    expect(server.logs.some((l) => l.includes('"event":"webhook.pruned"'))).toBe(true);
    offset = 0;
  }, 90_000);

  it('pending deliveries are never deleted: a young one stays, one being sent stays; a finished one as old is deleted', async () => {
    const owner = await signUp(server, 'Pending');
    const row = (id: string, status: string, ageMs: number, leaseUntil: Date | null) => ({
      _id: `msg_${id.padStart(32, '0')}` as never,
      tenantId: owner.tenantId,
      webhookId: 'wh_none',
      eventId: 'whevt_none',
      eventType: 'SECRET_EXPIRING',
      payload: '{}',
      status,
      attempts: 1,
      // Not due, so the delivery job leaves them alone.
      nextAttemptAt: status === 'PENDING' ? new Date(Date.now() + 365 * DAY) : null,
      leaseOwner: leaseUntil ? 'another-instance' : null,
      leaseUntil,
      lastAttemptAt: null,
      lastHttpStatus: null,
      lastError: null,
      lastResponseSnippet: null,
      lastDurationMs: null,
      createdAt: new Date(Date.now() - ageMs),
      deliveredAt: null,
    });
    await server.db.collection('webhook_deliveries').insertMany([
      row('1', 'PENDING', 12 * 3_600_000, null), // within the 1-day retention
      row('2', 'PENDING', 2 * DAY, new Date(Date.now() + 60_000)), // past it, but being sent under a lease
      row('3', 'FAILED', 2 * DAY, null), // past it and finished
    ]);
    await scansPass();
    const left = await server.db.collection('webhook_deliveries').find({ tenantId: owner.tenantId }).sort({ _id: 1 }).toArray();
    expect(left.map((r) => [String(r._id).slice(-1), r.status])).toEqual([
      ['1', 'PENDING'],
      ['2', 'PENDING'],
    ]);
  }, 30_000);
});

describe('retention bounds', () => {
  it('WEBHOOK_RETENTION_DAYS defaults to 30 and refuses 0 and non-numbers at config load', () => {
    expect(loadConfig(testEnv(), { warn: () => {} }).webhooks.retentionDays).toBe(30);
    expect(() => loadConfig(testEnv({ WEBHOOK_RETENTION_DAYS: '0' }), { warn: () => {} })).toThrow(/WEBHOOK_RETENTION_DAYS/);
    expect(() => loadConfig(testEnv({ WEBHOOK_RETENTION_DAYS: 'month' }), { warn: () => {} })).toThrow(/WEBHOOK_RETENTION_DAYS/);
  });

  it('event records outlive every window an event can be derived again in (audit catch-up, warning periods), by a day', () => {
    for (const [days, warning] of [[1, 1], [1, 90], [30, 7], [3650, 7]] as const) {
      const r = webhookRetention(days, warning);
      expect(r.horizonMs).toBe(days * DAY);
      expect(r.deliveryKeepMs).toBe(days * DAY);
      expect(r.eventKeepMs).toBeGreaterThanOrEqual(Math.max(days * DAY, CATCH_UP_MS, warning * DAY, DSR_DUE_SOON_DAYS * DAY) + DAY);
    }
  });
});
