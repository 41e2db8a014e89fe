import { randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { Collections } from '../../db/collections.js';

export const TENANT_STATUSES = ['ACTIVE', 'SUSPENDED'] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

export interface TenantDoc {
  _id: string;
  name: string;
  slug: string;
  status: TenantStatus;
  /** Kept in step with OWNER memberships so the last owner can be protected atomically. */
  ownerCount: number;
  createdAt: Date;
  suspendedAt: Date | null;
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

  setStatus(id: string, status: TenantStatus) {
    return this.tenants.findOneAndUpdate(
      { _id: id },
      { $set: { status, suspendedAt: status === 'SUSPENDED' ? new Date() : null } },
      { returnDocument: 'after' },
    );
  }

  /** Takes one owner away unless it is the last; false when it was the last. */
  async releaseOwner(id: string): Promise<boolean> {
    const result = await this.tenants.updateOne({ _id: id, ownerCount: { $gt: 1 } }, { $inc: { ownerCount: -1 } });
    return result.modifiedCount === 1;
  }

  async addOwner(id: string): Promise<void> {
    await this.tenants.updateOne({ _id: id }, { $inc: { ownerCount: 1 } });
  }
}
