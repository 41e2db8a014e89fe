import { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { createApp, type CofferApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { expectOk, signUp } from '../support/auth.js';
import { testEnv, type TestServer } from '../support/server.js';
import { expiringSecret, mustCreateWebhook, Receiver, waitFor, WEBHOOK_TEST_ENV } from './support.js';

/** The delivery job's optional counters (for the metrics module): delivered, failed, gave up. */
const counts = { delivered: 0, failed: 0, gaveUp: 0 };
let app: CofferApp;
let client: MongoClient;
let server: TestServer;

beforeAll(async () => {
  const config = loadConfig(testEnv(WEBHOOK_TEST_ENV), { warn: () => {} });
  client = new MongoClient(inject('mongoUri'));
  await client.connect();
  const db = client.db(`m_${randomUUID().slice(0, 8)}`);
  const logger = createLogger('silent', new Writable({ write: (_c, _e, done) => done() }));
  app = await createApp({
    config,
    db,
    logger,
    webhooks: { metrics: { delivered: () => (counts.delivered += 1), failed: () => (counts.failed += 1), gaveUp: () => (counts.gaveUp += 1) } },
  });
  const { url } = await app.listen(0, '127.0.0.1');
  server = {
    url, config, db, logs: [], writes: [], commands: [],
    async gql(query, variables, token) {
      const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify({ query, variables }) });
      return { status: res.status, headers: res.headers, ...((await res.json()) as object) } as never;
    },
    close: async () => {},
  };
});
afterAll(async () => {
  await app?.close();
  await server?.db.dropDatabase().catch(() => {});
  await client?.close();
});

describe('delivery metrics hook', () => {
  it('counts deliveries, failed attempts and give-ups', async () => {
    const ok = await new Receiver().start();
    const broken = await new Receiver().start();
    broken.respond = () => ({ status: 500 });
    try {
      const owner = await signUp(server, 'Metrics');
      await mustCreateWebhook(server, owner, { url: ok.url, events: ['SECRET_EXPIRING'] });
      await mustCreateWebhook(server, owner, { url: broken.url, events: ['SECRET_EXPIRING'] });
      await expiringSecret(server, owner, 'metrics/one', 'v');
      await waitFor('one delivered, one given up', () => counts.delivered === 1 && counts.gaveUp === 1);
      expect(counts).toEqual({ delivered: 1, failed: 3, gaveUp: 1 }); // WEBHOOK_MAX_ATTEMPTS=3: every failed attempt counts, the last also as given up
      expectOk(await server.gql('query { webhooks { totalCount } }', {}, owner.accessToken));
    } finally {
      await ok.close();
      await broken.close();
    }
  });
});
