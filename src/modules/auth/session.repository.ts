import type { Collection, Db } from 'mongodb';
import { Collections } from '../../db/collections.js';

export interface SessionDoc {
  _id: string;
  userId: string;
  tenantId: string | null;
  /**
   * Bumped on every tenant switch and carried in access tokens (claim `sw`): tokens
   * issued before the latest switch are refused even when the session is back in
   * their tenant. Absent on sessions created before the field existed: read as 0.
   */
  switchCount?: number;
  refreshTokenHash: string;
  /** Hashes of refresh tokens already rotated away; presenting one again is reuse. */
  previousRefreshTokenHashes: string[];
  createdAt: Date;
  lastUsedAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  revokedReason: string | null;
  ip: string | null;
  userAgent: string | null;
  /**
   * How the user proved who they are in this session (RFC 8176 names): `pwd`, plus `otp` once a
   * second factor was used (completeLogin, or confirmTotp in this session). Absent on sessions
   * created before the field existed: read as ["pwd"]. Carried in access tokens as `amr`.
   */
  amr?: string[];
}

const KEEP_PREVIOUS_HASHES = 50;

/** Login sessions; each holds the hash of its current refresh token. */
export class SessionRepository {
  private readonly sessions: Collection<SessionDoc>;

  constructor(db: Db) {
    this.sessions = db.collection<SessionDoc>(Collections.sessions);
  }

  async create(session: SessionDoc): Promise<void> {
    await this.sessions.insertOne(session);
  }

  findById(id: string) {
    return this.sessions.findOne({ _id: id });
  }

  listActive(userId: string, now: Date) {
    return this.sessions
      .find({ userId, revokedAt: null, expiresAt: { $gt: now } })
      .sort({ createdAt: -1 })
      .limit(200)
      .toArray();
  }

  /**
   * Swaps the refresh token hash if `currentHash` is still current and the session
   * is live; exactly one of two concurrent callers can win. The tenant and switch
   * counter change in the same update, so a token can never be issued for a tenant
   * the session did not atomically move to.
   */
  async rotate(
    session: SessionDoc,
    nextHash: string,
    changes: { tenantId?: string | null; switchCount?: number },
    now: Date,
  ): Promise<boolean> {
    // The filter pins the current hash, so the list (and the switch counter the caller
    // derived `changes.switchCount` from) read with `session` is still current.
    const previous = [...session.previousRefreshTokenHashes, session.refreshTokenHash].slice(-KEEP_PREVIOUS_HASHES);
    const result = await this.sessions.updateOne(
      { _id: session._id, refreshTokenHash: session.refreshTokenHash, revokedAt: null, expiresAt: { $gt: now } },
      { $set: { refreshTokenHash: nextHash, previousRefreshTokenHashes: previous, lastUsedAt: now, ...changes } },
    );
    return result.modifiedCount === 1;
  }

  /** Records the session's authentication methods (confirmTotp upgrades the current session). */
  async setAmr(id: string, amr: string[]): Promise<void> {
    await this.sessions.updateOne({ _id: id }, { $set: { amr } });
  }

  /** Sets the authentication methods of every session of a user (disabling the second factor). */
  async setAmrOfUser(userId: string, amr: string[]): Promise<void> {
    await this.sessions.updateMany({ userId }, { $set: { amr } });
  }

  async revoke(id: string, reason: string): Promise<boolean> {
    const result = await this.sessions.updateOne(
      { _id: id, revokedAt: null },
      { $set: { revokedAt: new Date(), revokedReason: reason } },
    );
    return result.modifiedCount === 1;
  }

  async revokeAllOfUser(userId: string, reason: string, exceptSessionId?: string): Promise<number> {
    const filter = exceptSessionId
      ? { userId, revokedAt: null, _id: { $ne: exceptSessionId } }
      : { userId, revokedAt: null };
    const result = await this.sessions.updateMany(filter, { $set: { revokedAt: new Date(), revokedReason: reason } });
    return result.modifiedCount;
  }

  /** Revokes every session scoped to a deleted tenant and detaches it from the tenant; returns how many. */
  async detachTenant(tenantId: string, reason: string): Promise<number> {
    const now = new Date();
    await this.sessions.updateMany({ tenantId, revokedAt: null }, { $set: { revokedAt: now, revokedReason: reason } });
    const result = await this.sessions.updateMany({ tenantId }, { $set: { tenantId: null } });
    return result.modifiedCount;
  }

  /** Every session of a user, live or ended, newest first (at most `limit`; for exportMyData). */
  listAllOfUser(userId: string, limit: number) {
    return this.sessions.find({ userId }).sort({ createdAt: -1 }).limit(limit).toArray();
  }

  /** Deletes every session document of a user (their account is deleted; sessions hold IP addresses and user agents). */
  async deleteAllOfUser(userId: string): Promise<number> {
    const result = await this.sessions.deleteMany({ userId });
    return result.deletedCount;
  }

  async revokeAllOfUserInTenant(userId: string, tenantId: string, reason: string): Promise<number> {
    const result = await this.sessions.updateMany(
      { userId, tenantId, revokedAt: null },
      { $set: { revokedAt: new Date(), revokedReason: reason } },
    );
    return result.modifiedCount;
  }
}
