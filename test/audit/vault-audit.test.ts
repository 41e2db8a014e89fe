import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, expectOk, login, signUp, type Signed } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { mustCreate, reveal, updateSecret } from '../support/vault.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ KEY_RETIRE_GRACE_SECONDS: '0' });
});
afterAll(async () => server?.close());

interface StoredEvent {
  seq: number;
  action: string;
  outcome: string;
  actor: { type: string; id: string | null };
  resource: { type: string; id: string | null };
  requestId: string | null;
  details: Record<string, unknown>;
}

async function eventsAfter(tenantId: string, seq: number): Promise<StoredEvent[]> {
  return (await server.db.collection('audit_events').find({ tenantId, seq: { $gt: seq } }).sort({ seq: 1 }).toArray()) as unknown as StoredEvent[];
}

async function head(tenantId: string): Promise<number> {
  const last = await server.db.collection('audit_events').find({ tenantId }).sort({ seq: -1 }).limit(1).toArray();
  return Number(last[0]?.seq ?? 0);
}

/** Runs `step` and returns the actions it appended to the tenant's chain, in order. */
async function actionsOf(tenantId: string, step: () => Promise<unknown>): Promise<string[]> {
  const from = await head(tenantId);
  await step();
  return (await eventsAfter(tenantId, from)).map((e) => e.action);
}

describe('every vault operation leaves exactly its events', () => {
  let owner: Signed;
  beforeAll(async () => {
    owner = await signUp(server, 'Audited');
  });
  const t = () => owner.tenantId;
  const gql = (q: string, v: Record<string, unknown> = {}) => server.gql(q, v, owner.accessToken);

  it('create, update, reveal, delete, restore, destroy, purge', async () => {
    expect(await actionsOf(t(), () => mustCreate(server, owner, 'a/one', 'audit-me-1'))).toEqual(['secret.created']);
    expect(await actionsOf(t(), () => updateSecret(server, owner, { name: 'a/one', value: 'audit-me-2' }))).toEqual(['secret.updated']);
    expect(await actionsOf(t(), () => updateSecret(server, owner, { name: 'a/one', description: 'd' }))).toEqual(['secret.updated']);
    expect(await actionsOf(t(), () => reveal(server, owner, 'a/one'))).toEqual(['secret.revealed']);
    expect(await actionsOf(t(), () => gql('{ secrets { edges { node { name versions { version } rotation { isRotationDue } } } } }'))).toEqual([]);
    expect(await actionsOf(t(), () => gql('mutation { destroySecretVersions(name: "a/one", versions: [1]) { id } }'))).toEqual(['secret.versions_destroyed']);
    expect(await actionsOf(t(), () => gql('mutation { deleteSecret(name: "a/one") { id } }'))).toEqual(['secret.deleted']);
    expect(await actionsOf(t(), () => gql('mutation { restoreSecret(name: "a/one") { id } }'))).toEqual(['secret.restored']);
    await gql('mutation { deleteSecret(name: "a/one") { id } }');
    expect(await actionsOf(t(), () => gql('mutation { purgeSecret(name: "a/one") }'))).toEqual(['secret.purged']);
  });

  it('bulk writes and imports: one event per written secret', async () => {
    expect(await actionsOf(t(), () => gql('mutation { setSecrets(items: [{ name: "b/x", value: "1" }, { name: "b/y", value: "2" }]) { ok } }'))).toEqual(['secret.created', 'secret.created']);
    expect(await actionsOf(t(), () => gql('mutation { importSecrets(dotenv: "x=3\\nZ=4", prefix: "b/") { ok } }'))).toEqual(['secret.updated', 'secret.created']);
  });

  it('API keys: created, revoked; a key\'s reveals name the key as actor', async () => {
    let id = '';
    let apiKey = '';
    expect(
      await actionsOf(t(), async () => {
        const res = expectOk(await gql('mutation { createApiKey(input: { name: "ci", role: USER, prefixes: ["b/"] }) { apiKey key { id } } }')) as { createApiKey: { apiKey: string; key: { id: string } } };
        id = res.createApiKey.key.id;
        apiKey = res.createApiKey.apiKey;
      }),
    ).toEqual(['apikey.created']);
    const from = await head(t());
    expectOk(await reveal(server, apiKey, 'b/x'));
    const [revealed] = await eventsAfter(t(), from);
    expect(revealed).toMatchObject({ action: 'secret.revealed', actor: { type: 'API_KEY', id } });
    expect(await actionsOf(t(), () => gql('mutation($id: ID!) { revokeApiKey(id: $id) }', { id }))).toEqual(['apikey.revoked']);
  });

  it('key rotation', async () => {
    const actions = await actionsOf(t(), async () => {
      expectOk(await gql('mutation { rotateTenantKey { activeDekVersion } }'));
      for (let i = 0; i < 50; i++) {
        const s = expectOk(await gql('{ tenantKeyStatus { reencryption { state } } }')) as { tenantKeyStatus: { reencryption: { state: string } } };
        if (s.tenantKeyStatus.reencryption.state === 'DONE') break;
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    expect(actions).toEqual(['key.tenant_rotated', 'key.reencryption_completed']);
  });

  it('members and denials', async () => {
    let user: Signed | undefined;
    const joined = await actionsOf(t(), async () => {
      user = await addMember(server, owner, 'USER');
    });
    expect(joined).toEqual(['member.invited', 'member.joined']);
    expect(await actionsOf(t(), () => server.gql('mutation { purgeSecret(name: "b/x") }', {}, user!.accessToken))).toEqual(['permission.denied']);
    expect(await actionsOf(t(), () => gql('mutation($u: ID!) { updateMemberRole(userId: $u, role: MANAGER) { role } }', { u: user!.userId }))).toEqual(['member.role_changed']);
    expect(await actionsOf(t(), () => gql('mutation($u: ID!) { removeMember(userId: $u) }', { u: user!.userId }))).toEqual(['member.removed']);
  });

  it('logins and sessions', async () => {
    expect(await actionsOf(t(), () => login(server, owner.email, owner.password))).toEqual(['auth.login.succeeded']);
    const fresh = expectOk(await login(server, owner.email, owner.password)).login;
    expect(await actionsOf(t(), () => server.gql('mutation { logout }', {}, fresh.accessToken))).toEqual(['auth.session.revoked']);
    // A failed login is a platform-chain event (no tenant is known yet).
    const before = await head('__platform__');
    await login(server, owner.email, 'wrong-password-123');
    const [failed] = await eventsAfter('__platform__', before);
    expect(failed).toMatchObject({ action: 'auth.login.failed', outcome: 'FAILURE', resource: { type: 'USER', id: owner.userId } });
  });

  it('events carry actor, resource, outcome and request id, and never a value', async () => {
    const events = await eventsAfter(t(), 0);
    expect(events.length).toBeGreaterThan(15);
    for (const e of events) {
      expect(e.actor.type).toMatch(/^(USER|API_KEY|SYSTEM|PUBLIC)$/);
      expect(e.outcome).toMatch(/^(SUCCESS|FAILURE|DENIED)$/);
    }
    const reveal = events.find((e) => e.action === 'secret.revealed')!;
    expect(reveal.requestId).toBeTruthy();
    expect(reveal.details).toMatchObject({ name: 'a/one', version: 2 });
    const text = JSON.stringify(events);
    for (const value of ['audit-me-1', 'audit-me-2', owner.password, owner.accessToken, owner.refreshToken]) expect(text).not.toContain(value);
  });
});

describe('reading and verifying the log through the API', () => {
  let owner: Signed;
  beforeAll(async () => {
    owner = await signUp(server, 'Verified');
    for (let i = 0; i < 6; i++) await mustCreate(server, owner, `v/s${i}`, `verify-${i}`);
  });
  const VERIFY = 'query($from: Int, $to: Int) { verifyAuditLog(from: $from, to: $to) { valid checkedEvents firstInvalidSequence } }';
  const verify = async (vars: Record<string, unknown> = {}) =>
    (expectOk(await server.gql(VERIFY, vars, owner.accessToken)) as { verifyAuditLog: { valid: boolean; checkedEvents: number; firstInvalidSequence: number | null } }).verifyAuditLog;

  it('lists events newest first with filters and cursor pagination', async () => {
    const Q = 'query($after: String) { auditEvents(filter: { action: SECRET_CREATED }, first: 4, after: $after) { edges { cursor node { sequence action actor { type id } resource { type id } outcome details hash } } pageInfo { hasNextPage endCursor } totalCount } }';
    type Page = { auditEvents: { edges: { node: { sequence: number; action: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string }; totalCount: number } };
    const first = (expectOk(await server.gql(Q, {}, owner.accessToken)) as Page).auditEvents;
    expect(first.totalCount).toBe(6);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = (expectOk(await server.gql(Q, { after: first.pageInfo.endCursor }, owner.accessToken)) as Page).auditEvents;
    const seqs = [...first.edges, ...second.edges].map((e) => e.node.sequence);
    expect(seqs).toHaveLength(6);
    expect([...seqs].sort((a, b) => b - a)).toEqual(seqs);
  });

  it('filters by closed sets as enums: a lower-case resource type or unknown action is refused, never silently empty', async () => {
    const Q = 'query($f: AuditEventFilter) { auditEvents(filter: $f, first: 100) { totalCount edges { node { action outcome resource { type } } } } }';
    type Page = { auditEvents: { totalCount: number; edges: { node: { action: string; outcome: string; resource: { type: string } } }[] } };
    const secrets = (expectOk(await server.gql(Q, { f: { resourceType: 'SECRET' } }, owner.accessToken)) as Page).auditEvents;
    expect(secrets.totalCount).toBeGreaterThanOrEqual(6);
    expect(new Set(secrets.edges.map((e) => e.node.resource.type))).toEqual(new Set(['SECRET']));
    for (const f of [{ resourceType: 'secret' }, { action: 'secret.created' }, { action: 'NO_SUCH_ACTION' }, { outcome: 'denied' }]) {
      const refused = await server.gql(Q, { f }, owner.accessToken);
      expect(refused.errors?.[0]?.extensions.code, JSON.stringify(f)).toBe('BAD_USER_INPUT');
    }
    await server.gql('mutation { purgeSecret(name: "v/s0") }', {}, (await addMember(server, owner, 'USER')).accessToken);
    const denied = (expectOk(await server.gql(Q, { f: { outcome: 'DENIED', action: 'PERMISSION_DENIED', resourceType: 'OPERATION' } }, owner.accessToken)) as Page).auditEvents;
    expect(denied.totalCount).toBe(1);
    expect(denied.edges[0]!.node).toEqual({ action: 'PERMISSION_DENIED', outcome: 'DENIED', resource: { type: 'OPERATION' } });
  });

  it('offers every action the code records in the AuditAction enum, named after the stored dotted value', async () => {
    const res = expectOk(await server.gql('{ __type(name: "AuditAction") { enumValues { name description } } }', {}, owner.accessToken)) as { __type: { enumValues: { name: string; description: string }[] } };
    const names = res.__type.enumValues.map((v) => v.name);
    for (const name of ['SECRET_CREATED', 'SECRET_VERSIONS_DESTROYED', 'AUTH_REFRESH_TOKEN_REUSED', 'PERMISSION_DENIED', 'KEY_REENCRYPTION_COMPLETED']) expect(names).toContain(name);
    const recorded = (await server.db.collection('audit_events').distinct('action')) as string[];
    for (const action of recorded) expect(names, action).toContain(action.toUpperCase().replace(/\./g, '_'));
  });

  it('verifies an intact chain, and finds an edited, a deleted and an inserted event', async () => {
    const intact = await verify();
    expect(intact).toMatchObject({ valid: true, firstInvalidSequence: null });
    const events = server.db.collection('audit_events');
    const third = await events.findOne({ tenantId: owner.tenantId, seq: 3 });

    await events.updateOne({ _id: third!._id }, { $set: { 'details.name': 'v/forged' } });
    expect(await verify()).toMatchObject({ valid: false, firstInvalidSequence: 3 });
    await events.replaceOne({ _id: third!._id }, third!);
    expect((await verify()).valid).toBe(true);

    await events.deleteOne({ _id: third!._id });
    expect(await verify()).toMatchObject({ valid: false, firstInvalidSequence: 3 });
    await events.insertOne(third!);
    expect((await verify()).valid).toBe(true);

    const last = await head(owner.tenantId);
    const forged = { ...third!, _id: 'forged-event', seq: last + 1, prevHash: 'f'.repeat(64), hash: 'e'.repeat(64) };
    await events.insertOne(forged as never);
    expect(await verify()).toMatchObject({ valid: false, firstInvalidSequence: last + 1 });
    expect((await verify({ from: 1, to: last })).valid).toBe(true);
  });

  it('one tenant cannot read another\'s events', async () => {
    const other = await signUp(server, 'Nosy');
    const res = expectOk(await server.gql('{ auditEvents(first: 200) { edges { node { resource { id } details } } } }', {}, other.accessToken)) as { auditEvents: { edges: { node: { details: Record<string, unknown> } }[] } };
    expect(JSON.stringify(res)).not.toContain('v/s');
  });
});
