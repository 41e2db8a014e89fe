import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { printSchema } from 'graphql';
import { Binary, BSON, MongoClient, type Db } from 'mongodb';
import { buildSchema } from 'type-graphql';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import type { MasterKey } from '../../src/config.js';
import { open, seal, secretVersionAad } from '../../src/crypto/aes-gcm.js';
import { createLogger } from '../../src/logger.js';
import { PLATFORM_CHAIN, type AuditEventInput, type AuditSink } from '../../src/modules/audit/audit-event.js';
import { KeyResolver } from '../../src/modules/keys/key.resolver.js';
import { MasterKeyring, UnknownMasterKeyError } from '../../src/modules/keys/keyring.js';
import { platformKeyAad } from '../../src/modules/keys/platform-key-rewrap.js';
import { PlatformKeyRepository } from '../../src/modules/keys/platform-key.repository.js';
import { ReencryptionJob } from '../../src/modules/keys/reencryption.job.js';
import { SealedDataRegistry } from '../../src/modules/keys/sealed-data.js';
import { TENANT_KEYS_COLLECTION, type TenantKeyDoc } from '../../src/modules/keys/tenant-key.repository.js';
import { RetiredKeyError, TenantKeyService } from '../../src/modules/keys/tenant-key.service.js';
import { SECRETS_COLLECTION, type SecretDoc, type SecretVersionDoc } from '../../src/modules/secrets/secret.document.js';
import { secretSealedData } from '../../src/modules/secrets/secret.sealed-data.js';

const logger = createLogger('silent');
const user = { type: 'USER' as const, id: 'admin-1' };

let client: MongoClient;
const databases: Db[] = [];
beforeAll(async () => {
  client = new MongoClient(inject('mongoUri'));
  await client.connect();
});
afterAll(async () => {
  await Promise.all(databases.map((db) => db.dropDatabase().catch(() => {})));
  await client.close();
});

/** Each test gets a database of its own. */
function freshDb(): Db {
  const db = client.db(`k_${randomUUID().slice(0, 8)}`);
  databases.push(db);
  return db;
}

const masterKey = (id: string): MasterKey => ({ id, key: randomBytes(32) });

class RecordingAudit implements AuditSink {
  readonly events: AuditEventInput[] = [];
  async append(...events: AuditEventInput[]): Promise<void> {
    this.events.push(...events);
  }
}

function keyService(db: Db, keyring: MasterKeyring, audit?: AuditSink): TenantKeyService {
  return new TenantKeyService({ db, keyring, logger, audit, sealedData: new SealedDataRegistry([secretSealedData]) });
}

/** A service and its job wired together, as services.ts would (defaults shortened for tests). */
function keysWithJob(db: Db, keyring: MasterKeyring, options: { audit?: AuditSink; batchSize?: number; leaseMs?: number } = {}) {
  const keys = keyService(db, keyring, options.audit);
  const job = new ReencryptionJob({ db, keys, logger, audit: options.audit, batchSize: options.batchSize ?? 100, leaseMs: options.leaseMs ?? 5_000, retireGraceMs: 0 });
  keys.useReencryption(job);
  return { keys, job };
}

const valueOf = (secretId: string, version: number) => `value of ${secretId} v${version}`;

async function sealedVersion(keys: TenantKeyService, tenantId: string, secretId: string, version: number): Promise<SecretVersionDoc> {
  const dek = await keys.activeDek(tenantId);
  const blob = seal(dek.key, Buffer.from(valueOf(secretId, version)), secretVersionAad(tenantId, secretId, version));
  return { version, ciphertext: new Binary(blob), dekVersion: dek.version, createdAt: new Date(), createdBy: 'u1', destroyedAt: null };
}

function secretDoc(tenantId: string, id: string, versions: SecretVersionDoc[]): SecretDoc {
  const now = new Date();
  return {
    _id: id,
    tenantId,
    name: id,
    description: '',
    tags: [],
    metadata: {},
    expiresAt: null,
    rotationIntervalDays: 90,
    rotationWarningDays: 7,
    lastRotatedAt: now,
    rotationDueAt: now,
    maxVersions: 10,
    currentVersion: versions.length,
    versions,
    revision: 0,
    createdAt: now,
    createdBy: 'u1',
    updatedAt: now,
    updatedBy: 'u1',
    deletedAt: null,
    deletedBy: null,
  };
}

/** Writes `count` secrets with `versions` versions each, sealed as the secrets module does; returns their ids. */
async function seedSecrets(db: Db, keys: TenantKeyService, tenantId: string, count: number, versions: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `s${String(i).padStart(3, '0')}-${randomUUID().slice(0, 4)}`;
    const docs: SecretVersionDoc[] = [];
    for (let v = 1; v <= versions; v++) docs.push(await sealedVersion(keys, tenantId, id, v));
    await db.collection<SecretDoc>(SECRETS_COLLECTION).insertOne(secretDoc(tenantId, id, docs));
    ids.push(id);
  }
  return ids;
}

/** Opens every live version of every secret of a tenant with the DEK version it names; returns those versions. */
async function openAll(db: Db, keys: TenantKeyService, tenantId: string): Promise<number[]> {
  const used: number[] = [];
  for (const secret of await db.collection<SecretDoc>(SECRETS_COLLECTION).find({ tenantId }).toArray()) {
    for (const v of secret.versions) {
      if (!v.ciphertext) continue;
      const plaintext = open(await keys.dek(tenantId, v.dekVersion), Buffer.from(v.ciphertext.value()), secretVersionAad(tenantId, secret._id, v.version));
      expect(plaintext.toString()).toBe(valueOf(secret._id, v.version));
      used.push(v.dekVersion);
    }
  }
  return used;
}

/** The secrets collection as a concurrent writer edits it. */
const secretsOf = (db: Db) => db.collection<{ _id: string; tenantId: string; description: string; versions: SecretVersionDoc[]; revision: number }>(SECRETS_COLLECTION);

const keyDoc = (db: Db, tenantId: string) => db.collection<TenantKeyDoc>(TENANT_KEYS_COLLECTION).findOne({ _id: tenantId });

describe('tenant keys: creation and storage', () => {
  it('creates exactly one document and one DEK v1 when 20 first uses race', async () => {
    const db = freshDb();
    const ring = new MasterKeyring([masterKey('m1')], 'm1');
    const services = Array.from({ length: 4 }, () => keyService(db, ring));
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => services[i % 4]!.activeDek('tenant-a')));
    expect(await db.collection(TENANT_KEYS_COLLECTION).countDocuments({})).toBe(1);
    const doc = await keyDoc(db, 'tenant-a');
    expect(doc?.deks.map((d) => d.version)).toEqual([1]);
    expect(doc?.activeDekVersion).toBe(1);
    for (const result of results) {
      expect(result.version).toBe(1);
      expect(result.key.equals(results[0]!.key)).toBe(true);
    }
    expect((await keyService(db, ring).dek('tenant-a', 1)).equals(results[0]!.key)).toBe(true);
  });

  it('creates one audit key per chain under a race, the platform chain included (which has no DEKs)', async () => {
    const db = freshDb();
    const ring = new MasterKeyring([masterKey('m1')], 'm1');
    const keys = Array.from({ length: 10 }, () => keyService(db, ring));
    const platform = await Promise.all(keys.map((k) => k.auditKey(PLATFORM_CHAIN)));
    expect(new Set(platform.map((k) => k.toString('hex'))).size).toBe(1);
    const doc = await keyDoc(db, PLATFORM_CHAIN);
    expect(doc?.deks).toEqual([]);
    await expect(keys[0]!.activeDek(PLATFORM_CHAIN)).rejects.toThrow(/only for tenants/);
    const tenantAudit = await keys[1]!.auditKey('tenant-a');
    expect(tenantAudit.equals(platform[0]!)).toBe(false);
    expect((await keys[2]!.auditKey('tenant-a')).equals(tenantAudit)).toBe(true);
    expect((await keys[2]!.activeDek('tenant-a')).key.equals(tenantAudit)).toBe(false);
  });

  it('stores DEKs and audit keys only wrapped', async () => {
    const db = freshDb();
    const ring = new MasterKeyring([masterKey('m1')], 'm1');
    const { keys, job } = keysWithJob(db, ring);
    const raw = [(await keys.activeDek('tenant-a')).key, await keys.auditKey('tenant-a')];
    await keys.rotate('tenant-a', user);
    await job.settled();
    raw.push((await keys.activeDek('tenant-a')).key);
    const stored = Buffer.from(BSON.serialize((await keyDoc(db, 'tenant-a'))!));
    expect(stored.includes(Buffer.from((await keyDoc(db, 'tenant-a'))!.deks[1]!.wrapped!.value()))).toBe(true); // the scan can find bytes
    const text = stored.toString('latin1');
    for (const key of raw) {
      expect(stored.includes(key)).toBe(false);
      expect(text.includes(key.toString('base64'))).toBe(false);
      expect(text.includes(key.toString('hex'))).toBe(false);
    }
  });

  it('hands out copies, so a caller wiping its key does not wipe the cache', async () => {
    const db = freshDb();
    const keys = keyService(db, new MasterKeyring([masterKey('m1')], 'm1'));
    const first = await keys.activeDek('tenant-a');
    const copy = Buffer.from(first.key);
    first.key.fill(0);
    expect((await keys.activeDek('tenant-a')).key.equals(copy)).toBe(true);
    expect((await keys.dek('tenant-a', 1)).equals(copy)).toBe(true);
  });
});

describe('unwrapped key cache', () => {
  const dropKeyDocs = (db: Db) => db.collection(TENANT_KEYS_COLLECTION).deleteMany({});

  it('keeps at most cacheMax keys, dropping the least recently used', async () => {
    const db = freshDb();
    // Creating a tenant's keys caches two (its DEK v1 and its audit key); reading a DEK makes it most recent.
    const keys = new TenantKeyService({ db, keyring: new MasterKeyring([masterKey('m1')], 'm1'), logger, cacheMax: 3 });
    const a = (await keys.activeDek('tenant-a')).key;
    await keys.activeDek('tenant-b'); // cache: DEK a, audit b, DEK b
    await keys.dek('tenant-a', 1); // cache: audit b, DEK b, DEK a
    const c = (await keys.activeDek('tenant-c')).key; // cache: DEK a, audit c, DEK c (without the read above, DEK a would be gone)
    await dropKeyDocs(db); // from here on only the cache can answer
    expect((await keys.dek('tenant-a', 1)).equals(a)).toBe(true);
    expect((await keys.dek('tenant-c', 1)).equals(c)).toBe(true);
    await expect(keys.dek('tenant-b', 1)).rejects.toThrow(/no keys/);
  });

  it('forgets keys after cacheTtlMs', async () => {
    const db = freshDb();
    const keys = new TenantKeyService({ db, keyring: new MasterKeyring([masterKey('m1')], 'm1'), logger, cacheTtlMs: 30 });
    await keys.activeDek('tenant-a');
    await dropKeyDocs(db);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await expect(keys.dek('tenant-a', 1)).rejects.toThrow(/no keys/);
  });
});

describe('tenant key rotation and re-encryption', () => {
  it('re-encrypts every live version with the new DEK, retires the old one and audits both steps', async () => {
    const db = freshDb();
    const ring = new MasterKeyring([masterKey('m1')], 'm1');
    const audit = new RecordingAudit();
    const { keys, job } = keysWithJob(db, ring, { audit });
    const ids = await seedSecrets(db, keys, 'tenant-a', 5, 2);
    const other = await seedSecrets(db, keys, 'tenant-b', 1, 1);
    const secrets = secretsOf(db);
    await secrets.updateOne({ _id: ids[0]! }, { $push: { versions: { version: 3, ciphertext: null, dekVersion: 1, createdAt: new Date(), createdBy: 'u1', destroyedAt: new Date() } } });

    const rotated = await keys.rotate('tenant-a', user);
    expect(rotated.activeDekVersion).toBe(2);
    expect(rotated.reencryption.total).toBe(10);
    expect((await keys.activeDek('tenant-a')).version).toBe(2);
    await job.settled();

    const status = await keys.status('tenant-a');
    expect(status.reencryption).toEqual({ state: 'DONE', done: 10, total: 10 });
    expect(status.versions.map((v) => [v.version, v.secretVersionCount, v.retiredAt !== null])).toEqual([
      [1, 0, true],
      [2, 10, false],
    ]);
    expect(await openAll(db, keyService(db, ring), 'tenant-a')).toEqual(Array(10).fill(2));
    const destroyed = (await secrets.findOne({ _id: ids[0]! }))!.versions[2]!;
    expect(destroyed).toMatchObject({ ciphertext: null, dekVersion: 1 });
    expect((await keyDoc(db, 'tenant-a'))!.deks[0]!.wrapped).toBeNull();
    await expect(keyService(db, ring).dek('tenant-a', 1)).rejects.toBeInstanceOf(RetiredKeyError);

    // Another tenant is untouched.
    expect(await openAll(db, keys, 'tenant-b')).toEqual([1]);
    expect((await secrets.findOne({ _id: other[0]! }))!.revision).toBe(0);
    expect(audit.events.map((e) => [e.action, e.tenantId, e.actor.type])).toEqual([
      ['key.tenant_rotated', 'tenant-a', 'USER'],
      ['key.reencryption_completed', 'tenant-a', 'SYSTEM'],
    ]);
    // A second rotation after DONE works.
    await keys.rotate('tenant-a', user);
    await job.settled();
    expect((await keys.status('tenant-a')).versions.map((v) => [v.version, v.secretVersionCount])).toEqual([[1, 0], [2, 0], [3, 10]]);
  });

  it('finishes at once for a tenant without secrets', async () => {
    const db = freshDb();
    const { keys, job } = keysWithJob(db, new MasterKeyring([masterKey('m1')], 'm1'));
    await keys.rotate('tenant-a', user);
    await job.settled();
    expect((await keys.status('tenant-a')).reencryption).toEqual({ state: 'DONE', done: 0, total: 0 });
  });

  it('refuses to rotate while a re-encryption is RUNNING (CONFLICT), also when two rotations race', async () => {
    const db = freshDb();
    const ring = new MasterKeyring([masterKey('m1')], 'm1');
    const keys = keyService(db, ring); // no job attached: the re-encryption stays RUNNING
    await seedSecrets(db, keys, 'tenant-a', 2, 1);
    const raced = await Promise.allSettled([keys.rotate('tenant-a', user), keyService(db, ring).rotate('tenant-a', user)]);
    expect(raced.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = raced.find((r) => r.status === 'rejected');
    expect(refused?.reason).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/already running/) });
    await expect(keys.rotate('tenant-a', user)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await keyDoc(db, 'tenant-a'))!.deks.map((d) => d.version)).toEqual([1, 2]);
  });

  it('resumes an interrupted re-encryption on a fresh instance once the lease expires', async () => {
    const db = freshDb();
    const ring = new MasterKeyring([masterKey('m1')], 'm1');
    const first = keyService(db, ring); // the "crashed" instance: its job is driven by hand
    const crashed = new ReencryptionJob({ db, keys: first, logger, batchSize: 2, leaseMs: 300, retireGraceMs: 0 });
    await seedSecrets(db, first, 'tenant-a', 7, 3);
    await first.rotate('tenant-a', user);
    expect(await crashed.run('tenant-a', { maxBatches: 1 })).toBe('PAUSED');

    const midway = await first.status('tenant-a');
    expect(midway.reencryption).toEqual({ state: 'RUNNING', done: 6, total: 21 });
    expect(midway.versions.map((v) => v.secretVersionCount)).toEqual([15, 6]);
    const secrets = await db.collection<SecretDoc>(SECRETS_COLLECTION).find({ tenantId: 'tenant-a' }).sort({ _id: 1 }).toArray();
    expect(secrets.map((s) => s.versions[0]!.dekVersion)).toEqual([2, 2, 1, 1, 1, 1, 1]);

    // After a restart: a new service and job, with the crashed run's lease still held at first.
    const restarted = keysWithJob(db, ring, { batchSize: 2 });
    expect(await restarted.job.run('tenant-a')).toBe('BUSY');
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await restarted.job.resumeAll()).toEqual(['tenant-a']);
    await restarted.job.settled();

    const status = await restarted.keys.status('tenant-a');
    expect(status.reencryption).toEqual({ state: 'DONE', done: 21, total: 21 });
    expect(status.versions.map((v) => [v.version, v.secretVersionCount, v.retiredAt !== null])).toEqual([
      [1, 0, true],
      [2, 21, false],
    ]);
    expect((await keyDoc(db, 'tenant-a'))!.deks[0]!.wrapped).toBeNull();
    expect(await openAll(db, keyService(db, ring), 'tenant-a')).toEqual(Array(21).fill(2));

    // Running it again changes nothing.
    expect(await restarted.job.run('tenant-a')).toBe('NOT_RUNNING');
    expect(await restarted.job.resumeAll()).toEqual([]);
  });

  it('loses nothing to writes made during re-encryption, even a write sealed with the old DEK', async () => {
    const db = freshDb();
    const ring = new MasterKeyring([masterKey('m1')], 'm1');
    let interfere: (() => Promise<void>) | null = null;
    let oldDekLookups = 0;
    /** Runs `interfere` once, in the job's first old-DEK lookup: after it read a secret, before it writes it back. */
    class InterferingKeys extends TenantKeyService {
      override async dek(tenantId: string, version: number): Promise<Buffer> {
        if (version === 1) oldDekLookups++;
        const hook = version === 1 ? interfere : null;
        if (hook) {
          interfere = null;
          await hook();
        }
        return super.dek(tenantId, version);
      }
    }
    const keys = new InterferingKeys({ db, keyring: ring, logger, sealedData: new SealedDataRegistry([secretSealedData]) });
    const job = new ReencryptionJob({ db, keys, logger, batchSize: 2, leaseMs: 5_000, retireGraceMs: 0 });
    const ids = await seedSecrets(db, keys, 'tenant-a', 7, 3);
    const oldDek = await keys.activeDek('tenant-a'); // a writer that fetched v1 just before the rotation
    const secrets = secretsOf(db);
    await keys.rotate('tenant-a', user);
    expect(await job.run('tenant-a', { maxBatches: 1 })).toBe('PAUSED');

    // Between batches: a new version (v2 DEK) on a secret not reached yet, and a late old-DEK write on one already done.
    await secrets.updateOne({ _id: ids[5]! }, { $push: { versions: await sealedVersion(keys, 'tenant-a', ids[5]!, 4) }, $inc: { revision: 1 } });
    const late = seal(oldDek.key, Buffer.from(valueOf(ids[0]!, 4)), secretVersionAad('tenant-a', ids[0]!, 4));
    const lateVersion = { version: 4, ciphertext: new Binary(late), dekVersion: oldDek.version, createdAt: new Date(), createdBy: 'u2', destroyedAt: null };
    await secrets.updateOne({ _id: ids[0]! }, { $push: { versions: lateVersion }, $inc: { revision: 1 } });
    // During the next batch: a write to the very secret the job has just read (ids[2]).
    interfere = async () => {
      const added = await sealedVersion(keys, 'tenant-a', ids[2]!, 4);
      await secrets.updateOne({ _id: ids[2]! }, { $push: { versions: added }, $set: { description: 'edited' }, $inc: { revision: 1 } });
    };
    oldDekLookups = 0;
    expect(await job.run('tenant-a', { maxBatches: 1 })).toBe('PAUSED');
    expect(interfere).toBeNull();
    // ids[2] lost its compare-and-set, was re-read and re-sealed within its own batch (not left to the final sweep).
    expect(oldDekLookups).toBe(3 + 3 + 3); // ids[2] twice, ids[3] once
    expect((await secrets.findOne({ _id: ids[2]! }))!.versions.map((v) => v.dekVersion)).toEqual([2, 2, 2, 2]);
    expect(await job.run('tenant-a')).toBe('DONE');

    const edited = (await secrets.findOne({ _id: ids[2]! }))!;
    expect(edited.description).toBe('edited');
    expect(edited.versions.map((v) => v.version)).toEqual([1, 2, 3, 4]);
    expect(edited.revision).toBe(2);
    expect((await secrets.findOne({ _id: ids[0]! }))!.versions).toHaveLength(4);
    expect(await openAll(db, keyService(db, ring), 'tenant-a')).toEqual(Array(24).fill(2));
    const status = await keys.status('tenant-a');
    expect(status.reencryption.state).toBe('DONE');
    expect(status.versions.map((v) => [v.version, v.secretVersionCount, v.retiredAt !== null])).toEqual([
      [1, 0, true],
      [2, 24, false],
    ]);
  });
});

describe('master key rotation', () => {
  it('re-wraps every tenant under the new master key while reads keep working; the old key can then go', async () => {
    const db = freshDb();
    const m1 = masterKey('m1');
    const m2 = masterKey('m2');
    const before = new MasterKeyring([m1], 'm1');
    const { keys, job } = keysWithJob(db, before);
    const tenants = ['tenant-a', 'tenant-b', 'tenant-c'];
    for (const tenantId of tenants) await seedSecrets(db, keys, tenantId, 3, 2);
    await keys.rotate('tenant-a', user); // tenant-a: v1 retired, v2 live
    await job.settled();
    const auditKeys = new Map<string, Buffer>();
    for (const chain of [...tenants, PLATFORM_CHAIN]) auditKeys.set(chain, await keys.auditKey(chain));

    const during = new MasterKeyring([m2, m1], 'm2');
    const audit = new RecordingAudit();
    const operator = keyService(db, during, audit);
    expect((await operator.masterKeyStatus()).keys).toEqual([
      { id: 'm2', inKeyring: true, wrappedKeyCount: 0 },
      { id: 'm1', inKeyring: true, wrappedKeyCount: 7 }, // 3 live DEKs + 4 audit keys
    ]);
    const reads = tenants.map((tenantId) => openAll(db, keyService(db, during), tenantId));
    const [result] = await Promise.all([operator.rewrapAll(user), ...reads]);
    expect(result).toEqual({ tenants: 4, rewrapped: 7, stopped: false });
    expect(await operator.rewrapAll(user)).toEqual({ tenants: 4, rewrapped: 0, stopped: false });
    expect(audit.events.map((e) => [e.action, e.tenantId])).toEqual(
      [...tenants, PLATFORM_CHAIN].sort().map((tenantId) => ['key.master_rewrapped', tenantId]),
    );
    expect((await operator.masterKeyStatus()).keys).toEqual([
      { id: 'm2', inKeyring: true, wrappedKeyCount: 7 },
      { id: 'm1', inKeyring: true, wrappedKeyCount: 0 },
    ]);

    const after = keyService(db, new MasterKeyring([m2], 'm2')); // m1 removed from the environment
    await expect(after.assertKeyringCoversStoredKeys()).resolves.toBeUndefined();
    expect(await openAll(db, after, 'tenant-a')).toEqual(Array(6).fill(2));
    for (const tenantId of ['tenant-b', 'tenant-c']) expect(await openAll(db, after, tenantId)).toEqual(Array(6).fill(1));
    for (const [chain, key] of auditKeys) expect((await after.auditKey(chain)).equals(key)).toBe(true);
  });

  it('a re-wrap stopped between storing a tenant\'s keys and auditing it is audited by the next run (regression: it was never audited)', async () => {
    const db = freshDb();
    const m1 = masterKey('m1');
    const keys = keyService(db, new MasterKeyring([m1], 'm1'));
    for (const tenantId of ['tenant-a', 'tenant-b']) await keys.activeDek(tenantId);
    // The process dies right after the first tenant's keys are stored (its audit append never lands).
    const dying: AuditSink = { append: () => Promise.reject(new Error('killed')) };
    const during = new MasterKeyring([masterKey('m2'), m1], 'm2');
    await expect(keyService(db, during, dying).rewrapAll(user)).rejects.toThrow('killed');
    const audit = new RecordingAudit();
    const result = await keyService(db, during, audit).rewrapAll(user);
    expect(result.rewrapped).toBe(2); // the tenant not reached before the stop (its DEK and audit key) ...
    const audited = audit.events.map((e) => [e.tenantId, (e.details as { rewrapped: number }).rewrapped]);
    // ... and the one stopped before its event: every tenant audited once, with its own count.
    expect(audited.sort()).toEqual([['tenant-a', 2], ['tenant-b', 2]]);
    expect(await keyService(db, during, audit).rewrapAll(user)).toEqual({ tenants: 2, rewrapped: 0, stopped: false });
    expect(audit.events).toHaveLength(2);
  });

  it('refuses to start when stored keys need a master key the ring lacks, naming it', async () => {
    const db = freshDb();
    const m1 = masterKey('m1');
    const old = keyService(db, new MasterKeyring([m1], 'm1'));
    await old.activeDek('tenant-a');
    await old.auditKey(PLATFORM_CHAIN);
    const missing = keyService(db, new MasterKeyring([masterKey('m2')], 'm2'));
    await expect(missing.assertKeyringCoversStoredKeys()).rejects.toThrow(/"m1" \(3 wrapped keys\).*VAULT_MASTER_KEYS/);
    expect((await missing.masterKeyStatus()).keys).toEqual([
      { id: 'm2', inKeyring: true, wrappedKeyCount: 0 },
      { id: 'm1', inKeyring: false, wrappedKeyCount: 3 },
    ]);
    await expect(missing.dek('tenant-a', 1)).rejects.toBeInstanceOf(UnknownMasterKeyError);
    await expect(keyService(db, new MasterKeyring([masterKey('m2'), m1], 'm2')).assertKeyringCoversStoredKeys()).resolves.toBeUndefined();
  });
});

describe('platform keys and the master keyring', () => {
  it('counts platform keys per master key; refuses to start when a kept platform key (TOTP) lost its master key, not for a replaceable one; rewrapPlatformKeys moves them', async () => {
    const db = freshDb();
    const m1 = masterKey('m1');
    const m2 = masterKey('m2');
    const old = new MasterKeyring([m1], 'm1');
    const platformKeys = new PlatformKeyRepository(db);
    for (const id of ['totp-secrets', 'login-failures']) await platformKeys.insert(id, old.wrap(randomBytes(32), platformKeyAad(id)), new Date());
    await keyService(db, old).activeDek('tenant-a'); // 1 DEK + 1 audit key under m1

    const audit = new RecordingAudit();
    const service = (keyring: MasterKeyring) =>
      new TenantKeyService({ db, keyring, logger, audit, sealedData: new SealedDataRegistry([secretSealedData]), replaceablePlatformKeyIds: ['login-failures'] });
    const both = service(new MasterKeyring([m2, m1], 'm2'));
    expect((await both.masterKeyStatus()).keys).toEqual([
      { id: 'm2', inKeyring: true, wrappedKeyCount: 0 },
      { id: 'm1', inKeyring: true, wrappedKeyCount: 4 }, // DEK, audit key, TOTP key, login-failure key
    ]);
    // Tenant keys re-wrapped but the platform keys not: m1 cannot go yet, and the check says so.
    await both.rewrapAll(user);
    expect((await both.masterKeyStatus()).keys.find((k) => k.id === 'm1')!.wrappedKeyCount).toBe(2);
    await expect(service(new MasterKeyring([m2], 'm2')).assertKeyringCoversStoredKeys()).rejects.toThrow(/"m1" \(1 wrapped keys\)/);

    // Only the replaceable login-failure key left under m1: startup goes on (the server replaces that key).
    await platformKeys.replace('totp-secrets', 'm1', new MasterKeyring([m2, m1], 'm2').wrap(randomBytes(32), platformKeyAad('totp-secrets')));
    await expect(service(new MasterKeyring([m2], 'm2')).assertKeyringCoversStoredKeys()).resolves.toBeUndefined();

    expect(await both.rewrapPlatformKeys(user)).toEqual({ rewrapped: 1, unreadable: [] });
    const platformEvents = audit.events.filter((e) => e.action === 'key.platform_rewrapped');
    expect(platformEvents.map((e) => [e.tenantId, e.details])).toEqual([[PLATFORM_CHAIN, { masterKeyId: 'm2', rewrapped: 1, unreadable: 0 }]]);
    expect(await both.rewrapPlatformKeys(user)).toEqual({ rewrapped: 0, unreadable: [] }); // nothing moved: nothing audited
    expect(audit.events.filter((e) => e.action === 'key.platform_rewrapped')).toHaveLength(1);
    expect((await both.masterKeyStatus()).keys).toEqual([
      { id: 'm2', inKeyring: true, wrappedKeyCount: 4 },
      { id: 'm1', inKeyring: true, wrappedKeyCount: 0 },
    ]);
  });
});

describe('key GraphQL types', () => {
  it('builds with the contract\'s operation names (descriptions: see schema.test.ts)', async () => {
    const schema = await buildSchema({ resolvers: [KeyResolver], validate: false });
    const sdl = printSchema(schema);
    expect(sdl).toMatch(/tenantKeyStatus: TenantKeyStatus!/);
    expect(sdl).toMatch(/rotateTenantKey: TenantKeyStatus!/);
    expect(sdl).toMatch(/rewrapTenantKeys: RewrapResult!/);
    expect(sdl).toMatch(/masterKeyStatus: MasterKeyStatus!/);
  });
});
