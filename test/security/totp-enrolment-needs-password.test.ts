import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCode, expectOk, login, signUp } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { codeAt, CONFIRM, ENROLL, TestClock } from '../auth/totp-support.js';

/**
 * Attack (found by the attack pass on the step-up work): an access token stolen from a user
 * without a second factor is enough to enrol one (the attacker scans the QR code), after which
 * the owner's logins ask for a code only the attacker has, and disableTotp needs that code too:
 * the owner is locked out of their own account. Activating a second factor now needs the
 * account password as well, counted toward the login lockout like any password.
 */
const clock = new TestClock();
const STATUS = '{ twoFactorStatus { enabled pending } }';
let server: TestServer;
beforeAll(async () => {
  server = await startServer({ TRUST_PROXY: 'loopback', LOGIN_BACKOFF_MAX_SECONDS: '0' }, undefined, { twoFactor: { now: clock.now } });
});
afterAll(() => server?.close());

describe('activating a second factor needs the password', () => {
  it('a stolen access token with the right code but no or a wrong password cannot activate it; the owner still logs in with the password alone', async () => {
    const victim = await signUp(server, 'Victim');
    const attacker = { 'x-forwarded-for': '203.0.113.66' };
    const { enrollTotp } = expectOk(await server.gql<{ enrollTotp: { secret: string } }>(ENROLL, {}, victim.accessToken, attacker));
    const code = codeAt(enrollTotp.secret, clock.ms);

    // No password at all: refused by the schema (the argument is required).
    expectCode(await server.gql('mutation($code: String!) { confirmTotp(code: $code) { recoveryCodes } }', { code }, victim.accessToken, attacker), 'BAD_USER_INPUT');
    // Guessed passwords: UNAUTHENTICATED, then the attacker's address is locked out.
    for (let i = 0; i < 5; i++) expectCode(await server.gql(CONFIRM, { code, password: `guess-${i}-Orchard-88` }, victim.accessToken, attacker), 'UNAUTHENTICATED');
    expectCode(await server.gql(CONFIRM, { code, password: victim.password }, victim.accessToken, attacker), 'ACCOUNT_LOCKED');

    expect(expectOk(await server.gql<{ twoFactorStatus: { enabled: boolean; pending: boolean } }>(STATUS, {}, victim.accessToken)).twoFactorStatus).toEqual({ enabled: false, pending: true });
    const relogin = expectOk(await login(server, victim.email, victim.password)).login;
    expect(relogin.accessToken).toBeTruthy(); // tokens, no twoFactorChallenge
  });

  it('the owner, with the password and the code, activates it', async () => {
    const user = await signUp(server, 'Owner');
    const { enrollTotp } = expectOk(await server.gql<{ enrollTotp: { secret: string } }>(ENROLL, {}, user.accessToken));
    const { confirmTotp } = expectOk(await server.gql<{ confirmTotp: { recoveryCodes: string[] } }>(CONFIRM, { code: codeAt(enrollTotp.secret, clock.ms), password: user.password }, user.accessToken));
    expect(confirmTotp.recoveryCodes).toHaveLength(10);
    expect(expectOk(await server.gql<{ twoFactorStatus: { enabled: boolean; pending: boolean } }>(STATUS, {}, user.accessToken)).twoFactorStatus).toEqual({ enabled: true, pending: false });
    clock.nextStep();
  });
});
