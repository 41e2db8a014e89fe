import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_FIELDS, expectCode, expectOk, signUp, uniqueEmail } from '../support/auth.js';
import { startServer, type GraphQLResponse, type TestServer } from '../support/server.js';

// TRUST_PROXY=loopback: the test client (on 127.0.0.1) chooses its address with X-Forwarded-For,
// as a reverse proxy would. The account-wide delay is off here; it has its own test below.
let server: TestServer;
beforeAll(async () => {
  server = await startServer({ TRUST_PROXY: 'loopback', LOGIN_BACKOFF_MAX_SECONDS: '0' });
});
afterAll(async () => server?.close());

const ATTACKER = '203.0.113.66';
const OWNER_ADDRESS = '198.51.100.7';
const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { ${AUTH_FIELDS} } }`;

function loginFrom(target: TestServer, ip: string, email: string, password: string) {
  return target.gql(LOGIN, { input: { email, password } }, undefined, { 'x-forwarded-for': ip });
}

/** What a client can observe of a refusal: code, message and extension names (not the request id). */
function observable(res: GraphQLResponse) {
  const error = res.errors?.[0];
  return { code: error?.extensions.code, message: error?.message, extensions: Object.keys(error?.extensions ?? {}).sort(), data: res.data ?? null };
}

describe('lockout is per (email, client address)', () => {
  it('a stranger\'s wrong passwords lock only the stranger\'s address; the owner still logs in from elsewhere', async () => {
    const owner = await signUp(server);
    for (let i = 0; i < 5; i++) expectCode(await loginFrom(server, ATTACKER, owner.email, `wrong-password-${i}-abc`), 'UNAUTHENTICATED');
    const locked = await loginFrom(server, ATTACKER, owner.email, owner.password);
    expectCode(locked, 'ACCOUNT_LOCKED');
    const minutes = (new Date(String(locked.errors![0]!.extensions.lockedUntil)).getTime() - Date.now()) / 60_000;
    expect(minutes).toBeGreaterThan(14);
    expect(minutes).toBeLessThanOrEqual(15);
    expect(server.logs.some((l) => l.includes('auth.login_locked') && l.includes(owner.userId))).toBe(true);

    expect(expectOk(await loginFrom(server, OWNER_ADDRESS, owner.email, owner.password)).login).toBeTruthy();
    // Five more every 15 minutes keep the attacker locked out, never the owner.
    for (let i = 0; i < 5; i++) await loginFrom(server, ATTACKER, owner.email, `wrong-password-${i}-def`);
    expectCode(await loginFrom(server, ATTACKER, owner.email, owner.password), 'ACCOUNT_LOCKED');
    expectOk(await loginFrom(server, OWNER_ADDRESS, owner.email, owner.password));
  });

  it('unlocks once the lock has expired, and a success from an address resets its count', async () => {
    const own = await startServer({ TRUST_PROXY: 'loopback', LOGIN_BACKOFF_MAX_SECONDS: '0' });
    try {
      const user = await signUp(own);
      for (let i = 0; i < 5; i++) await loginFrom(own, ATTACKER, user.email, `wrong-password-${i}-abc`);
      expectCode(await loginFrom(own, ATTACKER, user.email, user.password), 'ACCOUNT_LOCKED');
      await own.db.collection('login_failures').updateMany({ lockedUntil: { $ne: null } }, { $set: { lockedUntil: new Date(Date.now() - 1000) } });
      expectOk(await loginFrom(own, ATTACKER, user.email, user.password));
      for (let i = 0; i < 4; i++) await loginFrom(own, ATTACKER, user.email, `wrong-password-${i}-abc`);
      expectOk(await loginFrom(own, ATTACKER, user.email, user.password)); // 4 failures then success: not locked
      for (let i = 0; i < 4; i++) await loginFrom(own, ATTACKER, user.email, `wrong-password-${i}-abc`);
      expectOk(await loginFrom(own, ATTACKER, user.email, user.password));
    } finally {
      await own.close();
    }
  });

  it('honours configured thresholds', async () => {
    const strict = await startServer({ LOGIN_MAX_FAILURES: '2', LOGIN_LOCKOUT_MINUTES: '60', LOGIN_BACKOFF_MAX_SECONDS: '0' });
    try {
      const user = await signUp(strict);
      await strict.gql(LOGIN, { input: { email: user.email, password: 'wrong-password-1-abc' } });
      await strict.gql(LOGIN, { input: { email: user.email, password: 'wrong-password-2-abc' } });
      const res = await strict.gql(LOGIN, { input: { email: user.email, password: user.password } });
      expectCode(res, 'ACCOUNT_LOCKED');
      const minutes = (new Date(String(res.errors![0]!.extensions.lockedUntil)).getTime() - Date.now()) / 60_000;
      expect(minutes).toBeGreaterThan(59);
    } finally {
      await strict.close();
    }
  });

  it('counts failed acceptInvitation passwords the same way', async () => {
    const victim = await signUp(server, 'Victim Co');
    const inviter = await signUp(server, 'Inviter Co');
    const token = expectOk(
      await server.gql<{ inviteMember: { token: string } }>(
        'mutation($input: InviteMemberInput!) { inviteMember(input: $input) { token } }',
        { input: { email: victim.email, role: 'USER' } },
        inviter.accessToken,
      ),
    ).inviteMember.token;
    const ACCEPT = 'mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { role } }';
    const acceptFrom = (password: string) => server.gql(ACCEPT, { input: { token, password } }, undefined, { 'x-forwarded-for': ATTACKER });
    for (let i = 0; i < 5; i++) expectCode(await acceptFrom(`wrong-password-${i}-xyz`), 'UNAUTHENTICATED');
    expectCode(await acceptFrom(victim.password), 'ACCOUNT_LOCKED');
    expectCode(await loginFrom(server, ATTACKER, victim.email, victim.password), 'ACCOUNT_LOCKED');
    expectOk(await loginFrom(server, OWNER_ADDRESS, victim.email, victim.password));
    expect(await server.db.collection('memberships').countDocuments({ userId: victim.userId })).toBe(1);
  });

  it('stores counters under keyed hashes: no email and no address in the collection', async () => {
    const email = uniqueEmail('hashed');
    for (let i = 0; i < 2; i++) await loginFrom(server, ATTACKER, email, `wrong-password-${i}-abc`);
    const dump = JSON.stringify(await server.db.collection('login_failures').find({}).toArray());
    expect(dump).not.toContain(email);
    expect(dump).not.toContain(email.split('@')[0]);
    expect(dump).not.toContain(ATTACKER);
    const key = await server.db.collection('platform_keys').findOne({ _id: 'login-failures' as never });
    expect(key?.masterKeyId).toBe('t1'); // stored wrapped under the master keyring
  });
});

describe('known and unknown emails are indistinguishable', () => {
  it('unknown emails lock the same way, with the same answers', async () => {
    const owner = await signUp(server);
    const ghost = uniqueEmail('ghost');
    const run = async (email: string, password: string) => {
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push(observable(await loginFrom(server, ATTACKER, email, `wrong-password-${i}-abc`)));
      answers.push(observable(await loginFrom(server, ATTACKER, email, password)));
      return answers;
    };
    const known = await run(owner.email, owner.password);
    const unknown = await run(ghost, owner.password);
    expect(known.at(-1)!.code).toBe('ACCOUNT_LOCKED');
    expect(unknown).toEqual(known);
  });

  it('a failure does the same database work for a known and an unknown email', async () => {
    const owner = await signUp(server);
    const ghost = uniqueEmail('ghost');
    const settle = () => new Promise((r) => setTimeout(r, 100));
    await loginFrom(server, '192.0.2.1', uniqueEmail('warm-up'), 'wrong-password-warm'); // key loaded, sweep done
    await settle();
    /** The commands one failed login sends, per attempt (the 6th is refused as locked). */
    const trace = async (email: string) => {
      const perAttempt: string[][] = [];
      for (let i = 0; i < 6; i++) {
        const before = server.commands.length;
        await loginFrom(server, ATTACKER, email, `wrong-password-${i}-abc`);
        await settle();
        // The request budgets (rate_limits) count every request alike, whatever the email; the
        // whole-API one is written in batches, so where its write falls is timing, not the email.
        perAttempt.push(server.commands.slice(before).filter((c) => c !== 'findAndModify:rate_limits').sort());
      }
      return perAttempt;
    };
    const known = await trace(owner.email);
    const unknown = await trace(ghost);
    expect(known.flat().some((c) => c.startsWith('findAndModify:login_failures'))).toBe(true);
    expect(unknown).toEqual(known);
  });
});

describe('account-wide backoff', () => {
  it('slows attempts at an email after failures from many addresses, for everyone, without refusing the owner', async () => {
    const slow = await startServer({ TRUST_PROXY: 'loopback', LOGIN_MAX_FAILURES: '2', LOGIN_BACKOFF_MAX_SECONDS: '1' });
    try {
      const owner = await signUp(slow);
      const timed = async (ip: string, password: string) => {
        const started = performance.now();
        const res = await loginFrom(slow, ip, owner.email, password);
        return { res, ms: performance.now() - started };
      };
      // One failure from each of three addresses: none is locked, the email has 3 failures.
      for (const ip of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) expectCode((await timed(ip, 'wrong-password-abc')).res, 'UNAUTHENTICATED');
      const third = await timed('203.0.113.4', 'wrong-password-abc'); // 3 failures: waits 500 ms
      expectCode(third.res, 'UNAUTHENTICATED');
      expect(third.ms).toBeGreaterThanOrEqual(450);
      const ownerAttempt = await timed(OWNER_ADDRESS, owner.password); // 4 failures: capped at 1 s, then let in
      expectOk(ownerAttempt.res);
      expect(ownerAttempt.ms).toBeGreaterThanOrEqual(950);
      // Another email is not slowed.
      const other = await signUp(slow);
      const started = performance.now();
      expectOk(await loginFrom(slow, OWNER_ADDRESS, other.email, other.password));
      expect(performance.now() - started).toBeLessThan(450);
    } finally {
      await slow.close();
    }
  });
});

describe('the login-failure key', () => {
  it('follows master key rotation, and is replaced (counters start over) when its master key has left the keyring', async () => {
    const { randomBytes } = await import('node:crypto');
    const k1 = `k1:${randomBytes(32).toString('base64')}`;
    const k2 = `k2:${randomBytes(32).toString('base64')}`;
    const first = await startServer({ TRUST_PROXY: 'loopback', VAULT_MASTER_KEYS: k1, VAULT_ACTIVE_MASTER_KEY: 'k1' });
    const dbName = first.db.databaseName;
    const stored = async (target: TestServer) => target.db.collection('platform_keys').findOne({ _id: 'login-failures' as never });
    const email = uniqueEmail('rotated');
    try {
      for (let i = 0; i < 5; i++) await loginFrom(first, ATTACKER, email, `wrong-password-${i}-abc`);
      expectCode(await loginFrom(first, ATTACKER, email, 'wrong-password-x'), 'ACCOUNT_LOCKED');
      expect((await stored(first))?.masterKeyId).toBe('k1');

      // k2 becomes active, k1 still listed: same key, re-wrapped under k2, counters kept.
      const rotated = await startServer({ TRUST_PROXY: 'loopback', VAULT_MASTER_KEYS: `${k1},${k2}`, VAULT_ACTIVE_MASTER_KEY: 'k2' }, dbName);
      try {
        expectCode(await loginFrom(rotated, ATTACKER, email, 'wrong-password-x'), 'ACCOUNT_LOCKED');
        expect((await stored(rotated))?.masterKeyId).toBe('k2');
      } finally {
        await rotated.close();
      }

      // Its master key gone from the keyring (retired after a rotation the key missed):
      // a fresh key replaces the unreadable one, counters start over, logins keep working.
      await first.db.collection('platform_keys').updateOne({ _id: 'login-failures' as never }, { $set: { masterKeyId: 'retired' } });
      const replaced = await startServer({ TRUST_PROXY: 'loopback', VAULT_MASTER_KEYS: `${k1},${k2}`, VAULT_ACTIVE_MASTER_KEY: 'k2' }, dbName);
      try {
        expectCode(await loginFrom(replaced, ATTACKER, email, 'wrong-password-x'), 'UNAUTHENTICATED');
        expect((await stored(replaced))?.masterKeyId).toBe('k2');
        expect(replaced.logs.some((l) => l.includes('auth.login_failure_key_replaced'))).toBe(true);
      } finally {
        await replaced.close();
      }
    } finally {
      await first.close();
    }
  });
});
