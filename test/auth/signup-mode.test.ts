import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { AUTH_FIELDS, expectCode, expectOk, signUp, STRONG_PASSWORD, uniqueEmail } from '../support/auth.js';
import { startServer, testEnv, type TestServer } from '../support/server.js';

const SIGN_UP = 'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }';

// Two instances on one database: an open one (to make a tenant that invites) and a closed one.
let open: TestServer;
let closed: TestServer;
beforeAll(async () => {
  // Same keys on both, as instances of one deployment have.
  const shared = testEnv();
  const keys = { VAULT_MASTER_KEYS: shared.VAULT_MASTER_KEYS!, VAULT_ACTIVE_MASTER_KEY: shared.VAULT_ACTIVE_MASTER_KEY!, JWT_PRIVATE_KEY: shared.JWT_PRIVATE_KEY! };
  open = await startServer({ ...keys, SIGNUP_MODE: 'open' });
  closed = await startServer({ ...keys, SIGNUP_MODE: 'invite-only' }, open.db.databaseName);
});
afterAll(async () => {
  await closed?.close();
  await open?.close();
});

describe('SIGNUP_MODE=invite-only', () => {
  it('refuses signUp with FORBIDDEN and the same answer for a taken and a free email, writing nothing', async () => {
    const taken = await signUp(open);
    const counts = () => Promise.all(['users', 'tenants', 'memberships'].map((c) => open.db.collection(c).countDocuments()));
    const before = await counts();
    const answers = [];
    for (const email of [taken.email, uniqueEmail('free')]) {
      const res = await closed.gql(SIGN_UP, { input: { email, password: STRONG_PASSWORD, tenantName: 'Closed' } });
      expectCode(res, 'FORBIDDEN');
      expect(res.errors![0]!.message).toMatch(/sign-up is closed/i);
      answers.push({ message: res.errors![0]!.message, data: res.data ?? null });
    }
    expect(answers[1]).toEqual(answers[0]);
    expect(await counts()).toEqual(before);
  });

  it('still creates accounts by accepting an invitation', async () => {
    const owner = await signUp(open, 'Inviting');
    const email = uniqueEmail('invited');
    const token = expectOk(
      await closed.gql<{ inviteMember: { token: string } }>(
        'mutation($input: InviteMemberInput!) { inviteMember(input: $input) { token } }',
        { input: { email, role: 'USER' } },
        owner.accessToken,
      ),
    ).inviteMember.token;
    const accepted = expectOk(
      await closed.gql<{ acceptInvitation: { user: { email: string }; role: string } }>(
        `mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { ${AUTH_FIELDS} } }`,
        { input: { token, password: STRONG_PASSWORD } },
      ),
    ).acceptInvitation;
    expect(accepted).toMatchObject({ user: { email }, role: 'USER' });
  });

  it('open sign-up still tells a taken email apart (documented): CONFLICT', async () => {
    const taken = await signUp(open);
    expectCode(await open.gql(SIGN_UP, { input: { email: taken.email, password: STRONG_PASSWORD, tenantName: 'Again' } }), 'CONFLICT');
  });
});

describe('SIGNUP_MODE configuration', () => {
  it('defaults to invite-only in production and open elsewhere, and rejects other values', () => {
    const production = testEnv({ NODE_ENV: 'production', MONGODB_URI: 'mongodb://db.example:27017/coffer' });
    expect(loadConfig(production, { warn: () => {} }).signUpMode).toBe('invite-only');
    expect(loadConfig({ ...production, SIGNUP_MODE: 'open' }, { warn: () => {} }).signUpMode).toBe('open');
    expect(loadConfig(testEnv(), { warn: () => {} }).signUpMode).toBe('open');
    expect(() => loadConfig(testEnv({ SIGNUP_MODE: 'closed' }), { warn: () => {} })).toThrow(/SIGNUP_MODE/);
  });
});
