/**
 * kill -9 of the real processes in the middle of long jobs, then a restart: the job finishes
 * and nothing is left half-done. The server is `tsx src/main.ts` (and the CLI `tsx
 * src/cli/index.ts`) on MONGODB_URI of a database of its own on the run's database server;
 * the test reads that database directly only to choose the moment of the kill and to check
 * what is stored.
 */
import { randomBytes } from 'node:crypto';
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyReceipt } from '../../src/modules/privacy/erasure-receipt.js';
import { STRONG_PASSWORD, uniqueEmail } from '../support/auth.js';
import { newJwtKeyPem } from '../support/server.js';
import { crash, databaseUri, freshDbName, inParallel, killAll, output, sleep, spawnTsx, startServerProcess, waitFor, type ServerProcess } from './support.js';

const clients: MongoClient[] = [];
afterAll(async () => {
  killAll();
  for (const client of clients) await client.close().catch(() => {});
});

/** The test's own view of a database (for timing kills and checking storage, never for the job itself). */
async function openDb(dbName: string): Promise<Db> {
  const client = new MongoClient(databaseUri(dbName));
  clients.push(client);
  await client.connect();
  return client.db(dbName);
}

const masterKey = () => randomBytes(32).toString('base64');

function serverEnv(dbName: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    MONGODB_URI: databaseUri(dbName),
    VAULT_MASTER_KEYS: `t1:${masterKey()}`,
    VAULT_ACTIVE_MASTER_KEY: 't1',
    JWT_PRIVATE_KEY: newJwtKeyPem(),
    LOG_LEVEL: 'info',
    RATE_LIMIT_PER_MINUTE: '1000000',
    AUTH_RATE_LIMIT_PER_MINUTE: '1000000',
    KEY_RETIRE_GRACE_SECONDS: '0',
    ...extra,
  };
}

interface Owner {
  token: string;
  tenantId: string;
}

async function signUp(server: ServerProcess, tenantName: string): Promise<Owner> {
  const res = await server.gql<{ signUp: { accessToken: string; tenant: { id: string } } }>(
    'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken tenant { id } } }',
    { input: { email: uniqueEmail('crash'), password: STRONG_PASSWORD, tenantName } },
  );
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return { token: res.data!.signUp.accessToken, tenantId: res.data!.signUp.tenant.id };
}

const valueOf = (name: string, version: number) => `${name} value v${version} ${'x'.repeat(version)}`;

/** `name` with versions 1..versions, each value known. */
async function seedSecret(server: ServerProcess, owner: Owner, name: string, versions: number): Promise<void> {
  const created = await server.gql('mutation($input: CreateSecretInput!) { createSecret(input: $input) { version } }', { input: { name, value: valueOf(name, 1) } }, owner.token);
  expect(created.errors, JSON.stringify(created.errors)).toBeUndefined();
  for (let v = 2; v <= versions; v++) {
    const updated = await server.gql('mutation($input: UpdateSecretInput!) { updateSecret(input: $input) { version } }', { input: { name, value: valueOf(name, v) } }, owner.token);
    expect(updated.errors, JSON.stringify(updated.errors)).toBeUndefined();
  }
}

/** Every version of every named secret opens through the API, with its own value. */
async function expectEveryVersionOpens(server: ServerProcess, owner: Owner, names: string[], versions: number): Promise<void> {
  const fields = Array.from({ length: versions }, (_, i) => `v${i + 1}: value(version: ${i + 1})`).join(' ');
  await inParallel(names, 4, async (name) => {
    const res = await server.gql<{ secret: Record<string, string> | null }>(`query($n: String!) { secret(name: $n) { ${fields} } }`, { n: name }, owner.token);
    expect(res.errors, `${name}: ${JSON.stringify(res.errors)}`).toBeUndefined();
    for (let v = 1; v <= versions; v++) expect(res.data?.secret?.[`v${v}`], `${name} v${v}`).toBe(valueOf(name, v));
  });
}

async function expectAuditChainValid(server: ServerProcess, owner: Owner): Promise<void> {
  const res = await server.gql<{ verifyAuditLog: { valid: boolean; checkedEvents: number } }>('{ verifyAuditLog { valid checkedEvents } }', {}, owner.token);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  expect(res.data!.verifyAuditLog.valid).toBe(true);
}

interface ReencryptionDoc {
  reencryption: { state: string; done: number; total: number };
  deks: { version: number; retiredAt: Date | null; masterKeyId: string }[];
  auditKey: { masterKeyId: string };
}

describe('kill -9 during tenant re-encryption', () => {
  it('killed partway through rotateTenantKey\'s re-encryption, the restarted server finishes it: every version of every secret opens, old keys retired', async () => {
    const dbName = freshDbName('reenc');
    const env = serverEnv(dbName, { REENCRYPTION_BATCH_SIZE: '2' });
    const db = await openDb(dbName);
    const first = await startServerProcess(env);
    const owner = await signUp(first, 'Rotation Co');
    const names = Array.from({ length: 80 }, (_, i) => `reenc/s${String(i).padStart(3, '0')}`);
    const VERSIONS = 3;
    await inParallel(names, 4, (name) => seedSecret(first, owner, name, VERSIONS));

    const rotated = await first.gql<{ rotateTenantKey: { activeDekVersion: number; reencryption: { total: number } } }>('mutation { rotateTenantKey { activeDekVersion reencryption { total } } }', {}, owner.token);
    expect(rotated.errors, JSON.stringify(rotated.errors)).toBeUndefined();
    expect(rotated.data!.rotateTenantKey.reencryption.total).toBe(names.length * VERSIONS);
    const keys = db.collection<ReencryptionDoc>('tenant_keys');
    // Kill while the job is partway: some versions moved, not all.
    const partway = await waitFor(async () => {
      const doc = await keys.findOne({ tenantId: owner.tenantId });
      const r = doc?.reencryption;
      if (r?.state !== 'RUNNING') throw new Error(`re-encryption ${r?.state} before the kill: make it longer`);
      return r.done >= r.total / 4 && r.done < r.total ? r : undefined;
    }, 30_000, () => output(first), first, 10);
    await crash(first);
    const atKill = (await keys.findOne({ tenantId: owner.tenantId }))!.reencryption;
    expect(atKill.state).toBe('RUNNING');
    expect(atKill.done).toBeLessThan(atKill.total);

    const restartedAt = Date.now();
    const second = await startServerProcess(env);
    // The dead instance's lease lapses (60 s), then the restarted server takes the job over.
    const finished = await waitFor(async () => {
      const doc = await keys.findOne({ tenantId: owner.tenantId });
      return doc?.reencryption.state === 'DONE' ? doc : undefined;
    }, 110_000, () => output(second), second, 250);
    const resumeMs = Date.now() - restartedAt;
    console.log(`re-encryption: killed at ${partway.done}/${partway.total} (saved ${atKill.done}), finished ${resumeMs} ms after the restart`);

    expect(finished.deks.filter((d) => d.version !== 2).every((d) => d.retiredAt !== null)).toBe(true);
    const status = await second.gql<{ tenantKeyStatus: { activeDekVersion: number; versions: { version: number; retiredAt: string | null; secretVersionCount: number }[] } }>(
      '{ tenantKeyStatus { activeDekVersion versions { version retiredAt secretVersionCount } } }', {}, owner.token);
    expect(status.errors, JSON.stringify(status.errors)).toBeUndefined();
    expect(status.data!.tenantKeyStatus.activeDekVersion).toBe(2);
    expect(status.data!.tenantKeyStatus.versions.find((v) => v.version === 2)!.secretVersionCount).toBe(names.length * VERSIONS);
    await expectEveryVersionOpens(second, owner, names, VERSIONS);
    await expectAuditChainValid(second, owner);
    const events = await db.collection('audit_events').countDocuments({ tenantId: owner.tenantId, action: 'key.reencryption_completed' });
    expect(events).toBe(1);
    await crash(second);
  }, 200_000);
});
