import { randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { Collections } from '../../db/collections.js';
import type { Role } from '../../identity/roles.js';

export const TENANT_STATUSES = ['ACTIVE', 'SUSPENDED', 'DELETED'] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

/**
 * The steps of deleteTenant, in order (tenant-deletion.service.ts): the plan is stored
 * (PENDING), keys destroyed (KEYS_DESTROYED), status DELETED (MARKED_DELETED), documents
 * purged (PURGED), receipt signed (DONE). Each step is recorded with a compare-and-set on
 * the state, so any instance carries a deletion on from where it stopped.
 */
export const TENANT_DELETION_STATES = ['PENDING', 'KEYS_DESTROYED', 'MARKED_DELETED', 'PURGED', 'DONE'] as const;
export type TenantDeletionState = (typeof TENANT_DELETION_STATES)[number];

/** Key material destroyed by a tenant deletion: versions and counts, never bytes. */
export interface DestroyedKeys {
  /** DEK versions whose wrapped key was deleted. */
  dekVersions: number[];
  /** Whether the tenant's audit-chain key was deleted. */
  auditKey: boolean;
  /** Wrapped keys deleted per KEYS collection (subject keys, the blind-index key). */
  wrappedKeys: Record<string, number>;
}

/** The deletion of a tenant, stored on its document so it can be resumed; its receipt stays here. */
export interface TenantDeletionDoc {
  state: TenantDeletionState;
  /** The OWNER who asked for it (a user id). */
  requestedBy: string;
  receiptId: string;
  startedAt: Date;
  keysDestroyed: DestroyedKeys | null;
  /** Documents purged per collection. */
  recordsRemoved: Record<string, number>;
  completedAt: Date | null;
  /** The signed receipt (compact JWS), once DONE. */
  receipt: string | null;
}

export interface TenantDoc {
  _id: string;
  name: string;
  slug: string;
  status: TenantStatus;
  /** Kept in step with OWNER memberships so the last owner can be protected atomically. */
  ownerCount: number;
  createdAt: Date;
  suspendedAt: Date | null;
  /** Set when deleteTenant starts; the deleted tenant's document stays as a tombstone with it. */
  deletion?: TenantDeletionDoc;
  deletedAt?: Date | null;
  /** Roles that must use a second factor (updateTwoFactorPolicy); absent: none. */
  requireTwoFactorFor?: Role[];
}

/** Tenants are the roots of tenancy, so their own collection is global. */
export class TenantRepository {
  private readonly tenants: Collection<TenantDoc>;

  constructor(db: Db) {
    this.tenants = db.collection<TenantDoc>(Collections.tenants);
  }

  findById(id: string) {
    return this.tenants.findOne({ _id: id });
  }

  findManyByIds(ids: string[]) {
    return this.tenants.find({ _id: { $in: ids } }).toArray();
  }

  list(limit: number) {
    return this.tenants.find({}).sort({ createdAt: -1, _id: 1 }).limit(limit).toArray();
  }

  /** Inserts a tenant with one owner; throws a duplicate-key error when the slug is taken. */
  async create(name: string, slug: string): Promise<TenantDoc> {
    const tenant: TenantDoc = {
      _id: randomUUID(),
      name,
      slug,
      status: 'ACTIVE',
      ownerCount: 1,
      createdAt: new Date(),
      suspendedAt: null,
    };
    await this.tenants.insertOne(tenant);
    return tenant;
  }

  async delete(id: string): Promise<void> {
    await this.tenants.deleteOne({ _id: id });
  }

  /** The ids of SUSPENDED tenants (webhook deliveries are held for them). */
  async suspendedIds(): Promise<string[]> {
    const docs = await this.tenants.find({ status: 'SUSPENDED' }, { projection: { _id: 1 } }).toArray();
    return docs.map((doc) => doc._id);
  }

  /** Suspends or reactivates; never a tenant being deleted (null then, as for an unknown one). */
  setStatus(id: string, status: Exclude<TenantStatus, 'DELETED'>) {
    return this.tenants.findOneAndUpdate(
      { _id: id, status: { $in: ['ACTIVE', 'SUSPENDED'] }, deletion: { $exists: false } },
      { $set: { status, suspendedAt: status === 'SUSPENDED' ? new Date() : null } },
      { returnDocument: 'after' },
    );
  }

  /** Stores the deletion plan unless one exists; the tenant document after, or null when another call started first. */
  startDeletion(id: string, deletion: TenantDeletionDoc) {
    return this.tenants.findOneAndUpdate({ _id: id, deletion: { $exists: false } }, { $set: { deletion } }, { returnDocument: 'after' });
  }

  /** Moves the deletion from `from` to `set.state` (compare-and-set); the document after, or null when it had moved on. */
  advanceDeletion(id: string, from: TenantDeletionState, set: Partial<TenantDeletionDoc> & { state: TenantDeletionState }, tenant: Partial<Pick<TenantDoc, 'status' | 'deletedAt' | 'name'>> = {}) {
    const fields = Object.fromEntries(Object.entries(set).map(([key, value]) => [`deletion.${key}`, value]));
    return this.tenants.findOneAndUpdate({ _id: id, 'deletion.state': from }, { $set: { ...fields, ...tenant } }, { returnDocument: 'after' });
  }

  /** Adds to the count of documents purged from `collection` (recorded as each collection is purged). */
  async countPurged(id: string, collection: string, count: number): Promise<void> {
    await this.tenants.updateOne({ _id: id }, { $inc: { [`deletion.recordsRemoved.${collection}`]: count } });
  }

  /** Tenants whose deletion has not finished (resumed at start). */
  listUnfinishedDeletions(): Promise<TenantDoc[]> {
    return this.tenants.find({ 'deletion.state': { $in: TENANT_DELETION_STATES.filter((s) => s !== 'DONE') } }).limit(1000).toArray();
  }

  /** Takes one owner away unless it is the last; false when it was the last. */
  async releaseOwner(id: string): Promise<boolean> {
    const result = await this.tenants.updateOne({ _id: id, ownerCount: { $gt: 1 } }, { $inc: { ownerCount: -1 } });
    return result.modifiedCount === 1;
  }

  /** Sets the roles that must use a second factor; the tenant after, or null when it is not active. */
  setTwoFactorPolicy(id: string, roles: Role[]) {
    return this.tenants.findOneAndUpdate({ _id: id, status: 'ACTIVE' }, { $set: { requireTwoFactorFor: roles } }, { returnDocument: 'after' });
  }

  async addOwner(id: string): Promise<void> {
    await this.tenants.updateOne({ _id: id }, { $inc: { ownerCount: 1 } });
  }
}
