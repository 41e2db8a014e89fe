import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, expectCode, expectOk, signUp, type Signed } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { auditActions, createSecret, mustCreate, reveal, updateSecret } from '../support/vault.js';

let server: TestServer;
let owner: Signed;
beforeAll(async () => {
  server = await startServer({ SESSION_REVOCATION_CHECK_SECONDS: '1' });
  owner = await signUp(server, 'Keyed');
  await mustCreate(server, owner, 'payments/stripe', 'sk_live_payments');
  await mustCreate(server, owner, 'payments/adyen', 'adyen_payments');
  await mustCreate(server, owner, 'mail/smtp', 'smtp_password_value');
});
afterAll(async () => server?.close());

const CREATE = 'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey key { id name role prefixes createdAt expiresAt lastUsedAt useCount } } }';

async function newKey(by: Signed, input: Record<string, unknown>) {
  return expectOk(
    await server.gql<{ createApiKey: { apiKey: string; key: { id: string; prefixes: string[]; role: string } } }>(CREATE, { input: { name: 'svc', ...input } }, by.accessToken),
  ).createApiKey;
}

describe('creating and listing keys', () => {
  it('shows the key once and stores only its hash', async () => {
    const created = await newKey(owner, { role: 'USER', prefixes: ['payments/'] });
    expect(created.apiKey).toMatch(/^cof_[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$/);
    expect(created.apiKey.startsWith(`cof_${created.key.id}.`)).toBe(true);
    const stored = await server.db.collection('api_keys').findOne({ _id: created.key.id as never });
    expect(JSON.stringify(stored)).not.toContain(created.apiKey.split('.')[1]);
    const listed = expectOk(await server.gql<{ apiKeys: Record<string, unknown>[] }>('{ apiKeys { id name role prefixes } }', {}, owner.accessToken)).apiKeys;
    expect(listed.find((k) => k.id === created.key.id)).toEqual({ id: created.key.id, name: 'svc', role: 'USER', prefixes: ['payments/'] });
    expect(JSON.stringify(listed)).not.toContain(created.apiKey);
  });

  it('refuses a role above the creator\'s, bad prefixes, and non-admins', async () => {
    const admin = await addMember(server, owner, 'ADMIN');
    expectCode(await server.gql(CREATE, { input: { name: 'x', role: 'OWNER', prefixes: ['*'] } }, admin.accessToken), 'FORBIDDEN');
    expectCode(await server.gql(CREATE, { input: { name: 'x', role: 'USER', prefixes: [] } }, owner.accessToken), 'BAD_USER_INPUT');
    expectCode(await server.gql(CREATE, { input: { name: 'x', role: 'USER', prefixes: ['bad prefix'] } }, owner.accessToken), 'BAD_USER_INPUT');
    const manager = await addMember(server, owner, 'MANAGER');
    expectCode(await server.gql(CREATE, { input: { name: 'x', role: 'USER', prefixes: ['*'] } }, manager.accessToken), 'FORBIDDEN');
  });
});

describe('keys and invitations never outlive their creator\'s authority', () => {
  it('a removed ADMIN\'s API key and pending ADMIN invitation stop working at once', async () => {
    const admin = await addMember(server, owner, 'ADMIN');
    const { apiKey } = await newKey(admin, { role: 'ADMIN', prefixes: ['*'] });
    const invite = expectOk(
      await server.gql<{ inviteMember: { token: string } }>('mutation { inviteMember(input: { email: "sock-puppet@example.com", role: ADMIN }) { token } }', {}, admin.accessToken),
    ).inviteMember;
    expect(expectOk(await reveal(server, apiKey, 'mail/smtp')).secret!.value).toBe('smtp_password_value');
    expectOk(await server.gql('mutation($u: ID!) { removeMember(userId: $u) }', { u: admin.userId }, owner.accessToken));
    expectCode(await reveal(server, apiKey, 'mail/smtp'), 'UNAUTHENTICATED');
    expectCode(await server.gql('mutation { deleteSecret(name: "mail/smtp") { id } }', {}, apiKey), 'UNAUTHENTICATED');
    expectCode(
      await server.gql('mutation($i: AcceptInvitationInput!) { acceptInvitation(input: $i) { role } }', { i: { token: invite.token, password: 'violet-Harbor-lantern-93' } }),
      'BAD_USER_INPUT',
    );
    expect(await server.db.collection('users').countDocuments({ email: 'sock-puppet@example.com' })).toBe(0);
  });

  it('a creator demoted below ADMIN: their keys stop, their pending invitations are void', async () => {
    const admin = await addMember(server, owner, 'ADMIN');
    const writer = await newKey(admin, { role: 'MANAGER', prefixes: ['*'] });
    const invite = expectOk(
      await server.gql<{ inviteMember: { token: string } }>('mutation { inviteMember(input: { email: "later-manager@example.com", role: MANAGER }) { token } }', {}, admin.accessToken),
    ).inviteMember;
    expectOk(await createSecret(server, writer.apiKey, { name: 'demo/before', value: 'x' }));
    expectOk(await server.gql('mutation($u: ID!) { updateMemberRole(userId: $u, role: MANAGER) { role } }', { u: admin.userId }, owner.accessToken));
    expectCode(await createSecret(server, writer.apiKey, { name: 'demo/after', value: 'y' }), 'UNAUTHENTICATED');
    expectCode(await reveal(server, writer.apiKey, 'demo/before'), 'UNAUTHENTICATED');
    expectCode(
      await server.gql('mutation($i: AcceptInvitationInput!) { acceptInvitation(input: $i) { role } }', { i: { token: invite.token, password: 'violet-Harbor-lantern-93' } }),
      'BAD_USER_INPUT',
    );
  });

  it('an OWNER demoted to ADMIN keeps their keys, acting as ADMIN at most', async () => {
    const second = await addMember(server, owner, 'OWNER');
    const key = await newKey(second, { role: 'OWNER', prefixes: ['*'] });
    expectOk(await server.gql('mutation($u: ID!) { updateMemberRole(userId: $u, role: ADMIN) { role } }', { u: second.userId }, owner.accessToken));
    expectOk(await reveal(server, key.apiKey, 'mail/smtp'));
    await mustCreate(server, owner, 'demo/purgeable', 'p');
    expectOk(await server.gql('mutation { deleteSecret(name: "demo/purgeable") { id } }', {}, key.apiKey));
    expectOk(await server.gql('mutation { purgeSecret(name: "demo/purgeable") }', {}, key.apiKey)); // ADMIN may purge
  });

  it('keys are revoked when their creator leaves, and stay dead if the creator is invited back', async () => {
    const admin = await addMember(server, owner, 'ADMIN');
    const { apiKey, key } = await newKey(admin, { role: 'USER', prefixes: ['*'] });
    expectOk(await server.gql('mutation($u: ID!) { removeMember(userId: $u) }', { u: admin.userId }, owner.accessToken));
    const stored = await server.db.collection('api_keys').findOne({ _id: key.id as never });
    expect(stored?.revokedAt).not.toBeNull();
    // Invited back as ADMIN: the old key must not come back, even if revokedAt were cleared behind our back.
    await server.db.collection('api_keys').updateOne({ _id: key.id as never }, { $set: { revokedAt: null } });
    const again = expectOk(
      await server.gql<{ inviteMember: { token: string } }>('mutation($e: String!) { inviteMember(input: { email: $e, role: ADMIN }) { token } }', { e: admin.email }, owner.accessToken),
    ).inviteMember;
    expectOk(await server.gql('mutation($i: AcceptInvitationInput!) { acceptInvitation(input: $i) { role } }', { i: { token: again.token, password: admin.password } }));
    await new Promise((r) => setTimeout(r, 1100));
    expectCode(await reveal(server, apiKey, 'mail/smtp'), 'UNAUTHENTICATED');
  });
});

describe('revoking keys follows the rank rule', () => {
  const REVOKE = 'mutation($id: ID!) { revokeApiKey(id: $id) }';

  it('an ADMIN cannot revoke an OWNER\'s key (the key keeps working); an OWNER\'s and a fellow ADMIN\'s revocations work', async () => {
    const admin = await addMember(server, owner, 'ADMIN');
    const otherAdmin = await addMember(server, owner, 'ADMIN');
    const ownersKey = await newKey(owner, { role: 'USER', prefixes: ['mail/'] });
    const refused = await server.gql(REVOKE, { id: ownersKey.key.id }, admin.accessToken);
    expectCode(refused, 'FORBIDDEN');
    expect(refused.errors![0]!.message).toBe('You cannot revoke an API key made by a member with the OWNER role');
    expect((await server.db.collection('api_keys').findOne({ _id: ownersKey.key.id as never }))!.revokedAt).toBeNull();
    expect(expectOk(await reveal(server, ownersKey.apiKey, 'mail/smtp')).secret!.value).toBe('smtp_password_value');
    const denial = await server.db.collection('audit_events').findOne({ tenantId: owner.tenantId, action: 'permission.denied', 'resource.id': ownersKey.key.id });
    expect(denial).toMatchObject({ outcome: 'DENIED', actor: { id: admin.userId }, resource: { type: 'API_KEY' }, details: { needed: 'OWNER' } });

    const adminsKey = await newKey(otherAdmin, { role: 'USER', prefixes: ['mail/'] });
    expectOk(await server.gql(REVOKE, { id: adminsKey.key.id }, admin.accessToken));
    expectOk(await server.gql(REVOKE, { id: ownersKey.key.id }, owner.accessToken));
    expectCode(await reveal(server, ownersKey.apiKey, 'mail/smtp'), 'UNAUTHENTICATED');
  });
});

describe('using a key', () => {
  it('reads only secrets under its prefixes, and only in its tenant', async () => {
    const { apiKey } = await newKey(owner, { role: 'USER', prefixes: ['payments/'] });
    expect(expectOk(await reveal(server, apiKey, 'payments/stripe')).secret!.value).toBe('sk_live_payments');
    expect(expectOk(await reveal(server, apiKey, 'mail/smtp')).secret).toBeNull();
    const listed = expectOk(await server.gql<{ secrets: { edges: { node: { name: string } }[]; totalCount: number } }>('{ secrets { edges { node { name } } totalCount } }', {}, apiKey)).secrets;
    expect(listed.edges.map((e) => e.node.name)).toEqual(['payments/adyen', 'payments/stripe']);
    expect(listed.totalCount).toBe(2);
    const other = await signUp(server, 'Elsewhere');
    await mustCreate(server, other, 'payments/stripe', 'their_stripe');
    expect(expectOk(await reveal(server, apiKey, 'payments/stripe')).secret!.value).toBe('sk_live_payments');
  });

  it('treats prefixes as paths: prod/db covers prod/db/… but not prod/dbadmin/… or prod/db-legacy', async () => {
    await mustCreate(server, owner, 'prod/db/password', 'db-pass');
    await mustCreate(server, owner, 'prod/dbadmin/root', 'ROOT-SECRET');
    await mustCreate(server, owner, 'production/stripe', 'prod-stripe');
    const { apiKey, key } = await newKey(owner, { role: 'USER', prefixes: ['prod/db'] });
    expect(key.prefixes).toEqual(['prod/db/']);
    expect(expectOk(await reveal(server, apiKey, 'prod/db/password')).secret!.value).toBe('db-pass');
    expect(expectOk(await reveal(server, apiKey, 'prod/dbadmin/root')).secret).toBeNull();
    const listed = expectOk(await server.gql<{ secrets: { edges: { node: { name: string } }[] } }>('{ secrets { edges { node { name } } } }', {}, apiKey)).secrets;
    expect(listed.edges.map((e) => e.node.name)).toEqual(['prod/db/password']);
    const prodOnly = await newKey(owner, { role: 'USER', prefixes: ['prod'] });
    expect(expectOk(await reveal(server, prodOnly.apiKey, 'production/stripe')).secret).toBeNull();
  });

  it('a USER key cannot write; a MANAGER key writes only under its prefixes', async () => {
    const reader = await newKey(owner, { role: 'USER', prefixes: ['payments/'] });
    expectCode(await updateSecret(server, reader.apiKey, { name: 'payments/stripe', value: 'x' }), 'FORBIDDEN');
    const writer = await newKey(owner, { role: 'MANAGER', prefixes: ['payments/'] });
    expectOk(await createSecret(server, writer.apiKey, { name: 'payments/new', value: 'by-machine' }));
    expectCode(await createSecret(server, writer.apiKey, { name: 'mail/new', value: 'nope' }), 'FORBIDDEN');
    expectCode(await updateSecret(server, writer.apiKey, { name: 'mail/smtp', value: 'nope' }), 'FORBIDDEN');
    // Out of scope looks the same whether the name exists or not, and the refusal is audited.
    const probe = async (name: string) =>
      expectOk(await server.gql<{ setSecrets: { errorCode: string }[] }>('mutation($n: String!) { setSecrets(items: [{ name: $n, value: "x", expectedVersion: 99 }]) { errorCode } }', { n: name }, writer.apiKey)).setSecrets[0]!.errorCode;
    expect(await probe('mail/smtp')).toBe('FORBIDDEN');
    expect(await probe('mail/does-not-exist')).toBe('FORBIDDEN');
    const denials = await server.db.collection('audit_events').countDocuments({ tenantId: owner.tenantId, action: 'permission.denied', 'actor.id': writer.key.id });
    expect(denials).toBeGreaterThanOrEqual(4);
    // A bulk call with many out-of-scope names is one denial event, not one per name.
    const before = await server.db.collection('audit_events').countDocuments({ tenantId: owner.tenantId, action: 'permission.denied' });
    const dotenv = Array.from({ length: 50 }, (_, i) => `K${i}=v`).join('\n');
    const imported = expectOk(await server.gql<{ importSecrets: { errorCode: string | null }[] }>('mutation($d: String!) { importSecrets(dotenv: $d, prefix: "mail/") { errorCode } }', { d: dotenv }, writer.apiKey)).importSecrets;
    expect(imported.every((r) => r.errorCode === 'FORBIDDEN')).toBe(true);
    expect(await server.db.collection('audit_events').countDocuments({ tenantId: owner.tenantId, action: 'permission.denied' })).toBe(before + 1);
    expect(expectOk(await reveal(server, owner, 'mail/smtp')).secret!.value).toBe('smtp_password_value');
    const actions = await auditActions(server, owner.tenantId);
    expect(actions).toContain('secret.created');
  });

  it('cannot be used for account, member or key operations', async () => {
    const { apiKey } = await newKey(owner, { role: 'MANAGER', prefixes: ['*'] });
    expectCode(await server.gql('{ me { user { id } } }', {}, apiKey), 'FORBIDDEN');
    expectCode(await server.gql('{ members { role } }', {}, apiKey), 'FORBIDDEN');
    expectCode(await server.gql(CREATE, { input: { name: 'x', role: 'USER', prefixes: ['*'] } }, apiKey), 'FORBIDDEN');
  });

  it('tracks use: lastUsedAt and useCount, written in one batch rather than once per request', async () => {
    const { apiKey, key } = await newKey(owner, { role: 'USER', prefixes: ['*'] });
    expectOk(await server.gql('{ apiKeys { id } }', {}, owner.accessToken)); // earlier tests' counted uses written
    const writesBefore = server.writes.length;
    for (let i = 0; i < 3; i++) await reveal(server, apiKey, 'mail/smtp');
    // Three authenticated requests wrote their audit events and nothing to the key itself.
    expect(server.writes.slice(writesBefore).filter((w) => w === 'update:api_keys')).toHaveLength(0);
    const listed = expectOk(await server.gql<{ apiKeys: { id: string; lastUsedAt: string | null; useCount: number }[] }>('{ apiKeys { id lastUsedAt useCount } }', {}, owner.accessToken)).apiKeys;
    const mine = listed.find((k) => k.id === key.id)!;
    expect(mine.useCount).toBe(3);
    expect(mine.lastUsedAt).not.toBeNull();
    // Listing flushed the three uses as one update.
    expect(server.writes.slice(writesBefore).filter((w) => w === 'update:api_keys')).toHaveLength(1);
  });

  it('rotates without downtime: two keys overlap, then the old one is revoked and stops at once', async () => {
    const old = await newKey(owner, { role: 'USER', prefixes: ['payments/'] });
    const fresh = await newKey(owner, { role: 'USER', prefixes: ['payments/'] });
    expectOk(await reveal(server, old.apiKey, 'payments/stripe'));
    expectOk(await reveal(server, fresh.apiKey, 'payments/stripe'));
    expectOk(await server.gql('mutation($id: ID!) { revokeApiKey(id: $id) }', { id: old.key.id }, owner.accessToken));
    expectCode(await reveal(server, old.apiKey, 'payments/stripe'), 'UNAUTHENTICATED');
    expect(expectOk(await reveal(server, fresh.apiKey, 'payments/stripe')).secret!.value).toBe('sk_live_payments');
    expectCode(await server.gql('mutation($id: ID!) { revokeApiKey(id: $id) }', { id: old.key.id }, owner.accessToken), 'NOT_FOUND');
  });

  it('refuses forged, expired and foreign-tenant-revoked keys', async () => {
    const { apiKey, key } = await newKey(owner, { role: 'USER', prefixes: ['*'] });
    const forged = `${apiKey.slice(0, -4)}AAAA`;
    expectCode(await reveal(server, forged, 'mail/smtp'), 'UNAUTHENTICATED');
    expectCode(await reveal(server, 'cof_0000000000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'mail/smtp'), 'UNAUTHENTICATED');
    await server.db.collection('api_keys').updateOne({ _id: key.id as never }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    await new Promise((r) => setTimeout(r, 1100)); // past the 1 s check cache of this server
    expectCode(await reveal(server, apiKey, 'mail/smtp'), 'UNAUTHENTICATED');
    const other = await signUp(server, 'Not yours');
    expectCode(await server.gql('mutation($id: ID!) { revokeApiKey(id: $id) }', { id: key.id }, other.accessToken), 'NOT_FOUND');
  });
});
