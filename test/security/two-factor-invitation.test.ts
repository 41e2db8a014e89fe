import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_FIELDS, expectCode, expectOk, signUp } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { challengeFor, codeAt, complete, enrol, TestClock } from '../auth/totp-support.js';

/**
 * Attack (i11, held): acceptInvitation is public and, for an existing account, takes its
 * password as proof. Someone holding the password of an account with a second factor (but not
 * its codes) and an invitation for that email must not get a session from it.
 */
const clock = new TestClock();
let server: TestServer;
beforeAll(async () => {
  server = await startServer({ TRUST_PROXY: 'loopback', LOGIN_BACKOFF_MAX_SECONDS: '0' }, undefined, { twoFactor: { now: clock.now } });
});
afterAll(() => server?.close());

const ACCEPT = `mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { ${AUTH_FIELDS} } }`;
const INVITE = 'mutation($input: InviteMemberInput!) { inviteMember(input: $input) { token } }';

describe('acceptInvitation and the second factor', () => {
  it('the password alone of an account with TOTP is refused (UNAUTHENTICATED, no tokens, invitation unused); signed in with the code it works', async () => {
    const victim = await signUp(server, 'Victim Home');
    const { secret } = await enrol(server, clock, victim);
    const inviter = await signUp(server, 'Inviting Co');
    const token = expectOk(await server.gql<{ inviteMember: { token: string } }>(INVITE, { input: { email: victim.email, role: 'ADMIN' } }, inviter.accessToken)).inviteMember.token;

    const refused = await server.gql(ACCEPT, { input: { token, password: victim.password } });
    expectCode(refused, 'UNAUTHENTICATED');
    expect(refused.data?.acceptInvitation ?? null).toBeNull();
    expect(await server.db.collection('memberships').countDocuments({ userId: victim.userId, tenantId: inviter.tenantId })).toBe(0);

    // The real owner logs in with the code and accepts while signed in: the same invitation still works.
    const headers = { 'x-forwarded-for': '198.51.100.77' };
    const session = expectOk(await complete(server, await challengeFor(server, victim, headers), codeAt(secret, clock.ms), headers)).completeLogin.accessToken!;
    const accepted = expectOk(await server.gql<{ acceptInvitation: { role: string; tenant: { id: string } } }>(ACCEPT, { input: { token } }, session)).acceptInvitation;
    expect(accepted).toMatchObject({ role: 'ADMIN', tenant: { id: inviter.tenantId } });
    clock.nextStep();
  });
});
