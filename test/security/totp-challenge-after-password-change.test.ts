import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCode, expectOk, signUp } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { challengeFor, codeAt, complete, enrol, TestClock } from '../auth/totp-support.js';

/**
 * Attack (i12, outsider review): someone who knew the old password passed the password step of
 * a login (holding a second-factor challenge) before the owner changed the password. The owner's
 * changePassword ends every other session; the challenge, proof of the old password only, must
 * end with them, or a phished or shoulder-surfed code completes a login under the old password.
 */
const clock = new TestClock();
let server: TestServer;
beforeAll(async () => {
  server = await startServer({ TRUST_PROXY: 'loopback', LOGIN_BACKOFF_MAX_SECONDS: '0' }, undefined, { twoFactor: { now: clock.now } });
});
afterAll(() => server?.close());

const CHANGE = 'mutation($input: ChangePasswordInput!) { changePassword(input: $input) }';
const NEW_PASSWORD = 'amber-Tundra-compass-71';

describe('a login challenge issued under the old password', () => {
  it('cannot be completed after changePassword, even with a valid code; a login with the new password still works', async () => {
    const user = await signUp(server);
    const { secret } = await enrol(server, clock, user);
    const attacker = { 'x-forwarded-for': '198.51.100.7', 'user-agent': 'attacker' };
    const pending = await challengeFor(server, user, attacker);

    const owner = { 'x-forwarded-for': '203.0.113.9' };
    expectOk(await server.gql(CHANGE, { input: { currentPassword: user.password, newPassword: NEW_PASSWORD, totpCode: codeAt(secret, clock.ms) } }, user.accessToken, owner));
    clock.nextStep();

    const res = await complete(server, pending, codeAt(secret, clock.ms), attacker);
    expectCode(res, 'UNAUTHENTICATED');
    expect(res.data?.completeLogin ?? null).toBeNull();
    expect(await server.db.collection('login_challenges').countDocuments({ userId: user.userId })).toBe(0);

    // The owner is not locked out: the new password and the same (unspent) code log in.
    const fresh = await challengeFor(server, { email: user.email, password: NEW_PASSWORD }, owner);
    expect(expectOk(await complete(server, fresh, codeAt(secret, clock.ms), owner)).completeLogin.accessToken).toBeTruthy();
    clock.nextStep();
  });
});
