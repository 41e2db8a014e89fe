import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HousekeepingJob } from '../../src/jobs/housekeeping.job.js';
import { createLogger } from '../../src/logger.js';
import { sha256Hex } from '../../src/crypto/random.js';
import { expectCode, expectOk, signUp } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { challengeFor, codeAt, complete, enrol, TestClock, wrongCodes } from '../auth/totp-support.js';

/**
 * Attack (i12): one login challenge is guessed at until the lockout stops it, or with many
 * concurrent guesses at once. Each challenge takes at most 5 codes (reserved one by one with a
 * conditional $inc before the code is judged); the 5th wrong one uses it up. The lockout is set
 * high here (20) so the cap is seen on its own; with the default (5) both apply.
 * Also: expired challenges of users who never log in again are removed by the hourly sweep.
 */
const clock = new TestClock();
let server: TestServer;
beforeAll(async () => {
  server = await startServer({ TRUST_PROXY: 'loopback', LOGIN_BACKOFF_MAX_SECONDS: '0', LOGIN_MAX_FAILURES: '20' }, undefined, { twoFactor: { now: clock.now } });
});
afterAll(() => server?.close());

let addressCount = 0;
const fromNewAddress = () => ({ 'x-forwarded-for': `203.0.113.${++addressCount}` });


const audits = (action: string, userId: string) => server.db.collection('audit_events').find({ action, 'resource.id': userId }).toArray();

describe('attempt cap per login challenge', () => {
  it('after 5 wrong codes the right code on the same challenge is refused (log in again); a fresh login with the right code works', async () => {
    const user = await signUp(server);
    const { secret } = await enrol(server, clock, user);
    const headers = fromNewAddress();
    const challenge = await challengeFor(server, user, headers);
    const wrong = wrongCodes(clock, secret, 5);
    for (const code of wrong.slice(0, 4)) {
      const res = await complete(server, challenge, code, headers);
      expectCode(res, 'UNAUTHENTICATED');
      expect(res.errors![0]!.message).toBe('Invalid second-factor code');
    }
    const fifth = await complete(server, challenge, wrong[4]!, headers);
    expectCode(fifth, 'UNAUTHENTICATED');
    expect(fifth.errors![0]!.message).toMatch(/log in again/);
    // Used up: deleted, so even the right code is refused.
    expect(await server.db.collection('login_challenges').countDocuments({ _id: sha256Hex(challenge) as never })).toBe(0);
    const after = await complete(server, challenge, codeAt(secret, clock.ms), headers);
    expectCode(after, 'UNAUTHENTICATED');
    expect(after.errors![0]!.message).toMatch(/log in again/);
    const exhausted = await audits('auth.login.challenge_exhausted', user.userId);
    expect(exhausted).toHaveLength(1);
    expect(exhausted[0]!.details).toEqual({ attempts: 5 });
    expect(exhausted[0]!.outcome).toBe('DENIED');
    // Lockout counting is unchanged: the five wrong codes were counted (20 allowed here), and
    // logging in again from the same client with the right code works.
    expect(await audits('auth.second_factor.failed', user.userId)).toHaveLength(5);
    const done = expectOk(await complete(server, await challengeFor(server, user, headers), codeAt(secret, clock.ms), headers)).completeLogin;
    expect(done.accessToken).toBeTruthy();
    clock.nextStep();
  });

  it('a wrong recovery code counts as a wrong code; four wrong tries still leave the right code working', async () => {
    const user = await signUp(server);
    const { secret, recoveryCodes } = await enrol(server, clock, user);
    const headers = fromNewAddress();
    const challenge = await challengeFor(server, user, headers);
    const bogusRecovery = 'aaaa-bbbb-cccc-dddd';
    expect(recoveryCodes).not.toContain(bogusRecovery);
    for (const code of [bogusRecovery, ...wrongCodes(clock, secret, 3)]) expectCode(await complete(server, challenge, code, headers), 'UNAUTHENTICATED');
    expect(expectOk(await complete(server, challenge, recoveryCodes[0]!, headers)).completeLogin.accessToken).toBeTruthy();
    expect(await audits('auth.login.challenge_exhausted', user.userId)).toHaveLength(0);

    const second = await challengeFor(server, user, headers);
    for (const code of [...wrongCodes(clock, secret, 4), bogusRecovery]) expectCode(await complete(server, second, code, headers), 'UNAUTHENTICATED');
    expectCode(await complete(server, second, recoveryCodes[1]!, headers), 'UNAUTHENTICATED');
    // The refused try did not spend the recovery code: it still works on a fresh challenge.
    expect(expectOk(await complete(server, await challengeFor(server, user, headers), recoveryCodes[1]!, headers)).completeLogin.accessToken).toBeTruthy();
    clock.nextStep();
  });

  it('10 concurrent wrong guesses on one challenge: exactly 5 are judged, all are refused, the challenge is gone', async () => {
    const user = await signUp(server);
    const { secret } = await enrol(server, clock, user);
    const headers = fromNewAddress();
    const challenge = await challengeFor(server, user, headers);
    const results = await Promise.all(wrongCodes(clock, secret, 10).map((code) => complete(server, challenge, code, headers)));
    for (const res of results) expectCode(res, 'UNAUTHENTICATED');
    const judged = await audits('auth.second_factor.failed', user.userId);
    expect(judged).toHaveLength(5);
    expect(judged.every((e) => (e.details as { purpose: string }).purpose === 'login')).toBe(true);
    expect(await audits('auth.login.challenge_exhausted', user.userId)).toHaveLength(1);
    const refused = (await audits('auth.login.challenge_refused', user.userId)).map((e) => (e.details as { reason: string }).reason);
    expect(refused).toHaveLength(5);
    for (const reason of refused) expect(['used_up', 'unknown']).toContain(reason);
    expect(await server.db.collection('login_challenges').countDocuments({ _id: sha256Hex(challenge) as never })).toBe(0);
    expectCode(await complete(server, challenge, codeAt(secret, clock.ms), headers), 'UNAUTHENTICATED');
    clock.nextStep();
  });

  it('concurrent right and wrong codes on one challenge: at most one session, never more than 5 codes judged', async () => {
    const user = await signUp(server);
    const { secret } = await enrol(server, clock, user);
    const headers = fromNewAddress();
    const challenge = await challengeFor(server, user, headers);
    const codes = [...wrongCodes(clock, secret, 7), codeAt(secret, clock.ms)];
    const results = await Promise.all(codes.map((code) => complete(server, challenge, code, headers)));
    expect(results.filter((r) => r.data?.completeLogin?.accessToken).length).toBeLessThanOrEqual(1);
    expect((await audits('auth.second_factor.failed', user.userId)).length).toBeLessThanOrEqual(5);
    expect(await server.db.collection('login_challenges').countDocuments({ _id: sha256Hex(challenge) as never })).toBe(0);
    clock.nextStep();
  });

  it('a challenge cannot be spent by another user\'s guesses: another client\'s tries reserve no attempt', async () => {
    const user = await signUp(server);
    const { secret } = await enrol(server, clock, user);
    const owner = fromNewAddress();
    const challenge = await challengeFor(server, user, owner);
    const attacker = fromNewAddress();
    for (const code of wrongCodes(clock, secret, 6)) expectCode(await complete(server, challenge, code, attacker), 'UNAUTHENTICATED');
    expect(await audits('auth.second_factor.failed', user.userId)).toHaveLength(0);
    expect(expectOk(await complete(server, challenge, codeAt(secret, clock.ms), owner)).completeLogin.accessToken).toBeTruthy();
    clock.nextStep();
  });
});

describe('sweep of expired challenges', () => {
  it('one housekeeping pass removes the expired challenge of a user who never logs in again, and keeps an unexpired one', async () => {
    const idle = await signUp(server);
    const active = await signUp(server);
    await enrol(server, clock, idle);
    await enrol(server, clock, active);
    const headers = fromNewAddress();
    const realNow = clock.ms;
    clock.ms = Date.now() - 10 * 60_000; // issued 10 minutes ago: expired 5 minutes ago
    const expired = await challengeFor(server, idle, headers);
    clock.ms = realNow;
    const live = await challengeFor(server, active, headers);
    const challenges = server.db.collection('login_challenges');
    expect(await challenges.countDocuments({ _id: sha256Hex(expired) as never })).toBe(1);
    const removed = await new HousekeepingJob({ db: server.db, logger: createLogger('silent') }).sweep();
    expect(removed.loginChallenges).toBeGreaterThanOrEqual(1);
    expect(await challenges.countDocuments({ _id: sha256Hex(expired) as never })).toBe(0);
    expect(await challenges.countDocuments({ userId: idle.userId })).toBe(0);
    expect(await challenges.countDocuments({ _id: sha256Hex(live) as never })).toBe(1);
    clock.nextStep();
  });

  it('the sweep\'s filter is served by an index on expiresAt', async () => {
    const indexes = await server.db.collection('login_challenges').indexes();
    expect(indexes.some((i) => JSON.stringify(i.key) === JSON.stringify({ expiresAt: 1 }))).toBe(true);
  });
});
