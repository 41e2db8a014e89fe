import { randomUUID } from 'node:crypto';
import { isObjectType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { permissionRules } from '../../src/graphql/permissions.js';
import { buildBaseSchema } from '../../src/graphql/schema.js';
import { addMember, signUp, uniqueEmail, type Signed } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;
const as: Record<string, Signed> = {};

beforeAll(async () => {
  server = await startServer();
  as.OWNER = await signUp(server, 'Matrix');
  for (const role of ['ADMIN', 'MANAGER', 'USER']) as[role] = await addMember(server, as.OWNER, role);
});
afterAll(async () => server?.close());

type Caller = 'OWNER' | 'ADMIN' | 'MANAGER' | 'USER';
const ROLES: Caller[] = ['OWNER', 'ADMIN', 'MANAGER', 'USER'];
const RANK: Record<Caller, number> = { USER: 1, MANAGER: 2, ADMIN: 3, OWNER: 4 };

/**
 * Tenant-role operations with the lowest role that may call them. Arguments
 * point at nothing, so an allowed call fails (if at all) with NOT_FOUND or
 * similar — never FORBIDDEN or UNAUTHENTICATED.
 */
const tenantOperations: { name: string; minimum: Caller; query: string; variables?: () => Record<string, unknown> }[] = [
  { name: 'members', minimum: 'USER', query: '{ members { role } }' },
  { name: 'invitations', minimum: 'ADMIN', query: '{ invitations { id } }' },
  {
    name: 'inviteMember',
    minimum: 'ADMIN',
    query: 'mutation($input: InviteMemberInput!) { inviteMember(input: $input) { id } }',
    variables: () => ({ input: { email: uniqueEmail('matrix'), role: 'USER' } }),
  },
  { name: 'revokeInvitation', minimum: 'ADMIN', query: 'mutation($id: ID!) { revokeInvitation(id: $id) }', variables: () => ({ id: randomUUID() }) },
  {
    name: 'updateMemberRole',
    minimum: 'ADMIN',
    query: 'mutation($u: ID!) { updateMemberRole(userId: $u, role: USER) { role } }',
    variables: () => ({ u: randomUUID() }),
  },
  { name: 'removeMember', minimum: 'ADMIN', query: 'mutation($u: ID!) { removeMember(userId: $u) }', variables: () => ({ u: randomUUID() }) },
];

/** Any signed-in user, whatever the role. */
const selfOperations: { name: string; query: string; variables?: () => Record<string, unknown> }[] = [
  { name: 'me', query: '{ me { role } }' },
  { name: 'sessions', query: '{ sessions { id } }' },
  { name: 'revokeSession', query: 'mutation($id: ID!) { revokeSession(id: $id) }', variables: () => ({ id: randomUUID() }) },
  { name: 'switchTenant', query: 'mutation($id: ID!) { switchTenant(tenantId: $id) { role } }', variables: () => ({ id: randomUUID() }) },
  {
    name: 'changePassword',
    query: 'mutation($input: ChangePasswordInput!) { changePassword(input: $input) }',
    variables: () => ({ input: { currentPassword: 'definitely-wrong-123', newPassword: 'amber-Quartz-meadow-71' } }),
  },
  { name: 'logout', query: 'mutation { logout }' },
];

const platformOperations: { name: string; query: string; variables?: () => Record<string, unknown> }[] = [
  { name: 'tenants', query: '{ tenants { id } }' },
  { name: 'suspendTenant', query: 'mutation($id: ID!) { suspendTenant(id: $id) { id } }', variables: () => ({ id: randomUUID() }) },
  { name: 'reactivateTenant', query: 'mutation($id: ID!) { reactivateTenant(id: $id) { id } }', variables: () => ({ id: randomUUID() }) },
];

const codeOf = (res: { errors?: { extensions: { code: string } }[] }) => res.errors?.[0]?.extensions.code;

describe('role matrix', () => {
  for (const op of tenantOperations) {
    for (const role of ROLES) {
      const allowed = RANK[role] >= RANK[op.minimum];
      it(`${op.name}: ${role} is ${allowed ? 'allowed' : 'refused with FORBIDDEN'}`, async () => {
        const res = await server.gql(op.query, op.variables?.(), as[role]!.accessToken);
        if (allowed) expect(['FORBIDDEN', 'UNAUTHENTICATED']).not.toContain(codeOf(res));
        else expect(codeOf(res)).toBe('FORBIDDEN');
      });
    }
  }

  for (const op of platformOperations) {
    it(`${op.name}: refused with FORBIDDEN even for a tenant OWNER`, async () => {
      expect(codeOf(await server.gql(op.query, op.variables?.(), as.OWNER!.accessToken))).toBe('FORBIDDEN');
    });
  }

  for (const op of selfOperations.filter((o) => o.name !== 'logout')) {
    it(`${op.name}: allowed for any signed-in role`, async () => {
      for (const role of ROLES) {
        const res = await server.gql(op.query, op.variables?.(), as[role]!.accessToken);
        expect(['FORBIDDEN', 'UNAUTHENTICATED']).not.toContain(codeOf(res));
      }
    });
  }
});

describe('anonymous callers', () => {
  const everyProtected = [...tenantOperations, ...selfOperations, ...platformOperations];
  for (const op of everyProtected) {
    it(`${op.name}: UNAUTHENTICATED without a token, and with a garbage token`, async () => {
      expect(codeOf(await server.gql(op.query, op.variables?.()))).toBe('UNAUTHENTICATED');
      expect(codeOf(await server.gql(op.query, op.variables?.(), 'not-a-jwt'))).toBe('UNAUTHENTICATED');
    });
  }

  it('denied operations return no data', async () => {
    const res = await server.gql<{ members: unknown }>('{ members { user { email } } }');
    expect(res.data?.members ?? null).toBeNull();
  });
});

describe('the rule tree', () => {
  it('names every Query and Mutation field explicitly (nothing relies on the fallback)', async () => {
    const schema = await buildBaseSchema();
    const rules = permissionRules as Record<string, Record<string, unknown>>;
    for (const root of ['Query', 'Mutation']) {
      const type = schema.getType(root);
      const fields = isObjectType(type) ? Object.keys(type.getFields()) : [];
      expect(Object.keys(rules[root] ?? {}).sort(), `${root} rules`).toEqual(fields.sort());
    }
  });

  it('has a rule for every object type, so no field is reachable by accident', async () => {
    const schema = await buildBaseSchema();
    const objectTypes = Object.values(schema.getTypeMap())
      .filter((t) => isObjectType(t) && !t.name.startsWith('__') && t.name !== 'Query' && t.name !== 'Mutation')
      .map((t) => t.name);
    for (const name of objectTypes) expect(permissionRules, name).toHaveProperty(name);
  });

  it('public operations are exactly signUp, login, completeLogin (its challenge is the credential), refreshToken, acceptInvitation and unsubscribe (its signed token is the credential)', async () => {
    const { allow } = await import('graphql-shield');
    const mutations = (permissionRules as Record<string, Record<string, unknown>>).Mutation!;
    const queries = (permissionRules as Record<string, Record<string, unknown>>).Query!;
    const open = [...Object.entries(mutations), ...Object.entries(queries)].filter(([, r]) => r === allow).map(([n]) => n);
    expect(open.sort()).toEqual(['acceptInvitation', 'completeLogin', 'login', 'refreshToken', 'signUp', 'unsubscribe']);
  });
});
