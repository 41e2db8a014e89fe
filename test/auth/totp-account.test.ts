import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rewrapKeys } from '../../src/cli/rewrap-keys.js';
import { loadConfig } from '../../src/config.js';
import { addMember, AUTH_FIELDS, expectCode, expectOk, signUp } from '../support/auth.js';
import { startServer, testEnv, type TestServer } from '../support/server.js';
import { challengeFor, codeAt, complete, enrol, TestClock } from './totp-support.js';

// The second factor and the rest of the account: export, closure, invitations, master-key re-wrap.
const clock = new TestClock();
const masterKey = randomBytes(32).toString('base64');
const env = { VAULT_MASTER_KEYS: `t1:${masterKey}`, VAULT_ACTIVE_MASTER_KEY: 't1' };
let server: TestServer;
beforeAll(async () => {
  server = await startServer(env, undefined, { twoFactor: { now: clock.now } });
});
afterAll(async () => server?.close());

describe('account data', () => {
  it('exportMyData says whether TOTP is enabled, never the secret or recovery codes', async () => {
    const user = await signUp(server);
    const EXPORT = '{ exportMyData { document } }';
    const before = expectOk(await server.gql<{ exportMyData: { document: { account: { twoFactorEnabled: boolean } } } }>(EXPORT, {}, user.accessToken));
    expect(before.exportMyData.document.account.twoFactorEnabled).toBe(false);
    const { secret, recoveryCodes } = await enrol(server, clock, user);
    const after = expectOk(await server.gql<{ exportMyData: { document: { account: { twoFactorEnabled: boolean } } } }>(EXPORT, {}, user.accessToken));
    expect(after.exportMyData.document.account.twoFactorEnabled).toBe(true);
    const text = JSON.stringify(after);
    for (const needle of [secret, ...recoveryCodes]) expect(text.includes(needle)).toBe(false);
  });

  it('deleting the account removes its TOTP enrolment and login challenges', async () => {
    const owner = await signUp(server);
    const member = await addMember(server, owner, 'USER');
    const { secret } = await enrol(server, clock, member);
    await challengeFor(server, member);
    expect(await server.db.collection('user_totp').countDocuments({ _id: member.userId as never })).toBe(1);
    expect(await server.db.collection('login_challenges').countDocuments({ userId: member.userId })).toBe(1);
    // With a second factor, deleting the account needs a code too (test/security/totp-step-up.test.ts).
    expectOk(
      await server.gql('mutation($password: String!, $code: String) { deleteMyAccount(password: $password, totpCode: $code) }', { password: member.password, code: codeAt(secret, clock.ms) }, member.accessToken),
    );
    clock.nextStep();
    expect(await server.db.collection('user_totp').countDocuments({ _id: member.userId as never })).toBe(0);
    expect(await server.db.collection('login_challenges').countDocuments({ userId: member.userId })).toBe(0);
  });
});

describe('invitations', () => {
  it('an existing account with a second factor cannot accept an invitation with its password alone; signed in (with the code) it can', async () => {
    const owner = await signUp(server);
    const other = await signUp(server);
    const { secret } = await enrol(server, clock, other);
    const INVITE = 'mutation($input: InviteMemberInput!) { inviteMember(input: $input) { token } }';
    const ACCEPT = `mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { ${AUTH_FIELDS} } }`;
    const { inviteMember } = expectOk(await server.gql<{ inviteMember: { token: string } }>(INVITE, { input: { email: other.email, role: 'USER' } }, owner.accessToken));
    const refused = await server.gql(ACCEPT, { input: { token: inviteMember.token, password: other.password } });
    expectCode(refused, 'UNAUTHENTICATED');
    expect(refused.data?.acceptInvitation ?? null).toBeNull();
    expect(await server.db.collection('memberships').countDocuments({ tenantId: owner.tenantId, userId: other.userId })).toBe(0);
    const signedIn = expectOk(await complete(server, await challengeFor(server, other), codeAt(secret, clock.ms))).completeLogin.accessToken!;
    clock.nextStep();
    expectOk(await server.gql(ACCEPT, { input: { token: inviteMember.token } }, signedIn));
  });
});

describe('master key re-wrap', () => {
  it('rewrap-keys moves the TOTP key to the new master key; a server holding only the new key still checks codes', async () => {
    const user = await signUp(server);
    const { secret } = await enrol(server, clock, user);
    const newKey = randomBytes(32).toString('base64');
    const rotated = { VAULT_MASTER_KEYS: `new:${newKey},t1:${masterKey}`, VAULT_ACTIVE_MASTER_KEY: 'new' };
    const result = await rewrapKeys(server.db, loadConfig(testEnv(rotated), { warn: () => {} }));
    expect(result.platformKeys.rewrapped).toBeGreaterThanOrEqual(1);
    expect(result.platformKeys.unreadable).toEqual([]);
    expect((await server.db.collection('platform_keys').findOne({ _id: 'totp-secrets' as never }))?.masterKeyId).toBe('new');
    // Again: nothing left to move.
    expect((await rewrapKeys(server.db, loadConfig(testEnv(rotated), { warn: () => {} }))).platformKeys.rewrapped).toBe(0);

    const onlyNew = await startServer({ VAULT_MASTER_KEYS: `new:${newKey}`, VAULT_ACTIVE_MASTER_KEY: 'new' }, server.db.databaseName, { twoFactor: { now: clock.now } });
    try {
      const done = expectOk(await complete(onlyNew, await challengeFor(onlyNew, user), codeAt(secret, clock.ms))).completeLogin;
      expect(done.accessToken).toBeTruthy();
    } finally {
      await onlyNew.close();
      clock.nextStep();
    }
  });
});
