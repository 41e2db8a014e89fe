import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, expectCode, expectOk, signUp, type Signed } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { sha256Hex } from '../../src/crypto/random.js';
import { challengeFor, codeAt, complete, CONFIRM, DISABLE, enrol, ENROLL, loginAs, TestClock } from './totp-support.js';

// TRUST_PROXY=loopback: each test picks its client address with X-Forwarded-For, so lockouts stay apart.
// The account-wide backoff is off (it is tested with passwords in login-lockout.test.ts).
const clock = new TestClock();
let server: TestServer;
beforeAll(async () => {
  server = await startServer({ TRUST_PROXY: 'loopback', LOGIN_BACKOFF_MAX_SECONDS: '0' }, undefined, { twoFactor: { now: clock.now } });
});
afterAll(async () => server?.close());

let addressCount = 0;
/** A fresh client address, so one test's failures never lock another's. */
const fromNewAddress = () => ({ 'x-forwarded-for': `198.51.100.${++addressCount}` });
const ME = '{ me { user { id } role } }';
const MEMBERS = '{ members { role } }';

describe('enrolment', () => {
  it('returns a base32 secret, an otpauth:// URI for Coffer and the account, and an SVG QR code; pending until confirmed', async () => {
    const user = await signUp(server);
    const { enrollTotp } = expectOk(await server.gql<{ enrollTotp: { secret: string; uri: string; qrCodeDataUrl: string } }>(ENROLL, {}, user.accessToken));
    expect(enrollTotp.secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(enrollTotp.uri);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe(`/Coffer:${user.email}`);
    expect(uri.searchParams.get('issuer')).toBe('Coffer');
    expect(uri.searchParams.get('secret')).toBe(enrollTotp.secret);
    expect(enrollTotp.qrCodeDataUrl.startsWith('data:image/svg+xml;base64,')).toBe(true);
    expect(Buffer.from(enrollTotp.qrCodeDataUrl.split(',')[1]!, 'base64').toString('utf8')).toContain('<svg');
    // Pending: login still issues tokens directly.
    const { login } = expectOk(await loginAs(server, user, fromNewAddress()));
    expect(login.accessToken).toBeTruthy();
    expect(login.twoFactorChallenge).toBeNull();
    const status = expectOk(await server.gql<{ twoFactorStatus: { enabled: boolean; pending: boolean } }>('{ twoFactorStatus { enabled pending recoveryCodesLeft } }', {}, user.accessToken));
    expect(status.twoFactorStatus).toEqual({ enabled: false, pending: true, recoveryCodesLeft: 0 });
  });

  it('confirmTotp refuses a wrong code and activates with a right one, returning ten distinct recovery codes; re-enrolling is then CONFLICT', async () => {
    const user = await signUp(server);
    const { enrollTotp } = expectOk(await server.gql<{ enrollTotp: { secret: string } }>(ENROLL, {}, user.accessToken));
    const wrong = codeAt(enrollTotp.secret, clock.ms) === '000000' ? '111111' : '000000';
    expectCode(await server.gql(CONFIRM, { code: wrong, password: user.password }, user.accessToken), 'UNAUTHENTICATED');
    const { confirmTotp } = expectOk(await server.gql<{ confirmTotp: { recoveryCodes: string[] } }>(CONFIRM, { code: codeAt(enrollTotp.secret, clock.ms), password: user.password }, user.accessToken));
    expect(confirmTotp.recoveryCodes).toHaveLength(10);
    expect(new Set(confirmTotp.recoveryCodes).size).toBe(10);
    for (const code of confirmTotp.recoveryCodes) expect(code).toMatch(/^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);
    expectCode(await server.gql(ENROLL, {}, user.accessToken), 'CONFLICT');
    clock.nextStep();
  });
});

describe('login with a second factor', () => {
  it('login returns a challenge and no tokens; completeLogin with a code returns tokens that work and say amr pwd+otp', async () => {
    const user = await signUp(server);
    const { secret } = await enrol(server, clock, user);
    const headers = fromNewAddress();
    const challenge = await challengeFor(server, user, headers);
    const done = expectOk(await complete(server, challenge, codeAt(secret, clock.ms), headers)).completeLogin;
    expect(done.accessToken).toBeTruthy();
    expect(done.twoFactorChallenge).toBeNull();
    expect(decodeJwt(done.accessToken!).amr).toEqual(['pwd', 'otp']);
    expect(expectOk(await server.gql<{ me: { user: { id: string } } }>(ME, {}, done.accessToken!)).me.user.id).toBe(user.userId);
    expectOk(await server.gql(MEMBERS, {}, done.accessToken!));
    // The challenge is single use.
    clock.nextStep();
    expectCode(await complete(server, challenge, codeAt(secret, clock.ms), headers), 'UNAUTHENTICATED');
  });

  it('a code is accepted once: the same code on a second challenge is refused (replay)', async () => {
    const user = await signUp(server);
    const { secret } = await enrol(server, clock, user);
    const headers = fromNewAddress();
    const code = codeAt(secret, clock.ms);
    expectOk(await complete(server, await challengeFor(server, user, headers), code, headers));
    expectCode(await complete(server, await challengeFor(server, user, headers), code, headers), 'UNAUTHENTICATED');
    // The previous step's code (inside the drift window) is refused too: steps only move forward.
    expectCode(await complete(server, await challengeFor(server, user, headers), codeAt(secret, clock.ms - 30_000), headers), 'UNAUTHENTICATED');
    clock.nextStep();
    expectOk(await complete(server, await challengeFor(server, user, headers), codeAt(secret, clock.ms), headers));
    clock.nextStep();
  });

  it('two concurrent uses of one code let exactly one through', async () => {
    const user = await signUp(server);
    const { secret } = await enrol(server, clock, user);
    const headers = fromNewAddress();
    const challenges = await Promise.all([1, 2, 3, 4].map(() => challengeFor(server, user, headers)));
    const code = codeAt(secret, clock.ms);
    const results = await Promise.all(challenges.map((c) => complete(server, c, code, headers)));
    expect(results.filter((r) => r.data?.completeLogin?.accessToken).length).toBe(1);
    expect(results.filter((r) => r.errors?.[0]?.extensions.code === 'UNAUTHENTICATED').length).toBe(3);
    clock.nextStep();
  });

  it('wrong codes are refused and count toward the login lockout: enough failures lock even a right code out (ACCOUNT_LOCKED), from that address only', async () => {
    const user = await signUp(server);
    const { secret } = await enrol(server, clock, user);
    const attacker = fromNewAddress();
    // Two challenges: one takes at most 5 codes (test/security/totp-challenge-cap.test.ts), the lockout counts across them.
    const first = await challengeFor(server, user, attacker);
    const challenge = await challengeFor(server, user, attacker);
    const right = codeAt(secret, clock.ms);
    const wrongCodes = ['000000', '111111', '222222', '333333', '444444', '555555'].filter((c) => c !== right && c !== codeAt(secret, clock.ms - 30_000) && c !== codeAt(secret, clock.ms + 30_000));
    for (const wrong of wrongCodes.slice(0, 3)) expectCode(await complete(server, first, wrong, attacker), 'UNAUTHENTICATED');
    for (const wrong of wrongCodes.slice(3, 5)) expectCode(await complete(server, challenge, wrong, attacker), 'UNAUTHENTICATED');
    const locked = await complete(server, challenge, right, attacker);
    expectCode(locked, 'ACCOUNT_LOCKED');
    expect(locked.errors![0]!.extensions.lockedUntil).toBeTruthy();
    // A locked try judged no code: it gave its reserved attempt back (2 wrong codes on this challenge).
    expect((await server.db.collection('login_challenges').findOne({ _id: sha256Hex(challenge) as never }))?.attempts).toBe(2);
    // The password step from that address is locked as well: one counter for both factors.
    expectCode(await loginAs(server, user, attacker), 'ACCOUNT_LOCKED');
    // Another address is not locked out.
    const owner = fromNewAddress();
    expectOk(await complete(server, await challengeFor(server, user, owner), right, owner));
    const audit = await server.db.collection('audit_events').find({ action: 'auth.second_factor.failed', 'resource.id': user.userId }).toArray();
    expect(audit.length).toBeGreaterThanOrEqual(5);
    clock.nextStep();
  });

  it('the session keeps amr pwd+otp across refreshes; two concurrent uses of one recovery code let exactly one through', async () => {
    const user = await signUp(server);
    const { secret, recoveryCodes } = await enrol(server, clock, user);
    const headers = fromNewAddress();
    const done = expectOk(await complete(server, await challengeFor(server, user, headers), codeAt(secret, clock.ms), headers)).completeLogin;
    const refreshed = expectOk(
      await server.gql<{ refreshToken: { accessToken: string } }>('mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }', { t: done.refreshToken }),
    ).refreshToken;
    expect(decodeJwt(refreshed.accessToken).amr).toEqual(['pwd', 'otp']);
    const challenges = await Promise.all([1, 2, 3].map(() => challengeFor(server, user, headers)));
    const results = await Promise.all(challenges.map((c) => complete(server, c, recoveryCodes[5]!, headers)));
    expect(results.filter((r) => r.data?.completeLogin?.accessToken).length).toBe(1);
    clock.nextStep();
  });

  it('a recovery code works once in place of a TOTP code; its second use is refused', async () => {
    const user = await signUp(server);
    const { recoveryCodes } = await enrol(server, clock, user);
    const headers = fromNewAddress();
    const done = expectOk(await complete(server, await challengeFor(server, user, headers), recoveryCodes[3]!.toUpperCase(), headers)).completeLogin;
    expect(done.accessToken).toBeTruthy();
    expectCode(await complete(server, await challengeFor(server, user, headers), recoveryCodes[3]!, headers), 'UNAUTHENTICATED');
    const status = expectOk(await server.gql<{ twoFactorStatus: { recoveryCodesLeft: number } }>('{ twoFactorStatus { recoveryCodesLeft } }', {}, done.accessToken!));
    expect(status.twoFactorStatus.recoveryCodesLeft).toBe(9);
    expect(await server.db.collection('audit_events').countDocuments({ action: 'auth.recovery_code.used', 'resource.id': user.userId })).toBe(1);
  });

  it('refuses an expired challenge (5 minutes), a forged one, and one presented by another client', async () => {
    const user = await signUp(server);
    const { secret } = await enrol(server, clock, user);
    const headers = fromNewAddress();
    const expiring = await challengeFor(server, user, headers);
    clock.ms += 5 * 60_000 + 1_000;
    expectCode(await complete(server, expiring, codeAt(secret, clock.ms), headers), 'UNAUTHENTICATED');
    expectCode(await complete(server, 'A'.repeat(43), codeAt(secret, clock.ms), headers), 'UNAUTHENTICATED');
    expectCode(await complete(server, 'not a challenge', codeAt(secret, clock.ms), headers), 'UNAUTHENTICATED');
    const fresh = await challengeFor(server, user, headers);
    expectCode(await complete(server, fresh, codeAt(secret, clock.ms), fromNewAddress()), 'UNAUTHENTICATED');
    expectCode(await complete(server, fresh, codeAt(secret, clock.ms), { ...headers, 'user-agent': 'another-browser/1.0' }), 'UNAUTHENTICATED');
    // The right client still completes it.
    expectOk(await complete(server, fresh, codeAt(secret, clock.ms), headers));
    const reasons = (await server.db.collection('audit_events').find({ action: 'auth.login.challenge_refused' }).toArray()).map((e) => (e.details as { reason: string }).reason);
    expect(reasons).toEqual(expect.arrayContaining(['expired', 'unknown', 'other_client']));
    clock.nextStep();
  });

  it('a challenge from one user cannot be completed with another user\'s code', async () => {
    const alice = await signUp(server);
    const bob = await signUp(server);
    await enrol(server, clock, alice);
    const bobs = await enrol(server, clock, bob);
    const headers = fromNewAddress();
    const aliceChallenge = await challengeFor(server, alice, headers);
    expectCode(await complete(server, aliceChallenge, codeAt(bobs.secret, clock.ms), headers), 'UNAUTHENTICATED');
    expectCode(await complete(server, aliceChallenge, bobs.recoveryCodes[0]!, headers), 'UNAUTHENTICATED');
    // Bob's recovery code was not spent on Alice's challenge.
    expectOk(await complete(server, await challengeFor(server, bob, headers), bobs.recoveryCodes[0]!, headers));
    clock.nextStep();
  });
});

describe('disableTotp', () => {
  it('needs both the password and a code; afterwards login issues tokens directly again', async () => {
    const user = await signUp(server);
    const { secret } = await enrol(server, clock, user);
    const headers = fromNewAddress();
    const token = expectOk(await complete(server, await challengeFor(server, user, headers), codeAt(secret, clock.ms), headers)).completeLogin.accessToken!;
    clock.nextStep();
    const code = codeAt(secret, clock.ms);
    expectCode(await server.gql(DISABLE, { password: 'wrong-password-123', code }, token, headers), 'UNAUTHENTICATED');
    expectCode(await server.gql(DISABLE, { password: user.password, code: '12345' }, token, headers), 'UNAUTHENTICATED');
    expect((await server.db.collection('user_totp').findOne({ _id: user.userId as never }))?.state).toBe('ACTIVE');
    expect(expectOk(await server.gql<{ disableTotp: boolean }>(DISABLE, { password: user.password, code }, token, headers)).disableTotp).toBe(true);
    expect(await server.db.collection('user_totp').countDocuments({ _id: user.userId as never })).toBe(0);
    const { login } = expectOk(await loginAs(server, user, headers));
    expect(login.accessToken).toBeTruthy();
    expect(login.twoFactorChallenge).toBeNull();
    expect(decodeJwt(login.accessToken!).amr).toEqual(['pwd']);
    // Enrolling again is possible once disabled.
    expectOk(await server.gql(ENROLL, {}, login.accessToken!));
    clock.nextStep();
  });

  it('accepts a recovery code as the code', async () => {
    const user = await signUp(server);
    const { recoveryCodes } = await enrol(server, clock, user);
    expectOk(await server.gql(DISABLE, { password: user.password, code: recoveryCodes[9] }, user.accessToken, fromNewAddress()));
  });
});

describe('tenant policy requireTwoFactorFor', () => {
  const POLICY = 'mutation($roles: [Role!]!) { updateTwoFactorPolicy(requireTwoFactorFor: $roles) { id requireTwoFactorFor } }';
  let owner: Signed;
  let ownerSecret: string;

  beforeAll(async () => {
    owner = await signUp(server, 'Policy');
    ({ secret: ownerSecret } = await enrol(server, clock, owner)); // confirmTotp made this session a second-factor one
  });

  it('only an OWNER sets it, and it is audited', async () => {
    const admin = await addMember(server, owner, 'ADMIN');
    expectCode(await server.gql(POLICY, { roles: ['ADMIN'] }, admin.accessToken), 'FORBIDDEN');
    const set = expectOk(await server.gql<{ updateTwoFactorPolicy: { requireTwoFactorFor: string[] } }>(POLICY, { roles: ['OWNER', 'ADMIN'] }, owner.accessToken));
    expect(set.updateTwoFactorPolicy.requireTwoFactorFor).toEqual(['OWNER', 'ADMIN']);
    const event = await server.db.collection('audit_events').findOne({ action: 'tenant.two_factor_policy_changed', tenantId: owner.tenantId });
    expect(event?.details).toEqual({ roles: ['OWNER', 'ADMIN'] });
    expectOk(await server.gql(POLICY, { roles: [] }, owner.accessToken));
  });

  it('blocks an unenrolled ADMIN with TWO_FACTOR_REQUIRED except for enrolling; once enrolled the ADMIN works; a USER is unaffected', async () => {
    const admin = await addMember(server, owner, 'ADMIN');
    const user = await addMember(server, owner, 'USER');
    expectOk(await server.gql(POLICY, { roles: ['OWNER', 'ADMIN'] }, owner.accessToken));
    const blocked = await server.gql(MEMBERS, {}, admin.accessToken);
    expectCode(blocked, 'TWO_FACTOR_REQUIRED');
    expect(blocked.data?.members ?? null).toBeNull();
    expectCode(await server.gql('mutation { rotateTenantKey { activeDekVersion } }', {}, admin.accessToken), 'TWO_FACTOR_REQUIRED');
    expectOk(await server.gql(ME, {}, admin.accessToken));
    expectOk(await server.gql(MEMBERS, {}, user.accessToken));
    // The OWNER's session used the second factor (confirmTotp): not blocked.
    expectOk(await server.gql(MEMBERS, {}, owner.accessToken));

    await enrol(server, clock, admin);
    expectOk(await server.gql(MEMBERS, {}, admin.accessToken));
    expect(await server.db.collection('user_totp').countDocuments({ _id: admin.userId as never, state: 'ACTIVE' })).toBe(1);
    // A fresh OWNER login goes through completeLogin, and that session passes as well.
    const ownerHeaders = fromNewAddress();
    const ownerToken = expectOk(await complete(server, await challengeFor(server, owner, ownerHeaders), codeAt(ownerSecret, clock.ms), ownerHeaders)).completeLogin.accessToken!;
    expectOk(await server.gql(MEMBERS, {}, ownerToken));
    clock.nextStep();
  });

  it('API keys are unaffected: a key of an ADMIN-role keeps working under a policy covering ADMIN', async () => {
    expectOk(await server.gql(POLICY, { roles: ['OWNER', 'ADMIN'] }, owner.accessToken));
    const created = expectOk(
      await server.gql<{ createApiKey: { apiKey: string } }>('mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey } }', { input: { name: 'ci', role: 'ADMIN', prefixes: ['*'] } }, owner.accessToken),
    ).createApiKey;
    expectOk(await server.gql('{ secrets { totalCount } }', {}, created.apiKey));
    expectOk(await server.gql(POLICY, { roles: [] }, owner.accessToken));
  });

  it('an enrolled member whose session did not use the second factor is blocked (the policy is per session)', async () => {
    const admin = await addMember(server, owner, 'ADMIN');
    expectOk(await server.gql(POLICY, { roles: [] }, owner.accessToken));
    const { secret } = await enrol(server, clock, admin);
    // A password-only session cannot exist for an enrolled user; an older session from before enrolling can.
    const older = admin.accessToken;
    const headers = fromNewAddress();
    const newer = expectOk(await complete(server, await challengeFor(server, admin, headers), codeAt(secret, clock.ms), headers)).completeLogin.accessToken!;
    await server.db.collection('sessions').updateMany({ userId: admin.userId }, { $set: { amr: ['pwd'] } });
    await server.db.collection('sessions').updateOne({ _id: decodeJwt(newer).sid as never }, { $set: { amr: ['pwd', 'otp'] } });
    expectOk(await server.gql(POLICY, { roles: ['ADMIN', 'OWNER'] }, owner.accessToken));
    expectCode(await server.gql(MEMBERS, {}, older), 'TWO_FACTOR_REQUIRED');
    expectOk(await server.gql(MEMBERS, {}, newer));
    expectOk(await server.gql(POLICY, { roles: [] }, owner.accessToken));
    clock.nextStep();
  });
});

describe('storage', () => {
  it('the raw database and the logs hold no TOTP secret, recovery code, challenge or code in plaintext', async () => {
    const user = await signUp(server);
    const { enrollTotp } = expectOk(await server.gql<{ enrollTotp: { secret: string } }>(ENROLL, {}, user.accessToken));
    const confirmCode = codeAt(enrollTotp.secret, clock.ms);
    const { confirmTotp } = expectOk(await server.gql<{ confirmTotp: { recoveryCodes: string[] } }>(CONFIRM, { code: confirmCode, password: user.password }, user.accessToken));
    clock.nextStep();
    const headers = fromNewAddress();
    const challenge = await challengeFor(server, user, headers);
    const pending = await challengeFor(server, user, headers); // left unused, stored
    const loginCode = codeAt(enrollTotp.secret, clock.ms);
    expectOk(await complete(server, challenge, loginCode, headers));
    expectOk(await complete(server, await challengeFor(server, user, headers), confirmTotp.recoveryCodes[0]!, headers));

    const secretBytes = Buffer.from(decodeBase32(enrollTotp.secret));
    const needles = [
      enrollTotp.secret,
      enrollTotp.secret.toLowerCase(),
      secretBytes.toString('hex'),
      secretBytes.toString('base64'),
      challenge,
      pending,
      ...confirmTotp.recoveryCodes,
      ...confirmTotp.recoveryCodes.map((c) => c.replace(/-/g, '').toUpperCase()),
      ...confirmTotp.recoveryCodes.map((c) => c.replace(/-/g, '')),
    ];
    const collections = await server.db.listCollections().toArray();
    for (const { name } of collections) {
      const docs = await server.db.collection(name).find({}).toArray();
      const text = JSON.stringify(docs);
      const raw = Buffer.concat(docs.map((d) => Buffer.from(JSON.stringify(d, (_k, v: unknown) => (v && typeof v === 'object' && 'buffer' in v ? Buffer.from((v as { buffer: Uint8Array }).buffer).toString('latin1') : v)))));
      for (const needle of needles) {
        expect(text.includes(needle), `${name} holds ${needle.slice(0, 6)}…`).toBe(false);
        expect(raw.includes(needle), `${name} holds ${needle.slice(0, 6)}… in binary`).toBe(false);
      }
      expect(raw.includes(secretBytes.toString('latin1')), `${name} holds the raw secret bytes`).toBe(false);
    }
    const logs = server.logs.join('\n');
    for (const needle of [...needles, confirmCode, loginCode]) expect(logs.includes(needle), `logs hold ${needle.slice(0, 6)}…`).toBe(false);
    // The sealed secret is there, and its key is wrapped in platform_keys.
    const doc = await server.db.collection('user_totp').findOne({ _id: user.userId as never });
    expect(doc?.sealedSecret).toBeTruthy();
    expect(await server.db.collection('platform_keys').countDocuments({ _id: 'totp-secrets' as never })).toBe(1);
    clock.nextStep();
  });
});

function decodeBase32(text: string): Uint8Array {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const char of text) {
    value = (value << 5) | alphabet.indexOf(char);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}
