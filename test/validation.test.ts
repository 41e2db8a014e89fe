import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCode, expectOk, signUp, STRONG_PASSWORD, uniqueEmail } from './support/auth.js';
import { startServer, type TestServer } from './support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => server?.close());

const SIGN_UP = 'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }';

async function counts() {
  const [users, tenants, memberships, sessions, invitations] = await Promise.all(
    ['users', 'tenants', 'memberships', 'sessions', 'invitations'].map((c) => server.db.collection(c).countDocuments()),
  );
  return { users, tenants, memberships, sessions, invitations };
}

describe('bad input gets BAD_USER_INPUT naming the field, and writes nothing', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['missing email', { password: STRONG_PASSWORD, tenantName: 'X' }, 'email'],
    ['email of the wrong type', { email: 42, password: STRONG_PASSWORD, tenantName: 'X' }, 'email'],
    ['malformed email', { email: 'not-an-email', password: STRONG_PASSWORD, tenantName: 'X' }, 'email'],
    ['oversized email', { email: `${'a'.repeat(300)}@example.com`, password: STRONG_PASSWORD, tenantName: 'X' }, 'email'],
    ['oversized password', { email: 'big@example.com', password: 'x'.repeat(5000), tenantName: 'X' }, 'password'],
    ['empty tenant name', { email: 'e@example.com', password: STRONG_PASSWORD, tenantName: '' }, 'tenantName'],
    ['oversized tenant name', { email: 'e@example.com', password: STRONG_PASSWORD, tenantName: 'n'.repeat(101) }, 'tenantName'],
    ['blank tenant name', { email: 'e2@example.com', password: STRONG_PASSWORD, tenantName: '    ' }, 'tenantName'],
    ['unknown field', { email: 'e@example.com', password: STRONG_PASSWORD, tenantName: 'X', admin: true }, 'admin'],
  ];
  for (const [label, input, field] of cases) {
    it(`signUp with ${label}`, async () => {
      const before = await counts();
      const res = await server.gql(SIGN_UP, { input });
      expectCode(res, 'BAD_USER_INPUT');
      expect(res.errors![0]!.message).toContain(field);
      expect(res.errors![0]!.extensions.requestId).toBeTruthy();
      expect(await counts()).toEqual(before);
    });
  }

  it('login with a malformed tenantId', async () => {
    const res = await server.gql('mutation($input: LoginInput!) { login(input: $input) { accessToken } }', {
      input: { email: 'x@example.com', password: 'whatever-123', tenantId: 'not a uuid' },
    });
    expectCode(res, 'BAD_USER_INPUT');
    expect(res.errors![0]!.message).toContain('tenantId');
  });

  it('inviteMember with an unknown role and a bad email', async () => {
    const owner = await signUp(server);
    const before = await counts();
    const badRole = await server.gql('mutation { inviteMember(input: { email: "a@example.com", role: SUPERUSER }) { id } }', {}, owner.accessToken);
    expectCode(badRole, 'BAD_USER_INPUT');
    expect(badRole.errors![0]!.message).toContain('SUPERUSER');
    const badEmail = await server.gql('mutation($input: InviteMemberInput!) { inviteMember(input: $input) { id } }', { input: { email: 'nope', role: 'USER' } }, owner.accessToken);
    expectCode(badEmail, 'BAD_USER_INPUT');
    expect(badEmail.errors![0]!.message).toContain('email');
    expect(await counts()).toEqual(before);
  });

  it('acceptInvitation with an oversized token', async () => {
    const res = await server.gql('mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { accessToken } }', {
      input: { token: 'x'.repeat(10_000), password: STRONG_PASSWORD },
    });
    expectCode(res, 'BAD_USER_INPUT');
    expect(res.errors![0]!.message).toContain('token');
  });

  it('a field that does not exist is named in the error', async () => {
    const res = await server.gql('{ me { user { passwordHash } } }');
    expectCode(res, 'BAD_USER_INPUT');
    expect(res.errors![0]!.message).toContain('passwordHash');
  });

  it('a valid sign-up still works after all that', async () => {
    const res = await server.gql(SIGN_UP, { input: { email: uniqueEmail(), password: STRONG_PASSWORD, tenantName: 'Fine' } });
    expectOk(res);
  });
});
