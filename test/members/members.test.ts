import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_FIELDS, addMember, expectCode, expectOk, login, signUp, STRONG_PASSWORD, uniqueEmail, type Signed } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => server?.close());

const INVITE = 'mutation($input: InviteMemberInput!) { inviteMember(input: $input) { id email role token expiresAt createdAt } }';
const ACCEPT = `mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { ${AUTH_FIELDS} } }`;
const MEMBERS = '{ members { user { id email } role joinedAt } }';
const UPDATE_ROLE = 'mutation($u: ID!, $r: Role!) { updateMemberRole(userId: $u, role: $r) { user { id } role } }';
const REMOVE = 'mutation($u: ID!) { removeMember(userId: $u) }';

async function invite(by: Signed, email: string, role: string) {
  return server.gql<{ inviteMember: { id: string; token: string; email: string; role: string; expiresAt: string } }>(
    INVITE,
    { input: { email, role } },
    by.accessToken,
  );
}

describe('invitations', () => {
  it('invites a new user who sets a password on accepting and lands in the tenant with the role', async () => {
    const owner = await signUp(server);
    const email = uniqueEmail('newbie');
    const inv = expectOk(await invite(owner, email, 'MANAGER')).inviteMember;
    expect(inv.token).toMatch(/^inv_/);
    const hours = (new Date(inv.expiresAt).getTime() - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(71);
    expect(hours).toBeLessThanOrEqual(72);
    const accepted = expectOk(await server.gql<{ acceptInvitation: { role: string; tenant: { id: string } } }>(ACCEPT, { input: { token: inv.token, password: STRONG_PASSWORD } })).acceptInvitation;
    expect(accepted).toMatchObject({ role: 'MANAGER', tenant: { id: owner.tenantId } });
    const members = expectOk(await server.gql<{ members: { user: { email: string }; role: string }[] }>(MEMBERS, {}, owner.accessToken)).members;
    expect(members.map((m) => [m.user.email, m.role])).toEqual([
      [owner.email, 'OWNER'],
      [email, 'MANAGER'],
    ]);
    expectOk(await login(server, email, STRONG_PASSWORD));
  });

  it('stores only a hash of the token, which is shown once', async () => {
    const owner = await signUp(server);
    const inv = expectOk(await invite(owner, uniqueEmail(), 'USER')).inviteMember;
    const secret = inv.token.split('.')[1]!;
    const stored = await server.db.collection('invitations').findOne({ _id: inv.id as never });
    expect(JSON.stringify(stored)).not.toContain(secret);
    const listed = expectOk(await server.gql<{ invitations: { id: string; token: string | null }[] }>('{ invitations { id token } }', {}, owner.accessToken)).invitations;
    expect(listed).toEqual([{ id: inv.id, token: null }]);
  });

  it('cannot be used twice, after expiry, after revocation, or with a forged secret', async () => {
    const owner = await signUp(server);
    const used = expectOk(await invite(owner, uniqueEmail(), 'USER')).inviteMember;
    expectOk(await server.gql(ACCEPT, { input: { token: used.token, password: STRONG_PASSWORD } }));
    expectCode(await server.gql(ACCEPT, { input: { token: used.token, password: STRONG_PASSWORD } }), 'BAD_USER_INPUT');

    const expired = expectOk(await invite(owner, uniqueEmail(), 'USER')).inviteMember;
    await server.db.collection('invitations').updateOne({ _id: expired.id as never }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    expectCode(await server.gql(ACCEPT, { input: { token: expired.token, password: STRONG_PASSWORD } }), 'BAD_USER_INPUT');

    const revoked = expectOk(await invite(owner, uniqueEmail(), 'USER')).inviteMember;
    expectOk(await server.gql('mutation($id: ID!) { revokeInvitation(id: $id) }', { id: revoked.id }, owner.accessToken));
    expectCode(await server.gql(ACCEPT, { input: { token: revoked.token, password: STRONG_PASSWORD } }), 'BAD_USER_INPUT');

    const real = expectOk(await invite(owner, uniqueEmail(), 'USER')).inviteMember;
    const forged = `${real.token.slice(0, -4)}AAAA`;
    expectCode(await server.gql(ACCEPT, { input: { token: forged, password: STRONG_PASSWORD } }), 'BAD_USER_INPUT');
    expectOk(await server.gql(ACCEPT, { input: { token: real.token, password: STRONG_PASSWORD } }));
    expect(await server.db.collection('memberships').countDocuments({ tenantId: owner.tenantId })).toBe(3);
  });

  it('lets exactly one of many concurrent acceptances of one invitation succeed', async () => {
    const owner = await signUp(server);
    const email = uniqueEmail('race');
    const inv = expectOk(await invite(owner, email, 'USER')).inviteMember;
    const results = await Promise.all(
      Array.from({ length: 5 }, () => server.gql(ACCEPT, { input: { token: inv.token, password: STRONG_PASSWORD } })),
    );
    expect(results.filter((r) => !r.errors)).toHaveLength(1);
    expect(await server.db.collection('users').countDocuments({ email })).toBe(1);
    expect(await server.db.collection('memberships').countDocuments({ tenantId: owner.tenantId })).toBe(2);
  });

  it('refuses a weak password for a new user and leaves the invitation usable', async () => {
    const owner = await signUp(server);
    const inv = expectOk(await invite(owner, uniqueEmail(), 'USER')).inviteMember;
    expectCode(await server.gql(ACCEPT, { input: { token: inv.token, password: 'password1234' } }), 'BAD_USER_INPUT');
    expectCode(await server.gql(ACCEPT, { input: { token: inv.token } }), 'BAD_USER_INPUT');
    expectOk(await server.gql(ACCEPT, { input: { token: inv.token, password: STRONG_PASSWORD } }));
  });

  it('does not let whoever holds the token take over an existing account', async () => {
    const victim = await signUp(server, 'Victim Co');
    const attacker = await signUp(server, 'Attacker Co');
    const inv = expectOk(await invite(attacker, victim.email, 'USER')).inviteMember;
    // No password, not signed in as the victim: refused.
    expectCode(await server.gql(ACCEPT, { input: { token: inv.token } }), 'UNAUTHENTICATED');
    // Wrong password (the attacker guessing, or setting "a new one"): refused.
    expectCode(await server.gql(ACCEPT, { input: { token: inv.token, password: 'attacker-Chosen-pass-99' } }), 'UNAUTHENTICATED');
    // Signed in as somebody else: refused.
    expectCode(await server.gql(ACCEPT, { input: { token: inv.token } }, attacker.accessToken), 'UNAUTHENTICATED');
    expectOk(await login(server, victim.email, victim.password));
    // The real owner, signed in, can accept it without a password.
    const joined = expectOk(await server.gql<{ acceptInvitation: { tenant: { id: string }; user: { id: string } } }>(ACCEPT, { input: { token: inv.token } }, victim.accessToken)).acceptInvitation;
    expect(joined).toMatchObject({ tenant: { id: attacker.tenantId }, user: { id: victim.userId } });
  });

  it('refuses to invite an existing member', async () => {
    const owner = await signUp(server);
    const member = await addMember(server, owner, 'USER');
    expectCode(await invite(owner, member.email, 'USER'), 'CONFLICT');
  });

  it('does not let a member grant a role above their own', async () => {
    const owner = await signUp(server);
    const admin = await addMember(server, owner, 'ADMIN');
    expectCode(await invite(admin, uniqueEmail(), 'OWNER'), 'FORBIDDEN');
    expectOk(await invite(admin, uniqueEmail(), 'ADMIN'));
    expectOk(await invite(owner, uniqueEmail(), 'OWNER'));
  });
});

describe('roles and removal', () => {
  it('changes a role, and the new role applies to the member\'s existing token at once', async () => {
    const owner = await signUp(server);
    const user = await addMember(server, owner, 'USER');
    expectCode(await invite(user, uniqueEmail(), 'USER'), 'FORBIDDEN');
    const changed = expectOk(await server.gql<{ updateMemberRole: { role: string } }>(UPDATE_ROLE, { u: user.userId, r: 'ADMIN' }, owner.accessToken));
    expect(changed.updateMemberRole.role).toBe('ADMIN');
    expectOk(await invite(user, uniqueEmail(), 'USER'));
    expect(expectOk(await server.gql<{ me: { role: string } }>('{ me { role } }', {}, user.accessToken)).me.role).toBe('ADMIN');
  });

  it('never lets an ADMIN change or remove an OWNER, nor promote to OWNER', async () => {
    const owner = await signUp(server);
    const admin = await addMember(server, owner, 'ADMIN');
    expectCode(await server.gql(UPDATE_ROLE, { u: owner.userId, r: 'USER' }, admin.accessToken), 'FORBIDDEN');
    expectCode(await server.gql(REMOVE, { u: owner.userId }, admin.accessToken), 'FORBIDDEN');
    expectCode(await server.gql(UPDATE_ROLE, { u: admin.userId, r: 'OWNER' }, admin.accessToken), 'FORBIDDEN');
  });

  it('never lets an ADMIN revoke an invitation an OWNER sent; an ADMIN\'s own, a fellow ADMIN\'s, and an OWNER revoking any are fine', async () => {
    const owner = await signUp(server);
    const admin = await addMember(server, owner, 'ADMIN');
    const otherAdmin = await addMember(server, owner, 'ADMIN');
    const REVOKE = 'mutation($id: ID!) { revokeInvitation(id: $id) }';
    const byOwner = expectOk(await invite(owner, uniqueEmail(), 'USER')).inviteMember;
    const refused = await server.gql(REVOKE, { id: byOwner.id }, admin.accessToken);
    expectCode(refused, 'FORBIDDEN');
    expect(refused.errors![0]!.message).toBe('You cannot revoke an invitation sent by a member with the OWNER role');
    expect(await server.db.collection('invitations').countDocuments({ _id: byOwner.id as never })).toBe(1);
    const denial = await server.db.collection('audit_events').findOne({ tenantId: owner.tenantId, action: 'permission.denied', 'resource.id': byOwner.id });
    expect(denial).toMatchObject({ outcome: 'DENIED', actor: { id: admin.userId }, resource: { type: 'INVITATION' } });
    // The invitation still works after the refused revocation.
    expectOk(await server.gql(ACCEPT, { input: { token: byOwner.token, password: STRONG_PASSWORD } }));

    const byOtherAdmin = expectOk(await invite(otherAdmin, uniqueEmail(), 'USER')).inviteMember;
    expectOk(await server.gql(REVOKE, { id: byOtherAdmin.id }, admin.accessToken));
    const byAdmin = expectOk(await invite(admin, uniqueEmail(), 'MANAGER')).inviteMember;
    expectOk(await server.gql(REVOKE, { id: byAdmin.id }, owner.accessToken));
  });

  it('keeps the last OWNER: cannot be demoted or removed, but can once another OWNER exists', async () => {
    const owner = await signUp(server);
    expectCode(await server.gql(UPDATE_ROLE, { u: owner.userId, r: 'ADMIN' }, owner.accessToken), 'CONFLICT');
    expectCode(await server.gql(REMOVE, { u: owner.userId }, owner.accessToken), 'CONFLICT');
    const second = await addMember(server, owner, 'OWNER');
    expectOk(await server.gql(UPDATE_ROLE, { u: owner.userId, r: 'ADMIN' }, second.accessToken));
    expectCode(await server.gql(UPDATE_ROLE, { u: second.userId, r: 'ADMIN' }, second.accessToken), 'CONFLICT');
  });

  it('keeps one OWNER when two owners demote each other at the same moment', async () => {
    const a = await signUp(server);
    const b = await addMember(server, a, 'OWNER');
    const results = await Promise.all([
      server.gql(UPDATE_ROLE, { u: b.userId, r: 'USER' }, a.accessToken),
      server.gql(UPDATE_ROLE, { u: a.userId, r: 'USER' }, b.accessToken),
    ]);
    const owners = await server.db.collection('memberships').countDocuments({ tenantId: a.tenantId, role: 'OWNER' });
    expect(owners).toBeGreaterThanOrEqual(1);
    expect(results.some((r) => r.errors?.[0]?.extensions.code === 'CONFLICT' || r.errors?.[0]?.extensions.code === 'UNAUTHENTICATED' || r.errors?.[0]?.extensions.code === 'FORBIDDEN')).toBe(true);
  });

  it('removes a member, whose sessions in that tenant stop working at once', async () => {
    const owner = await signUp(server);
    const user = await addMember(server, owner, 'USER');
    expectOk(await server.gql(MEMBERS, {}, user.accessToken));
    expectOk(await server.gql(REMOVE, { u: user.userId }, owner.accessToken));
    expectCode(await server.gql(MEMBERS, {}, user.accessToken), 'UNAUTHENTICATED');
    expect(await server.db.collection('memberships').countDocuments({ tenantId: owner.tenantId })).toBe(1);
    expectCode(await login(server, user.email, user.password, owner.tenantId), 'FORBIDDEN');
  });

  it('treats members of another tenant as NOT_FOUND, never FORBIDDEN', async () => {
    const mine = await signUp(server);
    const theirs = await signUp(server);
    const theirUser = await addMember(server, theirs, 'USER');
    expectCode(await server.gql(UPDATE_ROLE, { u: theirUser.userId, r: 'ADMIN' }, mine.accessToken), 'NOT_FOUND');
    expectCode(await server.gql(REMOVE, { u: theirs.userId }, mine.accessToken), 'NOT_FOUND');
    const theirInvite = expectOk(await invite(theirs, uniqueEmail(), 'USER')).inviteMember;
    expectCode(await server.gql('mutation($id: ID!) { revokeInvitation(id: $id) }', { id: theirInvite.id }, mine.accessToken), 'NOT_FOUND');
    const members = expectOk(await server.gql<{ members: { user: { id: string } }[] }>(MEMBERS, {}, mine.accessToken)).members;
    expect(members.map((m) => m.user.id)).toEqual([mine.userId]);
    expect(await server.db.collection('memberships').countDocuments({ tenantId: theirs.tenantId })).toBe(2);
  });
});

describe('a failure late in acceptance leaves nothing half-made', () => {
  it('undoes the membership, the owner count, the new user and the claim', async () => {
    const { createServices } = await import('../../src/services.js');
    const { MemberService } = await import('../../src/modules/members/member.service.js');
    const { createLogger } = await import('../../src/logger.js');
    const owner = await signUp(server, 'Rollback');
    const inv = expectOk(await invite(owner, uniqueEmail('rollback'), 'OWNER')).inviteMember;
    const { services } = await createServices({ config: server.config, db: server.db, logger: createLogger('silent') });
    const realDeps = (services.members as unknown as { deps: ConstructorParameters<typeof MemberService>[0] }).deps;
    const failing = new MemberService({
      ...realDeps,
      audit: { append: async (...events) => { if (events.some((e) => e.action === 'member.joined')) throw new Error('audit store down'); await realDeps.audit.append(...events); } },
    });
    const { publicCaller } = await import('../../src/identity/callers.js');
    const caller = publicCaller({ ip: null, userAgent: null, requestId: 'rollback-test' });
    await expect(failing.accept({ token: inv.token, password: STRONG_PASSWORD }, caller)).rejects.toThrow('audit store down');
    expect(await server.db.collection('users').countDocuments({ email: inv.email })).toBe(0);
    expect(await server.db.collection('memberships').countDocuments({ tenantId: owner.tenantId })).toBe(1);
    expect((await server.db.collection('tenants').findOne({ _id: owner.tenantId as never }))?.ownerCount).toBe(1);
    // The invitation is usable again.
    expectOk(await server.gql(ACCEPT, { input: { token: inv.token, password: STRONG_PASSWORD } }));
    expect((await server.db.collection('tenants').findOne({ _id: owner.tenantId as never }))?.ownerCount).toBe(2);
  });
});
