import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { GraphQLResponse, TestServer } from './server.js';

export const STRONG_PASSWORD = 'violet-Harbor-lantern-93';

export interface Signed {
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
  userId: string;
  tenantId: string;
}

export const AUTH_FIELDS = 'accessToken refreshToken accessTokenExpiresAt role user { id email } tenant { id name slug }';

export function uniqueEmail(prefix = 'user'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}@example.com`;
}

interface AuthPayloadShape {
  accessToken: string;
  refreshToken: string;
  role: string | null;
  user: { id: string; email: string };
  tenant: { id: string; name: string; slug: string } | null;
}

export function expectOk<T>(res: GraphQLResponse<T>): T {
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data as T;
}

export function expectCode(res: GraphQLResponse, code: string): void {
  expect(res.errors?.[0]?.extensions.code, JSON.stringify(res.errors ?? res.data)).toBe(code);
}

export async function signUp(server: TestServer, tenantName = 'Acme', email = uniqueEmail()): Promise<Signed> {
  const res = await server.gql<{ signUp: AuthPayloadShape }>(
    `mutation($input: SignUpInput!) { signUp(input: $input) { ${AUTH_FIELDS} } }`,
    { input: { email, password: STRONG_PASSWORD, tenantName } },
  );
  const p = expectOk(res).signUp;
  return { email, password: STRONG_PASSWORD, accessToken: p.accessToken, refreshToken: p.refreshToken, userId: p.user.id, tenantId: p.tenant!.id };
}

export async function login(server: TestServer, email: string, password: string, tenantId?: string) {
  return server.gql<{ login: AuthPayloadShape }>(`mutation($input: LoginInput!) { login(input: $input) { ${AUTH_FIELDS} } }`, {
    input: { email, password, ...(tenantId ? { tenantId } : {}) },
  });
}

/** Invites `email` into the owner's tenant with `role` and accepts as a new user; returns the member's tokens. */
export async function addMember(server: TestServer, owner: Signed, role: string, email = uniqueEmail(role.toLowerCase())): Promise<Signed> {
  const invite = await server.gql<{ inviteMember: { token: string } }>(
    'mutation($input: InviteMemberInput!) { inviteMember(input: $input) { token } }',
    { input: { email, role } },
    owner.accessToken,
  );
  const token = expectOk(invite).inviteMember.token;
  const accepted = await server.gql<{ acceptInvitation: AuthPayloadShape }>(
    `mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { ${AUTH_FIELDS} } }`,
    { input: { token, password: STRONG_PASSWORD } },
  );
  const p = expectOk(accepted).acceptInvitation;
  return { email, password: STRONG_PASSWORD, accessToken: p.accessToken, refreshToken: p.refreshToken, userId: p.user.id, tenantId: p.tenant!.id };
}

/** Makes an existing, signed-in `user` also a member of `other`'s tenant (invited by `other`, accepted as `user`). */
export async function joinTenantOf(server: TestServer, user: Signed, other: Signed, role = 'USER'): Promise<void> {
  const invite = await server.gql<{ inviteMember: { token: string } }>(
    'mutation($input: InviteMemberInput!) { inviteMember(input: $input) { token } }',
    { input: { email: user.email, role } },
    other.accessToken,
  );
  const token = expectOk(invite).inviteMember.token;
  expectOk(await server.gql('mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { role } }', { input: { token } }, user.accessToken));
}
