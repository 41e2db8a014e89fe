import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCode, expectOk, signUp } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { challengeFor, codeAt, complete, CONFIRM, ENROLL, TestClock } from '../auth/totp-support.js';

/**
 * Attack (i11, held): a TOTP code seen once (shoulder-surfed while the victim confirmed the
 * enrolment, or logged by a proxy) is replayed at login, and so is the code of the step before
 * (still inside the ±1 step window). Each step is accepted once and never one older than the
 * newest used.
 */
const clock = new TestClock();
let server: TestServer;
beforeAll(async () => {
  server = await startServer({ TRUST_PROXY: 'loopback', LOGIN_BACKOFF_MAX_SECONDS: '0' }, undefined, { twoFactor: { now: clock.now } });
});
afterAll(() => server?.close());

describe('TOTP replay', () => {
  it('the code that confirmed the enrolment, and the previous step\'s code, are refused at login; the next step\'s code works', async () => {
    const user = await signUp(server, 'Replay');
    const headers = { 'x-forwarded-for': '198.51.100.91' };
    const { enrollTotp } = expectOk(await server.gql<{ enrollTotp: { secret: string } }>(ENROLL, {}, user.accessToken));
    const used = codeAt(enrollTotp.secret, clock.ms);
    expectOk(await server.gql(CONFIRM, { code: used, password: user.password }, user.accessToken));
    const challenge = await challengeFor(server, user, headers);
    expectCode(await complete(server, challenge, used, headers), 'UNAUTHENTICATED');
    const previous = codeAt(enrollTotp.secret, clock.ms - 30_000);
    if (previous !== used) expectCode(await complete(server, challenge, previous, headers), 'UNAUTHENTICATED');
    const next = codeAt(enrollTotp.secret, clock.ms + 30_000);
    const done = expectOk(await complete(server, challenge, next, headers)).completeLogin;
    expect(done.accessToken).toBeTruthy();
    // The challenge is used up, whatever code comes with it.
    expectCode(await complete(server, challenge, codeAt(enrollTotp.secret, clock.ms + 60_000), headers), 'UNAUTHENTICATED');
  });
});
