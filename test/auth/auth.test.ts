import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_FIELDS, expectCode, joinTenantOf, expectOk, login, signUp, STRONG_PASSWORD, uniqueEmail } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => server?.close());

const ME = '{ me { user { id email } tenant { id name slug status } role platformAdmin memberships { tenant { id } role } } }';
const REFRESH = `mutation($t: String!) { refreshToken(refreshToken: $t) { ${AUTH_FIELDS} } }`;

interface Payload {
  accessToken: string;
  refreshToken: string;
  role: string;
  tenant: { id: string; name: string; slug: string };
  user: { id: string; email: string };
}

describe('signUp', () => {
  it('creates a user, a tenant and an OWNER membership, and logs the user in', async () => {
    const email = uniqueEmail('Founder').toUpperCase();
    const res = await server.gql<{ signUp: Payload }>(
      `mutation($input: SignUpInput!) { signUp(input: $input) { ${AUTH_FIELDS} accessTokenExpiresAt } }`,
      { input: { email, password: STRONG_PASSWORD, tenantName: 'Zürich Labs' } },
    );
    const payload = expectOk(res).signUp;
    expect(payload.user.email).toBe(email.toLowerCase());
    expect(payload.role).toBe('OWNER');
    expect(payload.tenant).toMatchObject({ name: 'Zürich Labs', slug: 'zurich-labs' });
    const me = expectOk(await server.gql<{ me: { role: string; memberships: unknown[] } }>(ME, {}, payload.accessToken)).me;
    expect(me.role).toBe('OWNER');
    expect(me.memberships).toHaveLength(1);
  });

  it('gives a second tenant with the same name a distinct slug', async () => {
    const a = await signUp(server, 'Same Name Inc');
    const b = await signUp(server, 'Same Name Inc');
    const slugOf = async (token: string) =>
      expectOk(await server.gql<{ me: { tenant: { slug: string } } }>(ME, {}, token)).me.tenant.slug;
    const [slugA, slugB] = [await slugOf(a.accessToken), await slugOf(b.accessToken)];
    expect(slugA).not.toBe(slugB);
    expect(slugB).toMatch(/^same-name-inc-[0-9a-f]{8}$/);
  });

  it('refuses an email that already has an account (any case) and writes nothing', async () => {
    const first = await signUp(server);
    const tenantsBefore = await server.db.collection('tenants').countDocuments();
    const res = await server.gql(
      'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }',
      { input: { email: first.email.toUpperCase(), password: STRONG_PASSWORD, tenantName: 'Dup' } },
    );
    expectCode(res, 'CONFLICT');
    expect(await server.db.collection('tenants').countDocuments()).toBe(tenantsBefore);
  });

  it.each([
    ['short', 'Sh0rt-pass', 'at least 12'],
    ['common', 'password1234', 'too common'],
    ['common with padding', 'qwertyuiop123!', 'too common'],
    ['repetitive', 'aaaaaaaaaaaaaaaa', 'repetitive'],
  ])('refuses a %s password with BAD_USER_INPUT naming the field', async (_label, password, reason) => {
    const email = uniqueEmail();
    const res = await server.gql('mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }', {
      input: { email, password, tenantName: 'Weak' },
    });
    expectCode(res, 'BAD_USER_INPUT');
    expect(res.errors![0]!.message).toContain('password');
    expect(res.errors![0]!.message).toContain(reason);
    expect(await server.db.collection('users').countDocuments({ email })).toBe(0);
  });

  it('refuses a password containing the email local part', async () => {
    const email = uniqueEmail('margaret');
    const local = email.split('@')[0]!;
    const res = await server.gql('mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }', {
      input: { email, password: `My-${local}-Secret`, tenantName: 'T' },
    });
    expectCode(res, 'BAD_USER_INPUT');
    // The message says what is checked: the local part, not the whole address.
    expect(res.errors![0]!.message).toBe('password: must not contain the part of the email address before the @');
  });

  it('stores the password only as an argon2id hash with at least m=19MiB, t=2, p=1', async () => {
    const user = await signUp(server);
    const doc = await server.db.collection('users').findOne({ email: user.email });
    const hash = String(doc?.passwordHash);
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/);
    const [, m, t, p] = /m=(\d+),t=(\d+),p=(\d+)/.exec(hash)!.map(Number);
    expect(m).toBeGreaterThanOrEqual(19456);
    expect(t).toBeGreaterThanOrEqual(2);
    expect(p).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(doc)).not.toContain(user.password);
  });
});

describe('login', () => {
  it('logs in with the right password, emails compared case-insensitively', async () => {
    const user = await signUp(server);
    const res = await login(server, user.email.toUpperCase(), user.password);
    const payload = expectOk(res).login;
    expect(payload.user.id).toBe(user.userId);
    expect(payload.tenant!.id).toBe(user.tenantId);
  });

  it('gives the same error for an unknown email and a wrong password', async () => {
    const user = await signUp(server);
    const wrong = await login(server, user.email, 'not-the-right-password-1');
    const unknown = await login(server, uniqueEmail('nobody'), 'not-the-right-password-1');
    expectCode(wrong, 'UNAUTHENTICATED');
    expectCode(unknown, 'UNAUTHENTICATED');
    expect(wrong.errors![0]!.message).toBe(unknown.errors![0]!.message);
  });

  it('spends comparable time on an unknown email as on a wrong password (dummy hash)', async () => {
    const user = await signUp(server);
    const median = async (email: string) => {
      const times: number[] = [];
      for (let i = 0; i < 7; i++) {
        const started = performance.now();
        await login(server, email, `wrong-password-${i}-xyz`);
        times.push(performance.now() - started);
      }
      // Both emails get the same lockout and backoff treatment, so neither skews the medians.
      return times.sort((a, b) => a - b)[3]!;
    };
    const known = await median(user.email);
    const unknown = await median(uniqueEmail('ghost'));
    // Without the dummy verification an unknown email answers ~50x faster; allow wide noise.
    expect(unknown / known).toBeGreaterThan(0.33);
    expect(unknown / known).toBeLessThan(3);
  });

  it('chooses the requested tenant, and refuses a tenant the user is not a member of', async () => {
    const owner = await signUp(server, 'First');
    const other = await signUp(server, 'Second');
    const invite = expectOk(
      await server.gql<{ inviteMember: { token: string } }>(
        'mutation($input: InviteMemberInput!) { inviteMember(input: $input) { token } }',
        { input: { email: owner.email, role: 'MANAGER' } },
        other.accessToken,
      ),
    ).inviteMember;
    expectOk(
      await server.gql('mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { role } }', {
        input: { token: invite.token, password: owner.password },
      }),
    );
    const intoSecond = expectOk(await login(server, owner.email, owner.password, other.tenantId)).login;
    expect(intoSecond.tenant!.id).toBe(other.tenantId);
    expect(intoSecond.role).toBe('MANAGER');
    const defaultTenant = expectOk(await login(server, owner.email, owner.password)).login;
    expect(defaultTenant.tenant!.id).toBe(owner.tenantId);

    const stranger = await signUp(server, 'Stranger');
    expectCode(await login(server, stranger.email, stranger.password, owner.tenantId), 'FORBIDDEN');
  });
});

// Lockout and the account-wide backoff: test/auth/login-lockout.test.ts.

describe('refresh tokens', () => {
  it('rotates on every use: the new token works, the old one does not', async () => {
    const user = await signUp(server);
    const first = expectOk(await server.gql<{ refreshToken: Payload }>(REFRESH, { t: user.refreshToken })).refreshToken;
    expect(first.refreshToken).not.toBe(user.refreshToken);
    expect(first.role).toBe('OWNER');
    const second = expectOk(await server.gql<{ refreshToken: Payload }>(REFRESH, { t: first.refreshToken })).refreshToken;
    expectOk(await server.gql(ME, {}, second.accessToken));
    // Refreshing in the same tenant does not cut short access tokens already issued.
    expectOk(await server.gql(ME, {}, user.accessToken));
    expectOk(await server.gql(ME, {}, first.accessToken));
  });

  it('carries at least 256 random bits and is stored only as a hash', async () => {
    const user = await signUp(server);
    const [sessionId, secret] = user.refreshToken.split('.');
    expect(Buffer.from(secret!, 'base64url').length).toBeGreaterThanOrEqual(32);
    const session = await server.db.collection('sessions').findOne({ _id: sessionId as never });
    expect(session).not.toBeNull();
    expect(JSON.stringify(session)).not.toContain(secret);
  });

  it('treats reuse of a rotated token as an attack: the whole session is revoked and logged', async () => {
    const user = await signUp(server);
    const rotated = expectOk(await server.gql<{ refreshToken: Payload }>(REFRESH, { t: user.refreshToken })).refreshToken;
    const replay = await server.gql(REFRESH, { t: user.refreshToken });
    expectCode(replay, 'UNAUTHENTICATED');
    // The legitimate holder's newer tokens die with the session.
    expectCode(await server.gql(REFRESH, { t: rotated.refreshToken }), 'UNAUTHENTICATED');
    expectCode(await server.gql(ME, {}, rotated.accessToken), 'UNAUTHENTICATED');
    expect(server.logs.some((l) => l.includes('auth.refresh_token_reuse') && l.includes(user.userId))).toBe(true);
  });

  it('refuses malformed, unknown and tampered refresh tokens without revoking anything', async () => {
    const user = await signUp(server);
    const [sid, secret] = user.refreshToken.split('.');
    const flipped = `${sid}.${secret!.slice(0, -2)}${secret!.endsWith('AA') ? 'BB' : 'AA'}`;
    for (const t of ['', 'garbage', `${sid}.`, flipped, `00000000-0000-0000-0000-000000000000.${secret}`]) {
      expectCode(await server.gql(REFRESH, { t }), 'UNAUTHENTICATED');
    }
    expectOk(await server.gql(REFRESH, { t: user.refreshToken }));
  });

  it('lets exactly one of two concurrent uses of the same token win, and treats the loser as reuse', async () => {
    const user = await signUp(server);
    const results = await Promise.all([server.gql(REFRESH, { t: user.refreshToken }), server.gql(REFRESH, { t: user.refreshToken })]);
    // Whichever order they land in, at most one gets tokens and the session ends up revoked as reuse.
    expect(results.filter((r) => !r.errors).length).toBeLessThanOrEqual(1);
    expect(results.filter((r) => r.errors?.[0]?.extensions.code === 'UNAUTHENTICATED').length).toBeGreaterThanOrEqual(1);
    const session = await server.db.collection('sessions').findOne({ _id: user.refreshToken.split('.')[0] as never });
    expect(session?.revokedReason).toBe('refresh_token_reuse');
  });
});

describe('sessions', () => {
  it('logout revokes the current session: access and refresh tokens stop working', async () => {
    const user = await signUp(server);
    expect(expectOk(await server.gql<{ logout: boolean }>('mutation { logout }', {}, user.accessToken)).logout).toBe(true);
    expectCode(await server.gql(ME, {}, user.accessToken), 'UNAUTHENTICATED');
    expectCode(await server.gql(REFRESH, { t: user.refreshToken }), 'UNAUTHENTICATED');
  });

  it('stops a session revoked elsewhere (another instance) within the revocation check interval', async () => {
    const quick = await startServer({ SESSION_REVOCATION_CHECK_SECONDS: '1' });
    try {
      const user = await signUp(quick);
      expectOk(await quick.gql(ME, {}, user.accessToken)); // now cached
      const sid = user.refreshToken.split('.')[0];
      await quick.db.collection('sessions').updateOne({ _id: sid as never }, { $set: { revokedAt: new Date() } });
      await new Promise((r) => setTimeout(r, 1100));
      expectCode(await quick.gql(ME, {}, user.accessToken), 'UNAUTHENTICATED');
    } finally {
      await quick.close();
    }
  });

  it('lists the user\'s live sessions and marks the current one', async () => {
    const user = await signUp(server);
    const second = expectOk(await login(server, user.email, user.password)).login;
    const list = expectOk(
      await server.gql<{ sessions: { id: string; current: boolean; tenantId: string }[] }>(
        '{ sessions { id current tenantId createdAt lastUsedAt expiresAt ip userAgent } }',
        {},
        second.accessToken,
      ),
    ).sessions;
    expect(list).toHaveLength(2);
    expect(list.filter((s) => s.current)).toHaveLength(1);
    expect(list.find((s) => s.current)!.id).toBe(second.refreshToken.split('.')[0]);
  });

  it('revokeSession ends another of the user\'s sessions, and refuses anyone else\'s as NOT_FOUND', async () => {
    const user = await signUp(server);
    const phone = expectOk(await login(server, user.email, user.password)).login;
    const phoneSession = phone.refreshToken.split('.')[0];
    expectOk(await server.gql('mutation($id: ID!) { revokeSession(id: $id) }', { id: phoneSession }, user.accessToken));
    expectCode(await server.gql(ME, {}, phone.accessToken), 'UNAUTHENTICATED');
    expectOk(await server.gql(ME, {}, user.accessToken));

    const attacker = await signUp(server);
    const victimSession = user.refreshToken.split('.')[0];
    expectCode(await server.gql('mutation($id: ID!) { revokeSession(id: $id) }', { id: victimSession }, attacker.accessToken), 'NOT_FOUND');
    expectOk(await server.gql(ME, {}, user.accessToken));
  });
});

describe('changePassword', () => {
  const CHANGE = 'mutation($input: ChangePasswordInput!) { changePassword(input: $input) }';

  it('changes the password and revokes every other session, keeping the current one', async () => {
    const user = await signUp(server);
    const other = expectOk(await login(server, user.email, user.password)).login;
    const newPassword = 'amber-Quartz-meadow-71';
    expectOk(await server.gql(CHANGE, { input: { currentPassword: user.password, newPassword } }, user.accessToken));
    expectOk(await server.gql(ME, {}, user.accessToken));
    expectCode(await server.gql(ME, {}, other.accessToken), 'UNAUTHENTICATED');
    expectCode(await login(server, user.email, user.password), 'UNAUTHENTICATED');
    expectOk(await login(server, user.email, newPassword));
  });

  it('refuses a wrong current password and a weak new one, changing nothing', async () => {
    const user = await signUp(server);
    const wrong = await server.gql(CHANGE, { input: { currentPassword: 'wrong-password-123', newPassword: 'amber-Quartz-meadow-71' } }, user.accessToken);
    expectCode(wrong, 'BAD_USER_INPUT');
    expect(wrong.errors![0]!.message).toContain('currentPassword');
    const weak = await server.gql(CHANGE, { input: { currentPassword: user.password, newPassword: 'password1234' } }, user.accessToken);
    expectCode(weak, 'BAD_USER_INPUT');
    expect(weak.errors![0]!.message).toContain('newPassword');
    expectOk(await login(server, user.email, user.password));
  });

  it('requires authentication', async () => {
    expectCode(await server.gql(CHANGE, { input: { currentPassword: STRONG_PASSWORD, newPassword: 'amber-Quartz-meadow-71' } }), 'UNAUTHENTICATED');
  });
});

describe('switchTenant', () => {
  it('moves the session to another membership; the old tenant\'s token stops working', async () => {
    const alice = await signUp(server, 'Alpha');
    const beta = await signUp(server, 'Beta');
    await joinTenantOf(server, alice, beta);

    const switched = expectOk(
      await server.gql<{ switchTenant: Payload }>(`mutation($id: ID!) { switchTenant(tenantId: $id) { ${AUTH_FIELDS} } }`, { id: beta.tenantId }, alice.accessToken),
    ).switchTenant;
    expect(switched.tenant.id).toBe(beta.tenantId);
    expect(switched.role).toBe('USER');
    const me = expectOk(await server.gql<{ me: { tenant: { id: string }; role: string } }>(ME, {}, switched.accessToken)).me;
    expect(me).toMatchObject({ tenant: { id: beta.tenantId }, role: 'USER' });
    expectCode(await server.gql(ME, {}, alice.accessToken), 'UNAUTHENTICATED');
  });

  it('an access token for a tenant stays dead after switching away and back (A → B → A)', async () => {
    const alice = await signUp(server, 'Round Trip A');
    const beta = await signUp(server, 'Round Trip B');
    await joinTenantOf(server, alice, beta);
    expectOk(await server.gql(ME, {}, alice.accessToken)); // the first A token, live and cached

    const SWITCH = `mutation($id: ID!) { switchTenant(tenantId: $id) { ${AUTH_FIELDS} } }`;
    const toB = expectOk(await server.gql<{ switchTenant: Payload }>(SWITCH, { id: beta.tenantId }, alice.accessToken)).switchTenant;
    expectCode(await server.gql(ME, {}, alice.accessToken), 'UNAUTHENTICATED');
    const backToA = expectOk(await server.gql<{ switchTenant: Payload }>(SWITCH, { id: alice.tenantId }, toB.accessToken)).switchTenant;
    expect(backToA.tenant.id).toBe(alice.tenantId);

    // Same session, same tenant as the first token, but issued before two switches: refused.
    expectCode(await server.gql(ME, {}, alice.accessToken), 'UNAUTHENTICATED');
    expectCode(await server.gql(ME, {}, toB.accessToken), 'UNAUTHENTICATED');
    const me = expectOk(await server.gql<{ me: { tenant: { id: string }; role: string } }>(ME, {}, backToA.accessToken)).me;
    expect(me).toMatchObject({ tenant: { id: alice.tenantId }, role: 'OWNER' });

    // A plain refresh after the round trip keeps the newest access token alive.
    const refreshed = expectOk(await server.gql<{ refreshToken: Payload }>(REFRESH, { t: backToA.refreshToken })).refreshToken;
    expectOk(await server.gql(ME, {}, backToA.accessToken));
    expectOk(await server.gql(ME, {}, refreshed.accessToken));
    expectCode(await server.gql(ME, {}, alice.accessToken), 'UNAUTHENTICATED');
  });

  it('a session stored before switch counting (no switchCount) keeps working and is refused after A → B → A', async () => {
    const alice = await signUp(server, 'Legacy A');
    const beta = await signUp(server, 'Legacy B');
    await joinTenantOf(server, alice, beta);
    const sid = alice.refreshToken.split('.')[0];
    await server.db.collection('sessions').updateOne({ _id: sid as never }, { $unset: { switchCount: '' } });
    expectOk(await server.gql(ME, {}, alice.accessToken));

    const SWITCH = `mutation($id: ID!) { switchTenant(tenantId: $id) { ${AUTH_FIELDS} } }`;
    const toB = expectOk(await server.gql<{ switchTenant: Payload }>(SWITCH, { id: beta.tenantId }, alice.accessToken)).switchTenant;
    const backToA = expectOk(await server.gql<{ switchTenant: Payload }>(SWITCH, { id: alice.tenantId }, toB.accessToken)).switchTenant;
    expectCode(await server.gql(ME, {}, alice.accessToken), 'UNAUTHENTICATED');
    expectOk(await server.gql(ME, {}, backToA.accessToken));
  });

  it('refuses a tenant the user does not belong to as NOT_FOUND', async () => {
    const alice = await signUp(server);
    const other = await signUp(server);
    const res = await server.gql(`mutation($id: ID!) { switchTenant(tenantId: $id) { accessToken } }`, { id: other.tenantId }, alice.accessToken);
    expectCode(res, 'NOT_FOUND');
    expectOk(await server.gql(ME, {}, alice.accessToken));
  });
});

describe('a failure late in sign-up leaves nothing half-made', () => {
  it('removes the tenant, the membership and the user', async () => {
    const { createServices } = await import('../../src/services.js');
    const { AuthService } = await import('../../src/modules/auth/auth.service.js');
    const { createLogger } = await import('../../src/logger.js');
    const { publicCaller } = await import('../../src/identity/callers.js');
    const { services } = await createServices({ config: server.config, db: server.db, logger: createLogger('silent') });
    const realDeps = (services.auth as unknown as { deps: ConstructorParameters<typeof AuthService>[0] }).deps;
    const failing = new AuthService({
      ...realDeps,
      audit: { append: async (...events) => { if (events.some((e) => e.action === 'auth.signup')) throw new Error('audit store down'); await realDeps.audit.append(...events); } },
    });
    const email = uniqueEmail('halfway');
    const counts = async () => Promise.all(['users', 'tenants', 'memberships'].map((c) => server.db.collection(c).countDocuments()));
    const before = await counts();
    await expect(failing.signUp({ email, password: STRONG_PASSWORD, tenantName: 'Halfway' }, publicCaller({ ip: null, userAgent: null, requestId: 'x' }))).rejects.toThrow('audit store down');
    expect(await counts()).toEqual(before);
    expectOk(await server.gql('mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }', { input: { email, password: STRONG_PASSWORD, tenantName: 'Halfway' } }));
  });
});
