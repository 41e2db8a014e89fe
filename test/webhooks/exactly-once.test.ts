import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, type Signed } from '../support/auth.js';
import { testEnv, type TestServer } from '../support/server.js';
import { deliveriesOf, expiringSecret, mustCreateWebhook, Receiver, startWebhookServer, waitFor } from './support.js';

/**
 * Two app instances on one database, both running the scan and the delivery job: every event
 * reaches the receiver exactly once (one outbox event, one delivery row, claimed by one instance).
 */
const EVENTS = 30;
let a: TestServer;
let b: TestServer;
let owner: Signed;
let receiver: Receiver;

beforeAll(async () => {
  const dbName = `w_${randomUUID().slice(0, 8)}`;
  const { VAULT_MASTER_KEYS, VAULT_ACTIVE_MASTER_KEY, JWT_PRIVATE_KEY } = testEnv();
  const shared = { VAULT_MASTER_KEYS: VAULT_MASTER_KEYS!, VAULT_ACTIVE_MASTER_KEY: VAULT_ACTIVE_MASTER_KEY!, JWT_PRIVATE_KEY: JWT_PRIVATE_KEY!, WEBHOOK_DELIVERY_INTERVAL_MS: '50' };
  a = await startWebhookServer(shared, dbName);
  b = await startWebhookServer(shared, dbName);
  owner = await signUp(a, 'Twice');
  receiver = await new Receiver().start();
  receiver.respond = () => ({ status: 200, delayMs: 20 }); // slow enough for both instances to be busy at once
});
afterAll(async () => {
  await b?.close();
  await a?.db.dropDatabase().catch(() => {});
  await a?.close();
  await receiver?.close();
});

describe('two instances', () => {
  it(`deliver ${EVENTS} events exactly once each`, async () => {
    const { webhook } = await mustCreateWebhook(a, owner, { url: receiver.url, events: ['SECRET_EXPIRING'] });
    for (let i = 0; i < EVENTS; i += 1) await expiringSecret(i % 2 ? a : b, owner, `once/${i}`, `value-${i}`);
    await waitFor(`${EVENTS} deliveries`, () => receiver.received.length >= EVENTS, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 2500)); // both scans and both delivery jobs keep running
    const ids = receiver.received.map((r) => String(r.headers['webhook-id']));
    expect(ids).toHaveLength(EVENTS);
    expect(new Set(ids).size).toBe(EVENTS);
    const rows = await deliveriesOf(a, owner, webhook.id);
    expect(rows.filter((r) => r.status === 'DELIVERED' && r.attempts === 1)).toHaveLength(Math.min(EVENTS, 20)); // the first page
    expect(await a.db.collection('webhook_events').countDocuments({})).toBe(EVENTS);
    expect(await a.db.collection('webhook_deliveries').countDocuments({})).toBe(EVENTS);
    const deliveredBy = (s: TestServer) => s.logs.filter((line) => line.includes('"event":"webhook.delivered"')).length;
    expect(deliveredBy(a) + deliveredBy(b)).toBe(EVENTS);
    console.log(`deliveries by instance: a=${deliveredBy(a)} b=${deliveredBy(b)}`);
  });
});
