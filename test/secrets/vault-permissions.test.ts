import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, signUp, type Signed } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { mustCreate, updateSecret } from '../support/vault.js';

/**
 * The vault's role matrix (README): USER reads metadata and values; MANAGER also
 * creates, updates, deletes and restores; ADMIN also destroys, purges and manages
 * keys and API keys; OWNER all. Every cell is tried.
 */
let server: TestServer;
const as: Record<string, Signed> = {};
let n = 0;

beforeAll(async () => {
  server = await startServer();
  as.OWNER = await signUp(server, 'Vault matrix');
  for (const role of ['ADMIN', 'MANAGER', 'USER']) as[role] = await addMember(server, as.OWNER, role);
});
afterAll(async () => server?.close());

type Role = 'OWNER' | 'ADMIN' | 'MANAGER' | 'USER';
const ROLES: Role[] = ['OWNER', 'ADMIN', 'MANAGER', 'USER'];
const RANK: Record<Role, number> = { USER: 1, MANAGER: 2, ADMIN: 3, OWNER: 4 };

/** Each operation prepares its own target (as OWNER) so allowed calls can succeed. */
const operations: { name: string; minimum: Role; run: (token: string) => Promise<{ errors?: { extensions: { code: string } }[] }> }[] = [
  { name: 'secret (metadata)', minimum: 'USER', run: async (t) => server.gql('{ secret(name: "matrix/base") { name } }', {}, t) },
  { name: 'Secret.value', minimum: 'USER', run: async (t) => server.gql('{ secret(name: "matrix/base") { value } }', {}, t) },
  { name: 'secrets', minimum: 'USER', run: async (t) => server.gql('{ secrets { totalCount } }', {}, t) },
  { name: 'secretsDueForRotation', minimum: 'USER', run: async (t) => server.gql('{ secretsDueForRotation { name } }', {}, t) },
  { name: 'createSecret', minimum: 'MANAGER', run: async (t) => server.gql('mutation($n: String!) { createSecret(input: { name: $n, value: "v" }) { id } }', { n: `matrix/c${++n}` }, t) },
  { name: 'updateSecret', minimum: 'MANAGER', run: async (t) => server.gql('mutation { updateSecret(input: { name: "matrix/base", value: "v2" }) { id } }', {}, t) },
  { name: 'setSecrets', minimum: 'MANAGER', run: async (t) => server.gql('mutation($n: String!) { setSecrets(items: [{ name: $n, value: "v" }]) { ok } }', { n: `matrix/s${++n}` }, t) },
  { name: 'importSecrets', minimum: 'MANAGER', run: async (t) => server.gql('mutation($d: String!) { importSecrets(dotenv: $d, prefix: "matrix/") { ok } }', { d: `K${++n}=v` }, t) },
  {
    name: 'deleteSecret',
    minimum: 'MANAGER',
    run: async (t) => {
      const name = `matrix/d${++n}`;
      await mustCreate(server, as.OWNER!, name, 'v');
      return server.gql('mutation($n: String!) { deleteSecret(name: $n) { id } }', { n: name }, t);
    },
  },
  {
    name: 'restoreSecret',
    minimum: 'MANAGER',
    run: async (t) => {
      const name = `matrix/r${++n}`;
      await mustCreate(server, as.OWNER!, name, 'v');
      await server.gql('mutation($n: String!) { deleteSecret(name: $n) { id } }', { n: name }, as.OWNER!.accessToken);
      return server.gql('mutation($n: String!) { restoreSecret(name: $n) { id } }', { n: name }, t);
    },
  },
  {
    name: 'destroySecretVersions',
    minimum: 'ADMIN',
    run: async (t) => {
      const name = `matrix/x${++n}`;
      await mustCreate(server, as.OWNER!, name, 'v');
      return server.gql('mutation($n: String!) { destroySecretVersions(name: $n, versions: [1]) { id } }', { n: name }, t);
    },
  },
  {
    name: 'purgeSecret',
    minimum: 'ADMIN',
    run: async (t) => {
      const name = `matrix/p${++n}`;
      await mustCreate(server, as.OWNER!, name, 'v');
      await server.gql('mutation($n: String!) { deleteSecret(name: $n) { id } }', { n: name }, as.OWNER!.accessToken);
      return server.gql('mutation($n: String!) { purgeSecret(name: $n) }', { n: name }, t);
    },
  },
  { name: 'createApiKey', minimum: 'ADMIN', run: async (t) => server.gql('mutation { createApiKey(input: { name: "m", role: USER, prefixes: ["*"] }) { apiKey } }', {}, t) },
  { name: 'apiKeys', minimum: 'ADMIN', run: async (t) => server.gql('{ apiKeys { id } }', {}, t) },
  {
    name: 'revokeApiKey',
    minimum: 'ADMIN',
    run: async (t) => {
      // Made by an ADMIN: nobody acts on what a higher rank made, so an OWNER's key would refuse the ADMIN (api-keys.test.ts).
      const res = await server.gql<{ createApiKey: { key: { id: string } } }>('mutation { createApiKey(input: { name: "r", role: USER, prefixes: ["*"] }) { key { id } } }', {}, as.ADMIN!.accessToken);
      return server.gql('mutation($id: ID!) { revokeApiKey(id: $id) }', { id: res.data!.createApiKey.key.id }, t);
    },
  },
  { name: 'tenantKeyStatus', minimum: 'ADMIN', run: async (t) => server.gql('{ tenantKeyStatus { activeDekVersion } }', {}, t) },
  { name: 'auditEvents', minimum: 'ADMIN', run: async (t) => server.gql('{ auditEvents(first: 1) { totalCount } }', {}, t) },
  { name: 'verifyAuditLog', minimum: 'ADMIN', run: async (t) => server.gql('{ verifyAuditLog { valid } }', {}, t) },
];

beforeAll(async () => {
  await mustCreate(server, as.OWNER!, 'matrix/base', 'base-value');
});

describe('vault role matrix', () => {
  for (const op of operations) {
    for (const role of ROLES) {
      const allowed = RANK[role] >= RANK[op.minimum];
      it(`${op.name}: ${role} ${allowed ? 'allowed' : 'refused with FORBIDDEN'}`, async () => {
        const res = await op.run(as[role]!.accessToken);
        if (allowed) expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
        else expect(res.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
      });
    }
    it(`${op.name}: anonymous is UNAUTHENTICATED`, async () => {
      const res = await op.run('');
      expect(res.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    });
  }

  it('rotateTenantKey: ADMIN and OWNER only', async () => {
    for (const role of ['USER', 'MANAGER'] as const) {
      const res = await server.gql('mutation { rotateTenantKey { activeDekVersion } }', {}, as[role]!.accessToken);
      expect(res.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    }
    const res = await server.gql<{ rotateTenantKey: { activeDekVersion: number } }>('mutation { rotateTenantKey { activeDekVersion } }', {}, as.ADMIN!.accessToken);
    expect(res.errors).toBeUndefined();
  });

  it('rewrapTenantKeys and masterKeyStatus: platform administrators only, not even an OWNER', async () => {
    expect((await server.gql('mutation { rewrapTenantKeys { tenants } }', {}, as.OWNER!.accessToken)).errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    expect((await server.gql('{ masterKeyStatus { activeMasterKeyId } }', {}, as.OWNER!.accessToken)).errors?.[0]?.extensions.code).toBe('FORBIDDEN');
  });

  it('a denial is written to the tenant\'s audit log', async () => {
    await server.gql('mutation { purgeSecret(name: "matrix/base") }', {}, as.USER!.accessToken);
    const denial = await server.db.collection('audit_events').findOne({ tenantId: as.OWNER!.tenantId, action: 'permission.denied', 'actor.id': as.USER!.userId });
    expect(denial).toMatchObject({ outcome: 'DENIED' });
  });
});

describe('lowering maxVersions destroys history: the authority of destroySecretVersions', () => {
  /** A secret with versions 1..3 (OWNER-made). */
  async function threeVersions(name: string) {
    await mustCreate(server, as.OWNER!, name, 'history-value-1');
    for (const v of [2, 3]) expect((await updateSecret(server, as.OWNER!, { name, value: `history-value-${v}` })).errors).toBeUndefined();
  }
  const kept = async (name: string) =>
    ((await server.db.collection('secrets').findOne({ name }))!.versions as { version: number; ciphertext: unknown }[]).map((v) => [v.version, v.ciphertext !== null]);
  const apiKey = async (role: string) =>
    (await server.gql<{ createApiKey: { apiKey: string } }>('mutation($r: Role!) { createApiKey(input: { name: "mv", role: $r, prefixes: ["*"] }) { apiKey } }', { r: role }, as.OWNER!.accessToken)).data!.createApiKey.apiKey;

  it('a MANAGER (or a MANAGER API key) is refused with FORBIDDEN; nothing changes; the refusal is audited', async () => {
    const name = `history/m${++n}`;
    await threeVersions(name);
    const before = await server.db.collection('secrets').findOne({ name });
    for (const token of [as.MANAGER!.accessToken, await apiKey('MANAGER')]) {
      const res = await updateSecret(server, token, { name, maxVersions: 1 });
      expect(res.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
      expect(res.errors![0]!.message).toContain('ADMIN');
      // Lowering together with a new value, or with other fields, is refused as well.
      expect((await updateSecret(server, token, { name, value: 'sneaky', maxVersions: 2 })).errors?.[0]?.extensions.code).toBe('FORBIDDEN');
      expect((await updateSecret(server, token, { name, description: 'x', maxVersions: 2 })).errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    }
    const after = await server.db.collection('secrets').findOne({ name });
    expect(after).toEqual(before);
    const denial = await server.db.collection('audit_events').findOne({ tenantId: as.OWNER!.tenantId, action: 'permission.denied', 'actor.id': as.MANAGER!.userId, 'resource.id': before!._id });
    expect(denial).toMatchObject({ outcome: 'DENIED', details: { needed: 'ADMIN', versions: [1, 2] } });
  });

  it('a MANAGER may still raise maxVersions, lower it down to the versions kept, and write values under the policy', async () => {
    const name = `history/ok${++n}`;
    await threeVersions(name);
    expect((await updateSecret(server, as.MANAGER!, { name, maxVersions: 50 })).errors).toBeUndefined();
    expect((await updateSecret(server, as.MANAGER!, { name, maxVersions: 3 })).errors).toBeUndefined();
    expect(await kept(name)).toEqual([[1, true], [2, true], [3, true]]);
  });

  it('an ADMIN (or an ADMIN API key) may; the removed versions are audited as secret.versions_destroyed', async () => {
    for (const token of [as.ADMIN!.accessToken, await apiKey('ADMIN')]) {
      const name = `history/a${++n}`;
      await threeVersions(name);
      const res = await updateSecret(server, token, { name, maxVersions: 1 });
      expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
      expect(await kept(name)).toEqual([[3, true]]);
      const doc = await server.db.collection('secrets').findOne({ name });
      const destroyed = await server.db.collection('audit_events').findOne({ tenantId: as.OWNER!.tenantId, action: 'secret.versions_destroyed', 'resource.id': doc!._id });
      expect(destroyed).toMatchObject({ outcome: 'SUCCESS', details: { name, versions: [1, 2], reason: 'maxVersions', maxVersions: 1 } });
    }
  });

  it('versions rolled out by a new value under the policy are audited too (setSecrets)', async () => {
    const name = `history/roll${++n}`;
    await mustCreate(server, as.OWNER!, name, 'roll-1', { maxVersions: 1 });
    const res = await server.gql<{ setSecrets: { ok: boolean }[] }>('mutation($n: String!) { setSecrets(items: [{ name: $n, value: "roll-2" }]) { ok } }', { n: name }, as.MANAGER!.accessToken);
    expect(res.data!.setSecrets[0]!.ok).toBe(true);
    const doc = await server.db.collection('secrets').findOne({ name });
    const destroyed = await server.db.collection('audit_events').findOne({ tenantId: as.OWNER!.tenantId, action: 'secret.versions_destroyed', 'resource.id': doc!._id });
    expect(destroyed).toMatchObject({ details: { versions: [1], reason: 'retention' } });
  });
});
