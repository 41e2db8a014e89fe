import type { Collection, Db } from 'mongodb';
import { Collections } from '../../db/collections.js';
import type { TenantCollection, TenantDocument, TenantScope } from '../../db/tenant-scope.js';
import type { Role } from '../../identity/roles.js';

export interface MembershipDoc extends TenantDocument {
  userId: string;
  role: Role;
  joinedAt: Date;
}

const membershipId = (tenantId: string, userId: string) => `${tenantId}:${userId}`;

/** One tenant's memberships. */
export class MembershipRepository {
  private readonly memberships: TenantCollection<MembershipDoc>;

  constructor(scope: TenantScope) {
    this.memberships = scope.collection<MembershipDoc>(Collections.memberships);
  }

  find(userId: string) {
    return this.memberships.findOne({ userId });
  }

  list() {
    return this.memberships.find({}, { sort: { joinedAt: 1, userId: 1 } }).toArray();
  }

  /** Throws a duplicate-key error when the user is already a member. */
  add(userId: string, role: Role): Promise<MembershipDoc> {
    return this.memberships.insertOne({
      _id: membershipId(this.memberships.tenantId, userId),
      userId,
      role,
      joinedAt: new Date(),
    });
  }

  /** Changes a role only if it is still `from`; returns whether it changed. */
  async changeRole(userId: string, from: Role, to: Role): Promise<boolean> {
    const result = await this.memberships.updateOne({ userId, role: from }, { $set: { role: to } });
    return result.modifiedCount === 1;
  }

  /** Removes a membership only if its role is still `role`. */
  async remove(userId: string, role: Role): Promise<boolean> {
    const result = await this.memberships.deleteOne({ userId, role });
    return result.deletedCount === 1;
  }
}

/** The one cross-tenant read: which tenants a user belongs to (needed at login). */
export class MembershipDirectory {
  private readonly memberships: Collection<MembershipDoc>;

  constructor(db: Db) {
    this.memberships = db.collection<MembershipDoc>(Collections.memberships);
  }

  ofUser(userId: string) {
    return this.memberships.find({ userId }).sort({ joinedAt: 1 }).toArray();
  }

  find(tenantId: string, userId: string) {
    return this.memberships.findOne({ _id: membershipId(tenantId, userId) });
  }
}
