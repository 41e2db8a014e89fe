import { randomBytes, randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { bootstrapAdmin } from '../../src/cli/bootstrap-admin.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { MasterKeyring } from '../../src/modules/keys/keyring.js';
import { platformKeyAad } from '../../src/modules/keys/platform-key-rewrap.js';
import { PlatformKeyRepository } from '../../src/modules/keys/platform-key.repository.js';
import { expectCode, expectOk, login, signUp, uniqueEmail, type Signed } from '../support/auth.js';
import { newJwtKeyPem, startServer, testEnv, type TestServer } from '../support/server.js';
import { auditActions, mustCreate, reveal, updateSecret } from '../support/vault.js';

const oldKey = `old:${randomBytes(32).toString('base64')}`;
const newKey = `new:${randomBytes(32).toString('base64')}`;
const dbName = `t_keys_${randomUUID().slice(0, 8)}`;
// Every server on this database shares its keys, as instances of one deployment do.
const shared = { VAULT_MASTER_KEYS: oldKey, VAULT_ACTIVE_MASTER_KEY: 'old', JWT_PRIVATE_KEY: newJwtKeyPem(), KEY_RETIRE_GRACE_SECONDS: '0', REENCRYPTION_BATCH_SIZE: '2' };

let server: TestServer;
let owner: Signed;
const values = new Map<string, string[]>();

beforeAll(async () => {
  server = await startServer(shared, dbName);
  owner = await signUp(server, 'Rotating');
  for (let i = 0; i < 5; i++) {
    const name = `svc/key-${i}`;
    const history = [`first-${i}-${randomUUID()}`, `second-${i}-${randomUUID()}`];
    await mustCreate(server, owner, name, history[0]!);
    expectOk(await updateSecret(server, owner, { name, value: history[1] }));
    values.set(name, history);
  }
});
afterAll(async () => server?.close());

const STATUS = '{ tenantKeyStatus { activeDekVersion versions { version masterKeyId secretVersionCount retiredAt } reencryption { state done total } } }';
interface Status {
  activeDekVersion: number;
  versions: { version: number; masterKeyId: string; secretVersionCount: number; retiredAt: string | null }[];
  reencryption: { state: string; done: number; total: number };
}

async function everyValueOpens(on: TestServer) {
  for (const [name, history] of values) {
    expect(expectOk(await reveal(on, owner, name, 1)).secret!.value).toBe(history[0]);
    expect(expectOk(await reveal(on, owner, name, 2)).secret!.value).toBe(history[1]);
  }
}

describe('tenant key rotation', () => {
  it('rotates the DEK, re-encrypts every version in the background, then retires the old DEK', async () => {
    const before = expectOk(await server.gql<{ tenantKeyStatus: Status }>(STATUS, {}, owner.accessToken)).tenantKeyStatus;
    expect(before.activeDekVersion).toBe(1);
    expect(before.versions).toEqual([{ version: 1, masterKeyId: 'old', secretVersionCount: 10, retiredAt: null }]);

    const rotated = expectOk(await server.gql<{ rotateTenantKey: Status }>('mutation { rotateTenantKey { activeDekVersion reencryption { state total } } }', {}, owner.accessToken)).rotateTenantKey;
    expect(rotated.activeDekVersion).toBe(2);
    // Reads keep working while the job runs.
    await everyValueOpens(server);

    let status = before;
    for (let i = 0; i < 100 && status.reencryption.state !== 'DONE'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = expectOk(await server.gql<{ tenantKeyStatus: Status }>(STATUS, {}, owner.accessToken)).tenantKeyStatus;
    }
    expect(status.reencryption).toEqual({ state: 'DONE', done: 10, total: 10 });
    const v1 = status.versions.find((v) => v.version === 1)!;
    const v2 = status.versions.find((v) => v.version === 2)!;
    expect(v1.secretVersionCount).toBe(0);
    expect(v1.retiredAt).not.toBeNull();
    expect(v2.secretVersionCount).toBe(10);
    await everyValueOpens(server);
    const docs = await server.db.collection('secrets').find({ tenantId: owner.tenantId }).toArray();
    expect(docs.flatMap((d) => d.versions.map((v: { dekVersion: number }) => v.dekVersion))).toEqual(Array(10).fill(2));
    const actions = await auditActions(server, owner.tenantId);
    expect(actions).toContain('key.tenant_rotated');
    expect(actions).toContain('key.reencryption_completed');
  });

  it('writes new values under the new DEK', async () => {
    expectOk(await updateSecret(server, owner, { name: 'svc/key-0', value: 'third-value' }));
    const doc = await server.db.collection('secrets').findOne({ tenantId: owner.tenantId, name: 'svc/key-0' });
    expect(doc!.versions.at(-1).dekVersion).toBe(2);
  });
});

describe('master key rotation', () => {
  it('re-wraps every data key under the new master key without downtime; the old one can then go', async () => {
    const adminEmail = uniqueEmail('keyadmin');
    const password = 'cobalt-Orchard-whistle-58';
    const rotatedEnv = { ...shared, VAULT_MASTER_KEYS: `${newKey},${oldKey}`, VAULT_ACTIVE_MASTER_KEY: 'new' };
    const next = await startServer(rotatedEnv, dbName);
    try {
      await bootstrapAdmin(next.db, next.config, adminEmail, async () => password);
      const token = expectOk(await login(next, adminEmail, password)).login.accessToken;
      const STATUS_Q = '{ masterKeyStatus { activeMasterKeyId keys { id inKeyring wrappedKeyCount } } }';
      const before = expectOk(await next.gql<{ masterKeyStatus: { activeMasterKeyId: string; keys: { id: string; wrappedKeyCount: number }[] } }>(STATUS_Q, {}, token)).masterKeyStatus;
      expect(before.activeMasterKeyId).toBe('new');
      expect(before.keys.find((k) => k.id === 'old')!.wrappedKeyCount).toBeGreaterThan(0);
      // A platform key still under the old master key (the TOTP key, as an instance that never ran
      // with the new one left it): the GraphQL re-wrap moves it too, or the old key could never go.
      const oldRing = MasterKeyring.fromConfig(server.config.vault);
      await new PlatformKeyRepository(server.db).insert('totp-secrets', oldRing.wrap(randomBytes(32), platformKeyAad('totp-secrets')), new Date());
      // Reads keep working on both instances while keys are re-wrapped.
      const [rewrap] = await Promise.all([next.gql<{ rewrapTenantKeys: { tenants: number; rewrapped: number } }>('mutation { rewrapTenantKeys { tenants rewrapped } }', {}, token), everyValueOpens(server)]);
      expect(expectOk(rewrap).rewrapTenantKeys.rewrapped).toBeGreaterThan(0);
      const after = expectOk(await next.gql<{ masterKeyStatus: { keys: { id: string; inKeyring: boolean; wrappedKeyCount: number }[] } }>(STATUS_Q, {}, token)).masterKeyStatus;
      expect(after.keys.find((k) => k.id === 'old')?.wrappedKeyCount ?? 0).toBe(0);
      expect(await server.db.collection('platform_keys').distinct('masterKeyId')).toEqual(['new']);
      expect(await auditActions(next, owner.tenantId)).toContain('key.master_rewrapped');
    } finally {
      await next.close();
    }
    // Old master key removed from the keyring: every value still opens.
    const withoutOld = await startServer({ ...shared, VAULT_MASTER_KEYS: newKey, VAULT_ACTIVE_MASTER_KEY: 'new' }, dbName);
    try {
      await everyValueOpens(withoutOld);
    } finally {
      await withoutOld.close();
    }
  });

  it('refuses to start when a stored key names a master key missing from the keyring', async () => {
    const strangerKey = `stranger:${randomBytes(32).toString('base64')}`;
    const config = loadConfig(testEnv({ VAULT_MASTER_KEYS: strangerKey, VAULT_ACTIVE_MASTER_KEY: 'stranger' }), { warn: () => {} });
    const client = new MongoClient(inject('mongoUri'));
    await client.connect();
    try {
      await expect(createApp({ config, db: client.db(dbName), logger: createLogger('silent') })).rejects.toThrow(/new|VAULT_MASTER_KEYS/);
    } finally {
      await client.close();
    }
  });

  it('rotateTenantKey is refused while a re-encryption is running', async () => {
    const busy = await signUp(server, 'Busy');
    await server.db.collection('tenant_keys').updateOne({ _id: busy.tenantId as never }, { $set: { 'reencryption.state': 'RUNNING', 'reencryption.leaseUntil': new Date(Date.now() + 60_000) } }, { upsert: false });
    // Make sure the key document exists first.
    expectOk(await server.gql(STATUS, {}, busy.accessToken));
    await server.db.collection('tenant_keys').updateOne({ _id: busy.tenantId as never }, { $set: { 'reencryption.state': 'RUNNING', 'reencryption.leaseUntil': new Date(Date.now() + 60_000) } });
    expectCode(await server.gql('mutation { rotateTenantKey { activeDekVersion } }', {}, busy.accessToken), 'CONFLICT');
  });
});

describe('purge sweep', () => {
  it('purges soft-deleted secrets past the recovery window at startup, auditing each as SYSTEM', async () => {
    const name = 'svc/doomed';
    await mustCreate(server, owner, name, 'doomed-value');
    expectOk(await server.gql('mutation($n: String!) { deleteSecret(name: $n) { id } }', { n: name }, owner.accessToken));
    await server.db.collection('secrets').updateOne({ tenantId: owner.tenantId, name }, { $set: { deletedAt: new Date(Date.now() - 31 * 86_400_000) } });
    const restarted = await startServer({ ...shared, VAULT_MASTER_KEYS: `${newKey},${oldKey}`, VAULT_ACTIVE_MASTER_KEY: 'new' }, dbName);
    try {
      for (let i = 0; i < 50 && (await restarted.db.collection('secrets').countDocuments({ tenantId: owner.tenantId, name })) > 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await restarted.db.collection('secrets').countDocuments({ tenantId: owner.tenantId, name })).toBe(0);
      // The sweep deletes, then appends the event: under load the event can land a moment later.
      const purgedEvent = () => restarted.db.collection('audit_events').findOne({ tenantId: owner.tenantId, action: 'secret.purged', 'details.name': name });
      for (let i = 0; i < 50 && !(await purgedEvent()); i++) await new Promise((r) => setTimeout(r, 100));
      expect(await purgedEvent()).toMatchObject({ actor: { type: 'SYSTEM' } });
    } finally {
      await restarted.close();
    }
  });
});
