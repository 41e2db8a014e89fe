import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, expectCode, expectOk, login, signUp, type Signed } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';

/**
 * Attack (i11, held): every caller that should not manage second factors or the tenant's policy
 * tries: API keys of each role (even OWNER), anonymous callers, forged tokens, members below
 * OWNER, and a platform administrator outside any tenant. Nothing changes.
 */
const ENROLL = 'mutation { enrollTotp { secret } }';
const CONFIRM = 'mutation { confirmTotp(code: "123456", password: "x") { recoveryCodes } }';
const DISABLE = 'mutation { disableTotp(password: "x", code: "123456") }';
const STATUS = '{ twoFactorStatus { enabled } }';
const POLICY = 'mutation { updateTwoFactorPolicy(requireTwoFactorFor: [USER]) { id requireTwoFactorFor } }';

let server: TestServer;
let owner: Signed;
const keys: Record<string, string> = {};
beforeAll(async () => {
  server = await startServer();
  owner = await signUp(server, 'Two Factor Roles');
  for (const role of ['OWNER', 'ADMIN', 'MANAGER', 'USER']) {
    const created = await server.gql<{ createApiKey: { apiKey: string } }>(
      'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey } }',
      { input: { name: `k-${role}`, role, prefixes: ['*'] } },
      owner.accessToken,
    );
    keys[role] = expectOk(created).createApiKey.apiKey;
  }
});
afterAll(() => server?.close());

describe('who may touch second factors and the policy', () => {
  it('API keys of every role are FORBIDDEN for every second-factor operation and the policy', async () => {
    expect(Object.keys(keys)).toEqual(['OWNER', 'ADMIN', 'MANAGER', 'USER']);
    for (const key of Object.values(keys)) {
      for (const op of [ENROLL, CONFIRM, DISABLE, STATUS, POLICY]) expectCode(await server.gql(op, {}, key), 'FORBIDDEN');
    }
    expect(await server.db.collection('user_totp').countDocuments({})).toBe(0);
  });

  it('anonymous callers and forged tokens are UNAUTHENTICATED', async () => {
    const forged = `${owner.accessToken.split('.').slice(0, 2).join('.')}.${'A'.repeat(86)}`;
    for (const token of [undefined, 'not-a-token', forged]) {
      for (const op of [ENROLL, CONFIRM, DISABLE, STATUS, POLICY]) expectCode(await server.gql(op, {}, token), 'UNAUTHENTICATED');
    }
  });

  it('only an OWNER sets the policy: ADMIN, MANAGER, USER and a platform administrator without a tenant are FORBIDDEN', async () => {
    for (const role of ['ADMIN', 'MANAGER', 'USER']) expectCode(await server.gql(POLICY, {}, (await addMember(server, owner, role)).accessToken), 'FORBIDDEN');
    const platform = await addMember(server, owner, 'USER');
    await server.db.collection('users').updateOne({ _id: platform.userId as never }, { $set: { platformAdmin: true } });
    await server.db.collection('memberships').deleteMany({ userId: platform.userId });
    const token = expectOk(await login(server, platform.email, platform.password)).login.accessToken;
    expectCode(await server.gql(POLICY, {}, token), 'FORBIDDEN');
    const tenant = await server.db.collection('tenants').findOne({ _id: owner.tenantId as never });
    expect(tenant?.requireTwoFactorFor ?? []).toEqual([]);
  });
});
