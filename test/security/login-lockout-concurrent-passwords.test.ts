import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, signUp } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { loginAs } from '../auth/totp-support.js';

/**
 * Attack (i12, outsider review): the address lockout (LOGIN_MAX_FAILURES, default 5) read the
 * counters before the slow password check and recorded the failure after it, so guesses fired at
 * once all passed the lock check: 20 concurrent wrong passwords from one address were all judged.
 * changePassword and deleteMyAccount count toward the same lockout.
 */
let server: TestServer;
beforeAll(async () => {
  server = await startServer({ TRUST_PROXY: 'loopback', LOGIN_BACKOFF_MAX_SECONDS: '0' });
});
afterAll(() => server?.close());

describe('address lockout under concurrent password guesses', () => {
  it('20 concurrent wrong passwords from one address: 5 are judged, the rest ACCOUNT_LOCKED; the owner elsewhere logs in', async () => {
    const user = await signUp(server);
    const attacker = { 'x-forwarded-for': '198.51.100.66' };
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => loginAs(server, { email: user.email, password: `not-the-password-${i}-Qz` }, attacker)));
    for (const res of results) expect(['UNAUTHENTICATED', 'ACCOUNT_LOCKED']).toContain(res.errors?.[0]?.extensions.code);
    const judged = await server.db.collection('audit_events').find({ action: 'auth.login.failed', 'resource.id': user.userId, 'details.reason': 'wrong_password' }).toArray();
    expect(judged).toHaveLength(5);
    // The right password from that address is locked too; from elsewhere it works.
    expect((await loginAs(server, user, attacker)).errors?.[0]?.extensions.code).toBe('ACCOUNT_LOCKED');
    expect(expectOk(await loginAs(server, user, { 'x-forwarded-for': '203.0.113.201' })).login.accessToken).toBeTruthy();
  });
});
