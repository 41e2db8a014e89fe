import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCode, expectOk, signUp } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { challengeFor, codeAt, complete, enrol, TestClock } from '../auth/totp-support.js';

/**
 * Attack (i11): someone who has the password of an account with a second factor, but not its
 * codes, guesses codes. Refused codes count toward the (email, address) lockout, but a correct
 * password cleared that counter: logging in again after every few wrong codes reset it, so the
 * lockout never came and only the attempt budget limited the guessing. For an account with a
 * second factor, only a completed login (the right code) clears it now.
 */
const clock = new TestClock();
let server: TestServer;
beforeAll(async () => {
  server = await startServer({ TRUST_PROXY: 'loopback', LOGIN_BACKOFF_MAX_SECONDS: '0', LOGIN_MAX_FAILURES: '5' }, undefined, { twoFactor: { now: clock.now } });
});
afterAll(() => server?.close());

/** A six-digit code that is none of the codes valid around now. */
function wrongCode(secret: string, ms: number, n: number): string {
  const valid = new Set([-1, 0, 1].map((d) => codeAt(secret, ms + d * 30_000)));
  for (let i = n; ; i++) {
    const candidate = String((123_457 * (i + 1)) % 1_000_000).padStart(6, '0');
    if (!valid.has(candidate)) return candidate;
  }
}

describe('second-factor lockout', () => {
  it('a correct password between wrong codes does not reset the count: the fifth wrong code locks the address, even for the right code then', async () => {
    const user = await signUp(server, 'Code Guessing');
    const { secret } = await enrol(server, clock, user);
    const attacker = { 'x-forwarded-for': '203.0.113.150' };
    const first = await challengeFor(server, user, attacker);
    for (let i = 0; i < 4; i++) expectCode(await complete(server, first, wrongCode(secret, clock.ms, i), attacker), 'UNAUTHENTICATED');
    // The attacker knows the password: a fresh challenge.
    const second = await challengeFor(server, user, attacker);
    expectCode(await complete(server, second, wrongCode(secret, clock.ms, 10), attacker), 'UNAUTHENTICATED');
    // Five refused codes from this address: locked, whatever comes next.
    expectCode(await complete(server, second, codeAt(secret, clock.ms), attacker), 'ACCOUNT_LOCKED');
    const relogin = await server.gql('mutation($input: LoginInput!) { login(input: $input) { accessToken } }', { input: { email: user.email, password: user.password } }, undefined, attacker);
    expectCode(relogin, 'ACCOUNT_LOCKED');

    // The owner, from their own address, is not locked out.
    const owner = { 'x-forwarded-for': '198.51.100.150' };
    const done = expectOk(await complete(server, await challengeFor(server, user, owner), codeAt(secret, clock.ms), owner)).completeLogin;
    expect(done.accessToken).toBeTruthy();
  });

  it('a completed login (the right code) clears the count for that address', async () => {
    clock.nextStep();
    const user = await signUp(server, 'Code Typos');
    const { secret } = await enrol(server, clock, user);
    const client = { 'x-forwarded-for': '198.51.100.151' };
    const challenge = await challengeFor(server, user, client);
    for (let i = 0; i < 4; i++) expectCode(await complete(server, challenge, wrongCode(secret, clock.ms, i), client), 'UNAUTHENTICATED');
    expectOk(await complete(server, challenge, codeAt(secret, clock.ms), client));
    clock.nextStep();
    const again = await challengeFor(server, user, client);
    for (let i = 0; i < 4; i++) expectCode(await complete(server, again, wrongCode(secret, clock.ms, i), client), 'UNAUTHENTICATED');
    expectOk(await complete(server, again, codeAt(secret, clock.ms), client));
  });
});
