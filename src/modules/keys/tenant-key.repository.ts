import type { Binary, Collection, Db, Filter } from 'mongodb';
import type { TenantDocument } from '../../db/tenant-scope.js';

export const TENANT_KEYS_COLLECTION = 'tenant_keys';

/** A copy of a stored Binary's bytes. */
export function toBuffer(binary: Binary): Buffer {
  return Buffer.from(binary.value());
}

export const REENCRYPTION_STATES = ['IDLE', 'RUNNING', 'DONE'] as const;
export type ReencryptionState = (typeof REENCRYPTION_STATES)[number];

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
  /** The DEK version every sealed value is being moved to. */
  targetVersion: number | null;
  done: number;
  total: number;
  /**
   * The SealedDataKind being walked (kinds are walked in registration order). null or absent:
   * the first kind (progress saved before kinds existed named secrets only, registered first).
   */
  kind?: string | null;
  /** Where the walk of `kind` continues: items are walked in _id order after it. */
  cursor: string | null;
  leaseUntil: Date | null;
  /** Which job run holds the lease. */
  leaseOwner: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** A re-encryption's resumable position: which kind, where in it, how many values are done. */
export interface ReencryptionProgress {
  kind: string | null;
  cursor: string | null;
  done: number;
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
  /**
   * A master-key re-wrap stored with its keys but not yet audited (`key.master_rewrapped`):
   * set in the same write as the re-wrapped keys, removed once the event is appended, so a
   * re-wrap killed in between is audited by the next run instead of never.
   */
  rewrapAudit?: RewrapAudit | null;
  revision: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface RewrapAudit {
  masterKeyId: string;
  rewrapped: number;
}

export const IDLE_REENCRYPTION: ReencryptionDoc = {
  state: 'IDLE',
  targetVersion: null,
  done: 0,
  total: 0,
  kind: null,
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
    // `_id` is the tenant id: an `_id`-only filter, which every engine serves from the primary key.
    return this.keys.findOne({ _id: tenantId });
  }

  /** Deletes the tenant's key document (every wrapped DEK and its audit key): crypto-shredding. */
  async delete(tenantId: string): Promise<number> {
    const result = await this.keys.deleteOne({ _id: tenantId, tenantId });
    return result.deletedCount;
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
  async setWrappedKeys(doc: TenantKeyDoc, deks: DekDoc[], auditKey: WrappedKeyDoc, rewrapAudit: RewrapAudit): Promise<boolean> {
    const result = await this.keys.updateOne(
      { _id: doc._id, tenantId: doc.tenantId, revision: doc.revision },
      { $set: { deks, auditKey, rewrapAudit, updatedAt: new Date() }, $inc: { revision: 1 } },
    );
    return result.matchedCount === 1;
  }

  /** The re-wrap's audit event is appended: forget it (unless a newer re-wrap replaced it meanwhile). */
  async clearRewrapAudit(tenantId: string, audited: RewrapAudit): Promise<void> {
    await this.keys.updateOne(
      { _id: tenantId, tenantId, 'rewrapAudit.masterKeyId': audited.masterKeyId, 'rewrapAudit.rewrapped': audited.rewrapped },
      { $set: { rewrapAudit: null } },
    );
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
  async saveProgress(tenantId: string, owner: string, target: number, progress: ReencryptionProgress, leaseMs: number): Promise<boolean> {
    const result = await this.keys.updateOne(this.leaseFilter(tenantId, owner, target), {
      $set: {
        'reencryption.kind': progress.kind,
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
