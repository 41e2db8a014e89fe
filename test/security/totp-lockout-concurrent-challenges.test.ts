import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { challengeFor, codeAt, complete, enrol, TestClock, wrongCodes } from '../auth/totp-support.js';

/**
 * Attack (i12, outsider review): the per-challenge cap is atomic, but the address lockout
 * (LOGIN_MAX_FAILURES, default 5) is the bound across challenges. With the password, an attacker
 * opens several challenges from one address and fires all their guesses at once: each guess reads
 * the lockout before any records its failure.
 */
const clock = new TestClock();
let server: TestServer;
beforeAll(async () => {
  server = await startServer({ TRUST_PROXY: 'loopback', LOGIN_BACKOFF_MAX_SECONDS: '0' }, undefined, { twoFactor: { now: clock.now } });
});
afterAll(() => server?.close());


describe('address lockout under concurrent guesses on several challenges', () => {
  it('20 concurrent wrong codes over 4 challenges from one address: at most LOGIN_MAX_FAILURES (5) are judged', async () => {
    const user = await signUp(server);
    const { secret } = await enrol(server, clock, user);
    const attacker = { 'x-forwarded-for': '198.51.100.77' };
    const challenges: string[] = [];
    for (let i = 0; i < 4; i++) challenges.push(await challengeFor(server, user, attacker));
    const codes = wrongCodes(clock, secret, 20);
    const results = await Promise.all(codes.map((code, i) => complete(server, challenges[i % 4]!, code, attacker)));
    // Every guess is refused: wrong (UNAUTHENTICATED) or, once the address is locked, ACCOUNT_LOCKED.
    for (const res of results) expect(['UNAUTHENTICATED', 'ACCOUNT_LOCKED']).toContain(res.errors?.[0]?.extensions.code);
    const judged = await server.db.collection('audit_events').find({ action: 'auth.second_factor.failed', 'resource.id': user.userId, 'details.reason': { $ne: 'locked' } }).toArray();
    expect(judged.length).toBe(5);
    // The owner, elsewhere, still logs in with the right code.
    const owner = { 'x-forwarded-for': '203.0.113.200' };
    expect((await complete(server, await challengeFor(server, user, owner), codeAt(secret, clock.ms), owner)).data?.completeLogin?.accessToken).toBeTruthy();
  });
});
