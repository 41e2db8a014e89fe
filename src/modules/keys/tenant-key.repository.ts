import type { Binary, Collection, Db, Filter } from 'mongodb';
import { TenantScope, type TenantCollection, type TenantDocument } from '../../db/tenant-scope.js';
import { SECRETS_COLLECTION, type SecretDoc, type SecretVersionDoc } from '../secrets/secret.document.js';

export const TENANT_KEYS_COLLECTION = 'tenant_keys';

/** A copy of a stored Binary's bytes. */
export function toBuffer(binary: Binary): Buffer {
  return Buffer.from(binary.value());
}

export type ReencryptionState = 'IDLE' | 'RUNNING' | 'DONE';

/** A data key wrapped (AES-256-GCM) under the master key `masterKeyId`. */
export interface WrappedKeyDoc {
  wrapped: Binary;
  masterKeyId: string;
  createdAt: Date;
}

/** One tenant DEK version; `wrapped` is null once retired (nothing uses it any more). */
export interface DekDoc {
  version: number;
  wrapped: Binary | null;
  masterKeyId: string;
  createdAt: Date;
  retiredAt: Date | null;
}

export interface ReencryptionDoc {
  state: ReencryptionState;
  /** The DEK version every secret version is being moved to. */
  targetVersion: number | null;
  done: number;
  total: number;
  /** The last secret _id processed (secrets are walked in _id order). */
  cursor: string | null;
  leaseUntil: Date | null;
  /** Which job run holds the lease. */
  leaseOwner: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/**
 * All key material of one tenant (or of the platform audit chain) in ONE
 * document, `_id` = tenantId, so every change is one compare-and-set on `revision`.
 */
export interface TenantKeyDoc extends TenantDocument {
  /** 0 for the platform audit chain, which has no DEKs. */
  activeDekVersion: number;
  deks: DekDoc[];
  auditKey: WrappedKeyDoc;
  reencryption: ReencryptionDoc;
  revision: number;
  createdAt: Date;
  updatedAt: Date;
}

export const IDLE_REENCRYPTION: ReencryptionDoc = {
  state: 'IDLE',
  targetVersion: null,
  done: 0,
  total: 0,
  cursor: null,
  leaseUntil: null,
  leaseOwner: null,
  startedAt: null,
  finishedAt: null,
};

/** tenant_keys is read across tenants (master key rewrap, startup checks), so it is a global collection keyed by tenant. */
export class TenantKeyRepository {
  private readonly keys: Collection<TenantKeyDoc>;

  constructor(db: Db) {
    this.keys = db.collection<TenantKeyDoc>(TENANT_KEYS_COLLECTION);
  }

  find(tenantId: string): Promise<TenantKeyDoc | null> {
    return this.keys.findOne({ _id: tenantId, tenantId });
  }

  /** Throws a duplicate-key error when the tenant already has its document. */
  async insert(doc: TenantKeyDoc): Promise<void> {
    await this.keys.insertOne(doc);
  }

  /** The next `limit` documents after `after`, in _id order (for walks over every tenant). */
  page(after: string | null, limit: number): Promise<TenantKeyDoc[]> {
    return this.keys
      .find(after === null ? {} : { _id: { $gt: after } })
      .sort({ _id: 1 })
      .limit(limit)
      .toArray();
  }

  listRunning(): Promise<TenantKeyDoc[]> {
    return this.keys.find({ 'reencryption.state': 'RUNNING' }).sort({ _id: 1 }).toArray();
  }

  /** Adds the new DEK and starts re-encryption, unless the document changed or a re-encryption is running. */
  async startRotation(doc: TenantKeyDoc, dek: DekDoc, reencryption: ReencryptionDoc): Promise<boolean> {
    const result = await this.keys.updateOne(
      { _id: doc._id, tenantId: doc.tenantId, revision: doc.revision, 'reencryption.state': { $ne: 'RUNNING' } },
      {
        $set: { activeDekVersion: dek.version, deks: [...doc.deks, dek], reencryption, updatedAt: new Date() },
        $inc: { revision: 1 },
      },
    );
    return result.matchedCount === 1;
  }

  /** Replaces the wrapped key material if the document is still at `revision`. */
  async setWrappedKeys(doc: TenantKeyDoc, deks: DekDoc[], auditKey: WrappedKeyDoc): Promise<boolean> {
    const result = await this.keys.updateOne(
      { _id: doc._id, tenantId: doc.tenantId, revision: doc.revision },
      { $set: { deks, auditKey, updatedAt: new Date() }, $inc: { revision: 1 } },
    );
    return result.matchedCount === 1;
  }

  /** Takes the re-encryption lease if it is free, expired or already `owner`'s; returns the document when taken. */
  acquireLease(tenantId: string, owner: string, leaseMs: number): Promise<TenantKeyDoc | null> {
    const now = new Date();
    return this.keys.findOneAndUpdate(
      {
        _id: tenantId,
        tenantId,
        'reencryption.state': 'RUNNING',
        $or: [{ 'reencryption.leaseUntil': null }, { 'reencryption.leaseUntil': { $lt: now } }, { 'reencryption.leaseOwner': owner }],
      },
      { $set: { 'reencryption.leaseUntil': new Date(now.getTime() + leaseMs), 'reencryption.leaseOwner': owner } },
      { returnDocument: 'after' },
    );
  }

  /** Records progress and renews the lease; false when `owner` no longer holds it. */
  async saveProgress(tenantId: string, owner: string, target: number, progress: { cursor: string | null; done: number }, leaseMs: number): Promise<boolean> {
    const result = await this.keys.updateOne(this.leaseFilter(tenantId, owner, target), {
      $set: {
        'reencryption.cursor': progress.cursor,
        'reencryption.done': progress.done,
        'reencryption.leaseUntil': new Date(Date.now() + leaseMs),
      },
    });
    return result.matchedCount === 1;
  }

  /** Retires DEKs and marks the re-encryption DONE, if `owner` holds the lease and the document is still at `revision`. */
  async finish(doc: TenantKeyDoc, owner: string, deks: DekDoc[]): Promise<boolean> {
    const target = doc.reencryption.targetVersion ?? 0;
    const result = await this.keys.updateOne(
      { ...this.leaseFilter(doc._id, owner, target), revision: doc.revision },
      {
        $set: {
          deks,
          'reencryption.state': 'DONE',
          'reencryption.done': doc.reencryption.total,
          'reencryption.leaseUntil': null,
          'reencryption.leaseOwner': null,
          'reencryption.finishedAt': new Date(),
          updatedAt: new Date(),
        },
        $inc: { revision: 1 },
      },
    );
    return result.matchedCount === 1;
  }

  private leaseFilter(tenantId: string, owner: string, target: number): Filter<TenantKeyDoc> {
    return {
      _id: tenantId,
      tenantId,
      'reencryption.state': 'RUNNING',
      'reencryption.leaseOwner': owner,
      'reencryption.targetVersion': target,
    };
  }
}

/** What the key module reads of a secret. */
export type SecretKeyView = Pick<SecretDoc, '_id' | 'versions' | 'revision'>;

const KEY_VIEW = { _id: 1, versions: 1, revision: 1 } as const;

/** The key module's view of one tenant's secrets: which DEK sealed what, and re-sealing in place. */
export class SecretKeyUsage {
  private readonly secrets: TenantCollection<SecretDoc>;
  private readonly raw: Collection<SecretDoc>;

  constructor(db: Db, readonly tenantId: string) {
    this.secrets = new TenantScope(db, tenantId).collection<SecretDoc>(SECRETS_COLLECTION);
    this.raw = db.collection<SecretDoc>(SECRETS_COLLECTION);
  }

  /** Non-destroyed secret versions per DEK version. */
  async countByDek(): Promise<Map<number, number>> {
    const rows = await this.raw
      .aggregate<{ _id: number; count: number }>([
        { $match: { tenantId: this.tenantId } },
        { $unwind: '$versions' },
        { $match: { 'versions.ciphertext': { $ne: null } } },
        { $group: { _id: '$versions.dekVersion', count: { $sum: 1 } } },
      ])
      .toArray();
    return new Map(rows.map((row) => [row._id, row.count]));
  }

  /** Ids of secrets holding a non-destroyed version not sealed with `target` (at most `limit`, in _id order). */
  async staleIds(target: number, limit: number): Promise<string[]> {
    const rows = await this.raw
      .aggregate<{ _id: string }>([
        { $match: { tenantId: this.tenantId } },
        { $unwind: '$versions' },
        { $match: { 'versions.ciphertext': { $ne: null }, 'versions.dekVersion': { $ne: target } } },
        { $group: { _id: '$_id' } },
        { $sort: { _id: 1 } },
        { $limit: limit },
      ])
      .toArray();
    return rows.map((row) => row._id);
  }

  /** The next `limit` secrets after `cursor`, in _id order. */
  batchAfter(cursor: string | null, limit: number): Promise<SecretKeyView[]> {
    return this.secrets.find(cursor === null ? {} : { _id: { $gt: cursor } }, { sort: { _id: 1 }, limit, projection: KEY_VIEW }).toArray();
  }

  findOne(id: string): Promise<SecretKeyView | null> {
    return this.secrets.findOne({ _id: id }, { projection: KEY_VIEW });
  }

  /** Writes re-sealed versions if nobody changed the secret since `revision` was read. */
  async replaceVersions(secret: SecretKeyView, versions: SecretVersionDoc[]): Promise<boolean> {
    const result = await this.secrets.updateOne({ _id: secret._id, revision: secret.revision }, { $set: { versions }, $inc: { revision: 1 } });
    return result.matchedCount === 1;
  }
}
