import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, type Signed } from '../support/auth.js';
import type { TestServer } from '../support/server.js';
import { expiringSecret, mustCreateWebhook, Receiver, startWebhookServer, waitFor, deliveriesOf } from '../webhooks/support.js';
import { parseExposition, scrape, valueOf } from './support.js';

/** The webhook delivery job's outcomes reach /metrics (coffer_webhook_deliveries_total), wired in createApp. */
let server: TestServer;
let owner: Signed;
const ok = new Receiver();
const broken = new Receiver();

beforeAll(async () => {
  await ok.start();
  await broken.start();
  broken.respond = () => ({ status: 500 });
  server = await startWebhookServer({ WEBHOOK_MAX_ATTEMPTS: '2' });
  owner = await signUp(server, 'Webhook Metrics');
});
afterAll(async () => {
  await server?.close();
  await ok.close();
  await broken.close();
});

describe('webhook delivery metrics', () => {
  it('counts a delivered attempt, a failed one and a delivery given up, with nothing but the outcome as a label', async () => {
    const good = await mustCreateWebhook(server, owner, { url: ok.url, events: ['SECRET_EXPIRING'] });
    const bad = await mustCreateWebhook(server, owner, { url: broken.url, events: ['SECRET_EXPIRING'] });
    await expiringSecret(server, owner, 'metrics/expiring', 'value-never-in-metrics-7f3a');
    await waitFor('the delivery', () => ok.ofType('secret.expiring').length > 0, 30_000);
    await waitFor('the failed delivery to be given up', async () => (await deliveriesOf(server, owner, bad.webhook.id)).some((d) => d.status === 'FAILED'), 30_000);
    expect((await deliveriesOf(server, owner, good.webhook.id)).some((d) => d.status === 'DELIVERED')).toBe(true);
    const { text } = await scrape(`${server.url}/metrics`);
    const { samples } = parseExposition(text);
    expect(valueOf(samples, 'coffer_webhook_deliveries_total', { outcome: 'delivered' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'coffer_webhook_deliveries_total', { outcome: 'failed' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'coffer_webhook_deliveries_total', { outcome: 'gave_up' })).toBe(1);
    for (const line of text.split('\n').filter((l) => l.startsWith('coffer_webhook_deliveries_total'))) expect(line).toMatch(/^coffer_webhook_deliveries_total\{outcome="(delivered|failed|gave_up)"\} \d+$/);
    for (const leak of [ok.url, broken.url, good.webhook.id, owner.tenantId, 'metrics/expiring', 'value-never-in-metrics-7f3a']) expect(text).not.toContain(leak);
  }, 90_000);
});
