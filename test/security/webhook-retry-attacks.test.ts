import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapAdmin } from '../../src/cli/bootstrap-admin.js';
import { addMember, AUTH_FIELDS, expectCode, expectOk, login, signUp, uniqueEmail, type Signed } from '../support/auth.js';
import type { TestServer } from '../support/server.js';
import { deliveriesOf, mustCreateWebhook, Receiver, startWebhookServer, waitFor, type DeliveryShape } from '../webhooks/support.js';

/**
 * Attacks (i12, outsider review) on retryWebhookDelivery: malformed ids, a suspended tenant's
 * OWNER, a platform administrator who is no member, and whether the retry's audit entry or the
 * logs carry the webhook URL (which may hold a credential in its path). Each is refused or clean.
 */
let server: TestServer;
let adminToken: string;
const receivers: Receiver[] = [];
const RETRY = 'mutation($id: ID!) { retryWebhookDelivery(id: $id) { id status } }';
const URL_SECRET = 'path-credential-9f3kq';
const ADMIN_PASSWORD = 'cobalt-Orchard-whistle-58';

beforeAll(async () => {
  server = await startWebhookServer({ WEBHOOK_SCAN_INTERVAL_SECONDS: '86400' });
  const email = uniqueEmail('padmin');
  await bootstrapAdmin(server.db, server.config, email, async () => ADMIN_PASSWORD);
  adminToken = expectOk(await login(server, email, ADMIN_PASSWORD)).login.accessToken;
});
afterAll(async () => {
  await server?.close();
  await Promise.all(receivers.map((r) => r.close()));
});

/** A webhook (URL with a credential in its path) whose only delivery was given up. */
async function givenUp(tenant: Signed): Promise<DeliveryShape> {
  const r = await new Receiver().start();
  receivers.push(r);
  r.respond = () => ({ status: 503 });
  const { webhook } = await mustCreateWebhook(server, tenant, { url: `${r.url}/${URL_SECRET}`, events: ['REFRESH_TOKEN_REUSED'] });
  const member = await addMember(server, tenant, 'USER');
  const refresh = `mutation($t: String!) { refreshToken(refreshToken: $t) { ${AUTH_FIELDS} } }`;
  expectOk(await server.gql(refresh, { t: member.refreshToken }));
  expectCode(await server.gql(refresh, { t: member.refreshToken }), 'UNAUTHENTICATED');
  const [row] = await waitFor('given up', async () => {
    const rows = await deliveriesOf(server, tenant, webhook.id);
    return rows[0]?.status === 'FAILED' ? rows : null;
  });
  return row!;
}

const statusOf = async (id: string) => (await server.db.collection('webhook_deliveries').findOne({ _id: id as never }))?.status;

describe('retryWebhookDelivery under attack', () => {
  it('malformed ids get a clear code (never INTERNAL_SERVER_ERROR), and change nothing', async () => {
    const owner = await signUp(server, 'Malformed');
    const row = await givenUp(owner);
    for (const id of ['', ' ', 'x'.repeat(10_000), 'msg_\u0000', 'msg_💥', `${row.id}\u200b`, row.id.toUpperCase(), '{"$ne":null}']) {
      const res = await server.gql(RETRY, { id }, owner.accessToken);
      expect(['NOT_FOUND', 'BAD_USER_INPUT'], id.slice(0, 40)).toContain(res.errors?.[0]?.extensions.code);
    }
    for (const id of [{ $ne: null }, ['x'], 12]) {
      const res = await server.gql(RETRY, { id }, owner.accessToken);
      expect(['NOT_FOUND', 'BAD_USER_INPUT']).toContain(res.errors?.[0]?.extensions.code);
    }
    expect(await statusOf(row.id)).toBe('FAILED');
  }, 60_000);

  it('a suspended tenant\'s OWNER and a platform administrator who is no member cannot retry; the row stays FAILED', async () => {
    const owner = await signUp(server, 'Suspended');
    const row = await givenUp(owner);
    expect(await server.gql(RETRY, { id: row.id }, adminToken).then((r) => r.errors?.[0]?.extensions.code)).toMatch(/^(FORBIDDEN|NOT_FOUND)$/);
    expectOk(await server.gql('mutation($id: ID!) { suspendTenant(id: $id) { status } }', { id: owner.tenantId }, adminToken));
    const res = await server.gql(RETRY, { id: row.id }, owner.accessToken);
    expect(['FORBIDDEN', 'UNAUTHENTICATED']).toContain(res.errors?.[0]?.extensions.code);
    expect(await statusOf(row.id)).toBe('FAILED');
  }, 60_000);

  it('the retry\'s audit entry and the logs name neither the URL nor its path credential', async () => {
    const owner = await signUp(server, 'Quiet');
    const row = await givenUp(owner);
    expect(expectOk(await server.gql<{ retryWebhookDelivery: { status: string } }>(RETRY, { id: row.id }, owner.accessToken)).retryWebhookDelivery.status).toBe('PENDING');
    const audit = await server.db.collection('audit_events').find({ action: 'webhook.delivery_retried' }).toArray();
    expect(audit.length).toBeGreaterThan(0);
    expect(JSON.stringify(audit)).not.toContain(URL_SECRET);
    expect(server.logs.join('')).not.toContain(URL_SECRET);
  }, 60_000);
});
