import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, expectCode, expectOk, joinTenantOf, login, signUp, STRONG_PASSWORD, uniqueEmail } from '../support/auth.js';
import { expectRefused, ME_QUERY } from '../support/http.js';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ LOGIN_MAX_FAILURES: '3' });
});
afterAll(async () => server?.close());

const EXPORT = '{ exportMyData { format version generatedAt document } }';
const DELETE = 'mutation($password: String!) { deleteMyAccount(password: $password) }';

interface ExportDoc {
  format: string;
  version: number;
  account: Record<string, unknown>;
  memberships: { tenantId: string; tenantName: string; role: string }[];
  sessions: { id: string; ip: string | null; userAgent: string | null; revoked: boolean }[];
  auditTrail: { limit: number; truncated: boolean; chains: string[]; events: { chain: string; action: string; actor?: unknown; time: string }[] };
}

describe('exportMyData', () => {
  it('gives the signed-in user their account, memberships, sessions and own audit trail, newest first, and is audited', async () => {
    const owner = await signUp(server, 'Export Co');
    const other = await signUp(server, 'Other Co');
    await joinTenantOf(server, owner, other, 'MANAGER');
    const res = await server.gql<{ exportMyData: { format: string; version: number; document: ExportDoc } }>(EXPORT, {}, owner.accessToken, { 'user-agent': 'export-test/1.0' });
    const { format, version, document } = expectOk(res).exportMyData;
    expect(format).toBe('coffer.account-export');
    expect(version).toBe(1);
    expect(document.format).toBe('coffer.account-export');
    expect(document.account).toMatchObject({ id: owner.userId, email: owner.email, platformAdmin: false });
    expect(Object.keys(document.account)).not.toContain('passwordHash');
    expect(JSON.stringify(document)).not.toMatch(/argon2/);
    expect(document.memberships.map((m) => [m.tenantName, m.role]).sort()).toEqual([['Export Co', 'OWNER'], ['Other Co', 'MANAGER']]);
    expect(document.sessions.length).toBeGreaterThanOrEqual(1);
    expect(document.sessions[0]).toHaveProperty('ip');
    expect(document.auditTrail.limit).toBe(1000);
    expect(document.auditTrail.chains).toContain('platform');
    expect(document.auditTrail.chains).toContain(owner.tenantId);
    expect(document.auditTrail.chains).toContain(other.tenantId);
    const actions = document.auditTrail.events.map((e) => e.action);
    expect(actions).toContain('auth.signup');
    expect(actions).toContain('member.joined');
    const times = document.auditTrail.events.map((e) => Date.parse(e.time));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    // Other people's events are not in it: the other owner's invitation is theirs.
    expect(actions).not.toContain('member.invited');
    // Audited on the platform chain; a second export shows the first one.
    const again = expectOk(await server.gql<{ exportMyData: { document: ExportDoc } }>(EXPORT, {}, owner.accessToken)).exportMyData.document;
    expect(again.auditTrail.events[0]).toMatchObject({ chain: 'platform', action: 'account.exported' });
    const stored = await server.db.collection('audit_events').findOne({ action: 'account.exported', 'actor.id': owner.userId });
    expect(JSON.stringify(stored)).not.toContain(owner.email);
  });

  it('is refused without a token and with an API key', async () => {
    expectCode(await server.gql(EXPORT), 'UNAUTHENTICATED');
    const owner = await signUp(server);
    const key = expectOk(
      await server.gql<{ createApiKey: { apiKey: string } }>('mutation { createApiKey(input: { name: "ci", role: USER, prefixes: ["*"] }) { apiKey } }', {}, owner.accessToken),
    ).createApiKey.apiKey;
    expectCode(await server.gql(EXPORT, {}, key), 'FORBIDDEN');
  });
});

describe('deleteMyAccount', () => {
  it('refuses a wrong password (UNAUTHENTICATED, counted like a login failure) and deletes nothing', async () => {
    const owner = await signUp(server);
    const member = await addMember(server, owner, 'ADMIN');
    const before = await server.db.collection('login_failures').countDocuments({});
    expectCode(await server.gql(DELETE, { password: 'not-the-password-at-all' }, member.accessToken), 'UNAUTHENTICATED');
    expect(await server.db.collection('login_failures').countDocuments({})).toBeGreaterThan(before);
    expect(await server.db.collection('users').countDocuments({ _id: member.userId as never })).toBe(1);
    expectOk(await server.gql(ME_QUERY, {}, member.accessToken));
    // Counted with logins: after the limit the pair is locked.
    for (let i = 0; i < 3; i++) await server.gql(DELETE, { password: 'not-the-password-at-all' }, member.accessToken);
    expectCode(await server.gql(DELETE, { password: member.password }, member.accessToken), 'ACCOUNT_LOCKED');
    expect(await server.db.collection('users').countDocuments({ _id: member.userId as never })).toBe(1);
  });

  it('refuses the only OWNER of a tenant with CONFLICT naming what to do, and nothing changes', async () => {
    const owner = await signUp(server, 'Sole Owner');
    const res = await server.gql(DELETE, { password: owner.password }, owner.accessToken);
    expectCode(res, 'CONFLICT');
    expect(res.errors?.[0]?.message).toMatch(/only OWNER.*hand over or delete the tenant first/);
    expect(res.errors?.[0]?.message).not.toContain(owner.email);
    expect(await server.db.collection('users').countDocuments({ _id: owner.userId as never })).toBe(1);
    expect(await server.db.collection('memberships').countDocuments({ userId: owner.userId })).toBe(1);
    expectOk(await server.gql(ME_QUERY, {}, owner.accessToken));
  });

  it('removes memberships (revoking their API keys), sessions and the user; its tokens are refused at once; audit keeps the id only', async () => {
    const owner = await signUp(server, 'Leavers');
    const admin = await addMember(server, owner, 'ADMIN');
    const other = await signUp(server, 'Second Home');
    await joinTenantOf(server, admin, other, 'OWNER');
    // A second OWNER there, so the admin is not its only one.
    expectOk(await server.gql('mutation($id: ID!) { updateMemberRole(userId: $id, role: OWNER) { role } }', { id: admin.userId }, other.accessToken).then((r) => r));
    const key = expectOk(
      await server.gql<{ createApiKey: { apiKey: string } }>('mutation { createApiKey(input: { name: "deploy", role: USER, prefixes: ["*"] }) { apiKey } }', {}, admin.accessToken),
    ).createApiKey.apiKey;
    expectOk(await server.gql('{ secrets { totalCount } }', {}, key));
    const second = expectOk(await login(server, admin.email, admin.password)).login;

    expect(expectOk(await server.gql<{ deleteMyAccount: boolean }>(DELETE, { password: admin.password }, admin.accessToken)).deleteMyAccount).toBe(true);

    expect(await server.db.collection('users').countDocuments({ _id: admin.userId as never })).toBe(0);
    expect(await server.db.collection('memberships').countDocuments({ userId: admin.userId })).toBe(0);
    expect(await server.db.collection('sessions').countDocuments({ userId: admin.userId })).toBe(0);
    expect((await server.db.collection('api_keys').findOne({ createdBy: admin.userId }))?.revokedAt).toBeTruthy();
    expectRefused(await server.gql(ME_QUERY, {}, admin.accessToken));
    expectRefused(await server.gql(ME_QUERY, {}, second.accessToken));
    expectCode(await server.gql('mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }', { t: admin.refreshToken }), 'UNAUTHENTICATED');
    expectCode(await server.gql('{ secrets { totalCount } }', {}, key), 'UNAUTHENTICATED');
    expectCode(await login(server, admin.email, admin.password), 'UNAUTHENTICATED');
    // The tenants carry on; the remaining owners are untouched.
    expectOk(await server.gql(ME_QUERY, {}, owner.accessToken));
    const tenant = await server.db.collection('tenants').findOne({ _id: other.tenantId as never });
    expect(tenant?.ownerCount).toBe(1);
    // Audited by id; no chain holds the email.
    const deleted = await server.db.collection('audit_events').findOne({ action: 'account.deleted', 'resource.id': admin.userId });
    // Sessions: sign-up, accepting the second invitation, and the extra login.
    expect(deleted?.details).toEqual({ tenantsLeft: 2, sessionsRevoked: 3, apiKeysRevoked: 1 });
    expect(await server.db.collection('audit_events').countDocuments({ action: 'member.removed', 'resource.id': admin.userId })).toBe(2);
    const all = await server.db.collection('audit_events').find({}).toArray();
    expect(JSON.stringify(all)).not.toContain(admin.email);
    expect(server.logs.join('')).not.toContain(admin.email);
  });

  it('is refused without a token, and the email can sign up afresh afterwards', async () => {
    expectCode(await server.gql(DELETE, { password: STRONG_PASSWORD }), 'UNAUTHENTICATED');
    const owner = await signUp(server);
    const member = await addMember(server, owner, 'USER', uniqueEmail('again'));
    expectOk(await server.gql(DELETE, { password: member.password }, member.accessToken));
    await signUp(server, 'Fresh Start', member.email);
  });

  it('refuses an over-long password with BAD_USER_INPUT', async () => {
    const owner = await signUp(server);
    expectCode(await server.gql(DELETE, { password: 'x'.repeat(300) }, owner.accessToken), 'BAD_USER_INPUT');
  });
});
