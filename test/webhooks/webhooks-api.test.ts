import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEBHOOK_EVENT_TYPES } from '../../src/modules/webhooks/webhook-events.js';
import { AUDIT_CATALOGUE } from '../../src/modules/audit/audit-catalogue.js';
import { addMember, expectCode, expectOk, signUp, type Signed } from '../support/auth.js';
import type { TestServer } from '../support/server.js';
import { auditActions } from '../support/vault.js';
import { createWebhook, mustCreateWebhook, startWebhookServer, WEBHOOK_FIELDS, type WebhookShape } from './support.js';

let server: TestServer;
let owner: Signed;
const URL_A = 'http://127.0.0.1:9/a';

beforeAll(async () => {
  server = await startWebhookServer({ WEBHOOK_DELIVERY_INTERVAL_MS: '600000', WEBHOOK_SCAN_INTERVAL_SECONDS: '86400' });
  owner = await signUp(server, 'Api');
});
afterAll(async () => {
  await server?.close();
});

const LIST = `query($first: Int, $after: String) { webhooks(first: $first, after: $after) { edges { cursor node { ${WEBHOOK_FIELDS} } } pageInfo { hasNextPage endCursor } totalCount } }`;
type ListShape = { webhooks: { edges: { cursor: string; node: WebhookShape }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null }; totalCount: number } };
const OPS = {
  disable: 'mutation($id: ID!) { disableWebhook(id: $id) { id enabled } }',
  enable: 'mutation($id: ID!) { enableWebhook(id: $id) { id enabled } }',
  rotate: 'mutation($id: ID!) { rotateWebhookSecret(id: $id) { signingSecret } }',
  deliveries: 'query($id: ID!) { webhookDeliveries(webhookId: $id) { totalCount } }',
  delete: 'mutation($id: ID!) { deleteWebhook(id: $id) }',
};

describe('registering and managing webhooks', () => {
  it('createWebhook returns the webhook and its whsec_ secret once; lists page oldest first; everything is audited', async () => {
    const tenant = await signUp(server, 'Listing');
    const first = await mustCreateWebhook(server, tenant, { url: URL_A, events: ['SECRET_EXPIRING', 'SECRET_EXPIRING', 'DSR_OVERDUE'], description: '  pager duty  ' });
    expect(first.signingSecret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(first.webhook).toMatchObject({ url: URL_A, events: ['SECRET_EXPIRING', 'DSR_OVERDUE'], description: 'pager duty', enabled: true, previousSecretValidUntil: null });
    const second = await mustCreateWebhook(server, tenant, { url: 'http://127.0.0.1:9/b', events: ['ACCOUNT_LOCKED'] });
    const third = await mustCreateWebhook(server, tenant, { url: 'http://127.0.0.1:9/c', events: ['ACCOUNT_LOCKED'] });
    const page1 = expectOk(await server.gql<ListShape>(LIST, { first: 2 }, tenant.accessToken)).webhooks;
    expect(page1.edges.map((e) => e.node.id)).toEqual([first.webhook.id, second.webhook.id]);
    expect(page1).toMatchObject({ pageInfo: { hasNextPage: true }, totalCount: 3 });
    const page2 = expectOk(await server.gql<ListShape>(LIST, { first: 2, after: page1.pageInfo.endCursor }, tenant.accessToken)).webhooks;
    expect(page2.edges.map((e) => e.node.id)).toEqual([third.webhook.id]);
    expect(page2.pageInfo.hasNextPage).toBe(false);

    expect(expectOk(await server.gql<{ disableWebhook: { enabled: boolean } }>(OPS.disable, { id: second.webhook.id }, tenant.accessToken)).disableWebhook.enabled).toBe(false);
    expect(expectOk(await server.gql<{ enableWebhook: { enabled: boolean } }>(OPS.enable, { id: second.webhook.id }, tenant.accessToken)).enableWebhook.enabled).toBe(true);
    const rotated = expectOk(await server.gql<{ rotateWebhookSecret: { signingSecret: string } }>(OPS.rotate, { id: second.webhook.id }, tenant.accessToken)).rotateWebhookSecret;
    expect(rotated.signingSecret).toMatch(/^whsec_/);
    expect(rotated.signingSecret).not.toBe(second.signingSecret);
    expect(expectOk(await server.gql<{ deleteWebhook: boolean }>(OPS.delete, { id: third.webhook.id }, tenant.accessToken)).deleteWebhook).toBe(true);
    expectCode(await server.gql(OPS.delete, { id: third.webhook.id }, tenant.accessToken), 'NOT_FOUND');
    expect(expectOk(await server.gql<ListShape>(LIST, {}, tenant.accessToken)).webhooks.totalCount).toBe(2);

    const actions = (await auditActions(server, tenant.tenantId)).filter((a) => a.startsWith('webhook.'));
    expect(actions).toEqual(['webhook.created', 'webhook.created', 'webhook.created', 'webhook.disabled', 'webhook.enabled', 'webhook.secret_rotated', 'webhook.deleted']);
    const created = await server.db.collection('audit_events').findOne({ tenantId: tenant.tenantId, action: 'webhook.created' });
    expect(created?.details).toEqual({ events: ['SECRET_EXPIRING', 'DSR_OVERDUE'] });
    const audit = JSON.stringify(await server.db.collection('audit_events').find({ tenantId: tenant.tenantId }).toArray());
    expect(audit).not.toContain('whsec_');
    expect(audit).not.toContain(first.signingSecret.slice(6));
  });

  it('the signing secret is stored only sealed: neither its text nor its bytes appear in the raw collection', async () => {
    const { webhook, signingSecret } = await mustCreateWebhook(server, owner, { url: URL_A, events: ['SECRET_EXPIRED'] });
    const rotated = expectOk(await server.gql<{ rotateWebhookSecret: { signingSecret: string } }>(OPS.rotate, { id: webhook.id }, owner.accessToken)).rotateWebhookSecret.signingSecret;
    const docs = await server.db.collection('webhooks').find({}).toArray();
    const doc = docs.find((d) => d._id === (webhook.id as never))!;
    expect(doc.previousSecret).not.toBeNull();
    const text = JSON.stringify(docs);
    for (const secret of [signingSecret, rotated]) {
      const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
      expect(key).toHaveLength(32);
      expect(text).not.toContain(secret.slice('whsec_'.length));
      for (const d of docs) {
        for (const sealed of [d.secret, d.previousSecret].filter(Boolean)) {
          const blob = Buffer.from(sealed.ciphertext.buffer);
          expect(blob.includes(key)).toBe(false);
          expect(blob.includes(key.subarray(0, 8))).toBe(false);
        }
      }
    }
    // No signing secret anywhere else either.
    for (const name of ['webhook_events', 'webhook_deliveries', 'audit_events']) {
      expect(JSON.stringify(await server.db.collection(name).find({}).toArray())).not.toContain(signingSecret.slice(6));
    }
  });

  it('refuses bad input with BAD_USER_INPUT and writes nothing', async () => {
    const before = await server.db.collection('webhooks').countDocuments({});
    const cases: [Record<string, unknown>, string][] = [
      [{ url: URL_A, events: [] }, 'events'],
      [{ url: URL_A, events: ['SECRET_EXPIRED'], description: 'd'.repeat(501) }, 'description'],
      [{ url: 'not a url', events: ['SECRET_EXPIRED'] }, 'url'],
      [{ url: 'ftp://example.com/x', events: ['SECRET_EXPIRED'] }, 'url'],
      [{ url: 'http://user:pass@127.0.0.1:9/x', events: ['SECRET_EXPIRED'] }, 'url'],
      [{ url: `http://127.0.0.1:9/${'a'.repeat(2100)}`, events: ['SECRET_EXPIRED'] }, 'url'],
      [{ url: 'http://127.0.0.1:9/x#frag', events: ['SECRET_EXPIRED'] }, 'url'],
    ];
    for (const [input, field] of cases) {
      const res = await createWebhook(server, owner, input as never);
      expectCode(res, 'BAD_USER_INPUT');
      expect(res.errors![0]!.message.startsWith(`${field}:`), res.errors![0]!.message).toBe(true);
      expect(res.errors![0]!.message).not.toContain('pass@');
    }
    expectCode(await createWebhook(server, owner, { url: URL_A, events: ['NOT_AN_EVENT'] }), 'BAD_USER_INPUT');
    expect(await server.db.collection('webhooks').countDocuments({})).toBe(before);
  });

  it('limits a tenant to 20 webhooks (CONFLICT)', async () => {
    const tenant = await signUp(server, 'Many');
    for (let i = 0; i < 20; i += 1) await mustCreateWebhook(server, tenant, { url: `${URL_A}${i}`, events: ['SECRET_EXPIRED'] });
    expectCode(await createWebhook(server, tenant, { url: URL_A, events: ['SECRET_EXPIRED'] }), 'CONFLICT');
  });

  it('cursors of other connections are refused', async () => {
    expectCode(await server.gql(LIST, { after: 'bm9wZQ' }, owner.accessToken), 'BAD_USER_INPUT');
    const { webhook } = await mustCreateWebhook(server, owner, { url: URL_A, events: ['SECRET_EXPIRED'] });
    expectCode(await server.gql('query($id: ID!, $a: String) { webhookDeliveries(webhookId: $id, after: $a) { totalCount } }', { id: webhook.id, a: 'bm9wZQ' }, owner.accessToken), 'BAD_USER_INPUT');
  });
});

describe('who may', () => {
  it('MANAGER and USER members are refused every webhook operation (FORBIDDEN, audited); ADMIN may', async () => {
    const { webhook } = await mustCreateWebhook(server, owner, { url: URL_A, events: ['SECRET_EXPIRED'] });
    const manager = await addMember(server, owner, 'MANAGER');
    const user = await addMember(server, owner, 'USER');
    const admin = await addMember(server, owner, 'ADMIN');
    for (const who of [manager, user]) {
      expectCode(await createWebhook(server, who, { url: URL_A, events: ['SECRET_EXPIRED'] }), 'FORBIDDEN');
      expectCode(await server.gql(LIST, {}, who.accessToken), 'FORBIDDEN');
      for (const op of Object.values(OPS)) expectCode(await server.gql(op, { id: webhook.id }, who.accessToken), 'FORBIDDEN');
    }
    expect(expectOk(await server.gql<ListShape>(LIST, {}, admin.accessToken)).webhooks.totalCount).toBeGreaterThan(0);
    await mustCreateWebhook(server, admin, { url: URL_A, events: ['SECRET_EXPIRED'] });
    const denied = await server.db.collection('audit_events').countDocuments({ tenantId: owner.tenantId, action: 'permission.denied', 'actor.id': { $in: [manager.userId, user.userId] } });
    expect(denied).toBeGreaterThanOrEqual(2 * (2 + Object.keys(OPS).length));
  });

  it('API keys are refused (no scope covers webhooks)', async () => {
    const key = expectOk(
      await server.gql<{ createApiKey: { apiKey: string } }>('mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey } }', { i: { name: 'svc', role: 'ADMIN', prefixes: ['*'] } }, owner.accessToken),
    ).createApiKey.apiKey;
    expectCode(await server.gql(LIST, {}, key), 'FORBIDDEN');
    expectCode(await server.gql('mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { signingSecret } }', { i: { url: URL_A, events: ['SECRET_EXPIRED'] } }, key), 'FORBIDDEN');
  });

  it('anonymous callers are UNAUTHENTICATED', async () => {
    expectCode(await server.gql(LIST, {}), 'UNAUTHENTICATED');
  });

  it('another tenant\'s webhook ids are NOT_FOUND for every operation, and nothing changes', async () => {
    const { webhook } = await mustCreateWebhook(server, owner, { url: URL_A, events: ['SECRET_EXPIRED'] });
    const stranger = await signUp(server, 'Stranger');
    const before = await server.db.collection('webhooks').findOne({ _id: webhook.id as never });
    for (const op of Object.values(OPS)) expectCode(await server.gql(op, { id: webhook.id }, stranger.accessToken), 'NOT_FOUND');
    expect(await server.db.collection('webhooks').findOne({ _id: webhook.id as never })).toEqual(before);
    expect(expectOk(await server.gql<ListShape>(LIST, {}, stranger.accessToken)).webhooks.totalCount).toBe(0);
  });
});

describe('vocabulary', () => {
  it('the audit catalogue records the same event types as the webhooks module declares', () => {
    const spec = AUDIT_CATALOGUE['webhook.created'].details.events as unknown as { values: readonly string[] };
    expect([...spec.values]).toEqual([...WEBHOOK_EVENT_TYPES]);
  });
});
