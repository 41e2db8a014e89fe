import type { Collection, Db } from 'mongodb';
import { Collections } from '../../db/collections.js';
import type { TenantCollection, TenantDocument, TenantScope } from '../../db/tenant-scope.js';
import type { Role } from '../../identity/roles.js';

export interface InvitationDoc extends TenantDocument {
  email: string;
  role: Role;
  tokenHash: string;
  invitedBy: string;
  createdAt: Date;
  expiresAt: Date;
  acceptedAt: Date | null;
  acceptedBy: string | null;
}

/** One tenant's invitations. */
export class InvitationRepository {
  private readonly invitations: TenantCollection<InvitationDoc>;

  constructor(scope: TenantScope) {
    this.invitations = scope.collection<InvitationDoc>(Collections.invitations);
  }

  create(invitation: Omit<InvitationDoc, 'tenantId'>) {
    return this.invitations.insertOne(invitation);
  }

  listPending(now: Date) {
    return this.invitations
      .find({ acceptedAt: null, expiresAt: { $gt: now } }, { sort: { createdAt: -1 } })
      .toArray();
  }

  /** Withdraws every pending invitation `userId` sent (they left the tenant). */
  async revokeAllBy(userId: string): Promise<number> {
    const result = await this.invitations.deleteMany({ invitedBy: userId, acceptedAt: null });
    return result.deletedCount;
  }

  /** An invitation not accepted yet (expired ones included), or null. */
  findPending(id: string) {
    return this.invitations.findOne({ _id: id, acceptedAt: null });
  }

  async revoke(id: string): Promise<boolean> {
    const result = await this.invitations.deleteOne({ _id: id, acceptedAt: null });
    return result.deletedCount === 1;
  }

  /** Marks a pending, unexpired invitation as used; only one caller can win. */
  async claim(id: string, userId: string | null, now: Date): Promise<boolean> {
    const result = await this.invitations.updateOne(
      { _id: id, acceptedAt: null, expiresAt: { $gt: now } },
      { $set: { acceptedAt: now, acceptedBy: userId } },
    );
    return result.modifiedCount === 1;
  }

  async setAcceptedBy(id: string, userId: string): Promise<void> {
    await this.invitations.updateOne({ _id: id }, { $set: { acceptedBy: userId } });
  }

  async release(id: string): Promise<void> {
    await this.invitations.updateOne({ _id: id }, { $set: { acceptedAt: null, acceptedBy: null } });
  }
}

/** Finds an invitation by the id carried in its token, before the tenant is known. */
export class InvitationDirectory {
  private readonly invitations: Collection<InvitationDoc>;

  constructor(db: Db) {
    this.invitations = db.collection<InvitationDoc>(Collections.invitations);
  }

  findById(id: string) {
    return this.invitations.findOne({ _id: id });
  }
}
