import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapAdmin } from '../../src/cli/bootstrap-admin.js';
import { expectOk, login, signUp, uniqueEmail, type Signed } from '../support/auth.js';
import type { TestServer } from '../support/server.js';
import { expiringSecret, mustCreateWebhook, payloadOf, Receiver, startWebhookServer, waitFor } from './support.js';

/**
 * A SUSPENDED tenant's deliveries are held: not claimed, nothing sent, attempts and due times
 * kept; events raised meanwhile are queued and held too. Reactivated, they go out (a held
 * delivery older than WEBHOOK_RETENTION_DAYS is cancelled as `expired` instead).
 */
let server: TestServer;
let receiver: Receiver;
let adminToken: string;
const ADMIN_PASSWORD = 'cobalt-Orchard-whistle-58';
const DAY = 86_400_000;

beforeAll(async () => {
  // A failed attempt is retried 2.5–5 s later: time to suspend the tenant in between.
  server = await startWebhookServer({ WEBHOOK_BACKOFF_BASE_MS: '5000', WEBHOOK_BACKOFF_MAX_MS: '5000' });
  receiver = await new Receiver().start();
  const email = uniqueEmail('padmin');
  await bootstrapAdmin(server.db, server.config, email, async () => ADMIN_PASSWORD);
  adminToken = expectOk(await login(server, email, ADMIN_PASSWORD)).login.accessToken;
});
afterAll(async () => {
  if (process.env.WH_DEBUG) console.log(server.logs.filter((l) => /pruned|scan|"level":[45]0/.test(l)).join('').slice(-6000));
  await server?.close();
  await receiver?.close();
});

const setStatus = async (tenantId: string, op: 'suspendTenant' | 'reactivateTenant') =>
  expectOk(await server.gql(`mutation($id: ID!) { ${op}(id: $id) { status } }`, { id: tenantId }, adminToken));

/** A secret expiring in 20 days (no event yet): moving its expiry to 2 days later raises SECRET_EXPIRING at the next scan. */
async function laterSecret(owner: Signed, name: string): Promise<string> {
  const res = await server.gql<{ createSecret: { id: string } }>('mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }', { i: { name, value: 'v', expiresAt: new Date(Date.now() + 20 * DAY).toISOString() } }, owner.accessToken);
  return expectOk(res).createSecret.id;
}

const rowsOf = (tenantId: string) => server.db.collection<{ _id: string; eventId: string; status: string; attempts: number; lastError: string | null }>('webhook_deliveries').find({ tenantId }).toArray();

describe('a suspended tenant', () => {
  it('receives nothing over many delivery passes (held: not claimed), events raised meanwhile are held too, and all of it arrives after reactivation', async () => {
    const owner = await signUp(server, 'Suspended');
    receiver.respond = (_req, index) => (index === 0 ? { status: 500 } : { status: 204 });
    await mustCreateWebhook(server, owner, { url: receiver.url, events: ['SECRET_EXPIRING'] });
    const fresh = await laterSecret(owner, 'held/fresh');
    const stale = await laterSecret(owner, 'held/stale');
    await expiringSecret(server, owner, 'held/first', 'v');
    await waitFor('the first (failed) attempt', () => receiver.received.length >= 1);
    const firstId = receiver.received[0]!.headers['webhook-id'];
    await setStatus(owner.tenantId, 'suspendTenant');
    const suspendedAt = Date.now();

    // Raised while suspended: two more events (their secrets now expire within the warning period).
    for (const id of [fresh, stale]) await server.db.collection('secrets').updateOne({ _id: id as never }, { $set: { expiresAt: new Date(Date.now() + 2 * DAY) } });
    await waitFor('three queued deliveries', async () => ((await rowsOf(owner.tenantId)).length === 3 ? true : null));
    const tenantReadsBefore = server.commands.filter((c) => c === 'find:tenants').length;
    // The first row's retry fell due 2.5–5 s after its attempt; passes run every 100 ms.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, suspendedAt + 6000 - Date.now())));
    const tenantReads = server.commands.filter((c) => c === 'find:tenants').length - tenantReadsBefore;
    expect(receiver.received).toHaveLength(1);
    const held = await rowsOf(owner.tenantId);
    expect(held.map((r) => r.status)).toEqual(['PENDING', 'PENDING', 'PENDING']);
    expect(held.map((r) => r.attempts).sort()).toEqual([0, 0, 1]); // not even claimed
    console.log(`tenant-status reads by the delivery job while holding 3 rows for ~6 s: ${tenantReads}`);

    // One held row is older than the retention (30 days): the next prune cancels it (`expired`),
    // and, being finished and that old, deletes it; it is never sent.
    const staleEvent = (await server.db.collection('webhook_deliveries').find({ tenantId: owner.tenantId }).toArray()).find((r) => String(r.payload).includes('held/stale'))!;
    await server.db.collection('webhook_deliveries').updateOne({ _id: staleEvent._id }, { $set: { createdAt: new Date(Date.now() - 31 * DAY) } });
    await waitFor('the stale row expired and pruned', async () => ((await rowsOf(owner.tenantId)).length === 2 ? true : null));
    expect(server.logs.some((l) => l.includes('"event":"webhook.pruned","expired":1'))).toBe(true);

    await setStatus(owner.tenantId, 'reactivateTenant');
    await waitFor('the held deliveries', () => receiver.received.length >= 3);
    const names = receiver.received.map((r) => payloadOf(r).data.secretName);
    expect(names).toEqual(expect.arrayContaining(['held/first', 'held/first', 'held/fresh']));
    // The retried one keeps its webhook-id.
    expect(receiver.received.filter((r) => r.headers['webhook-id'] === firstId)).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(receiver.received).toHaveLength(3);
    expect(names).not.toContain('held/stale');
    const after = await rowsOf(owner.tenantId);
    expect(after.filter((r) => r.status === 'DELIVERED')).toHaveLength(2);
  }, 60_000);

  it('another tenant\'s deliveries are not held by it', async () => {
    const other = await new Receiver().start();
    try {
      const suspended = await signUp(server, 'Quiet');
      const active = await signUp(server, 'Busy');
      await mustCreateWebhook(server, suspended, { url: other.url, events: ['SECRET_EXPIRING'] });
      await mustCreateWebhook(server, active, { url: other.url, events: ['SECRET_EXPIRING'] });
      const quietSecret = await laterSecret(suspended, 'quiet/one');
      await setStatus(suspended.tenantId, 'suspendTenant');
      await server.db.collection('secrets').updateOne({ _id: quietSecret as never }, { $set: { expiresAt: new Date(Date.now() + 2 * DAY) } });
      await expiringSecret(server, active, 'busy/one', 'v');
      await waitFor('the active tenant\'s delivery', () => other.received.length >= 1);
      await waitFor('the suspended tenant\'s row queued', async () => ((await rowsOf(suspended.tenantId)).length === 1 ? true : null));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(other.received.map((r) => payloadOf(r).data.secretName)).toEqual(['busy/one']);
      await setStatus(suspended.tenantId, 'reactivateTenant');
    } finally {
      await other.close();
    }
  }, 60_000);
});
