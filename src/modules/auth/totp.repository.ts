import type { Binary, Collection, Db } from 'mongodb';
import { isDuplicateKey } from '../../db/mongo-errors.js';

/** One document per user with a second factor, pending or active (`_id` is the user id). */
export const TOTP_COLLECTION = 'user_totp';
/** Pending second-factor logins: one document per challenge (`_id` is the SHA-256 of the challenge token). */
export const LOGIN_CHALLENGES_COLLECTION = 'login_challenges';

export type TotpState = 'PENDING' | 'ACTIVE';

export interface TotpDoc {
  /** The user id. */
  _id: string;
  state: TotpState;
  /** Random id of this enrolment, bound into the sealed secret's AAD. */
  enrolmentId: string;
  /** The base32 secret's bytes, sealed with AES-256-GCM under the TOTP platform key (totp-key.ts). */
  sealedSecret: Binary;
  /** The last time step (Unix time / 30 s) whose code was accepted; -1 before any. A code is accepted only for a later step. */
  lastUsedStep: number;
  /** SHA-256 (hex) of each recovery code with the user id → still usable. Empty while pending. */
  recoveryCodes: Record<string, boolean>;
  createdAt: Date;
  confirmedAt: Date | null;
}

export interface LoginChallengeDoc {
  /** SHA-256 (hex) of the challenge token; the token itself is never stored. */
  _id: string;
  userId: string;
  /** The tenant the login asked for (or chose), so completing it lands in the same one. */
  tenantId: string | null;
  /** SHA-256 (hex) of the client address and user agent that passed the password step. */
  clientHash: string;
  createdAt: Date;
  expiresAt: Date;
  /**
   * Codes tried on this challenge so far. Each try reserves its attempt (a conditional `$inc`)
   * before its code is checked, so concurrent tries never exceed the cap. Absent on challenges
   * issued before the cap existed: counted as 0.
   */
  attempts?: number;
}

/** Users' TOTP enrolments. Every state change is one conditional single-document update. */
export class TotpRepository {
  private readonly totp: Collection<TotpDoc>;

  constructor(db: Db) {
    this.totp = db.collection<TotpDoc>(TOTP_COLLECTION);
  }

  find(userId: string) {
    return this.totp.findOne({ _id: userId });
  }

  /** Stores a new pending enrolment, replacing a pending one; false when an active one exists (never replaced). */
  async startPending(doc: TotpDoc): Promise<boolean> {
    const replaced = await this.totp.replaceOne({ _id: doc._id, state: 'PENDING' }, doc);
    if (replaced.matchedCount === 1) return true;
    try {
      await this.totp.insertOne(doc);
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false; // an active enrolment (or a concurrent one) is there
      throw error;
    }
  }

  /** Activates the pending enrolment `enrolmentId` with the accepted step and recovery code hashes; false when it changed meanwhile. */
  async activate(userId: string, enrolmentId: string, step: number, recoveryCodes: Record<string, boolean>, now: Date): Promise<boolean> {
    const result = await this.totp.updateOne(
      { _id: userId, state: 'PENDING', enrolmentId },
      { $set: { state: 'ACTIVE', lastUsedStep: step, recoveryCodes, confirmedAt: now } },
    );
    return result.modifiedCount === 1;
  }

  /**
   * Records `step` as used when it is later than the last used one: of two concurrent
   * uses of one code exactly one succeeds. Whether this call accepted it.
   */
  async useStep(userId: string, enrolmentId: string, step: number): Promise<boolean> {
    const result = await this.totp.updateOne({ _id: userId, state: 'ACTIVE', enrolmentId, lastUsedStep: { $lt: step } }, { $set: { lastUsedStep: step } });
    return result.modifiedCount === 1;
  }

  /** Marks one recovery code used if it is still usable; whether this call used it. */
  async useRecoveryCode(userId: string, codeHash: string): Promise<boolean> {
    const field = `recoveryCodes.${codeHash}`;
    const result = await this.totp.updateOne({ _id: userId, state: 'ACTIVE', [field]: true }, { $set: { [field]: false } });
    return result.modifiedCount === 1;
  }

  /** Removes the user's enrolment (disableTotp, account closure); whether there was one. */
  async delete(userId: string): Promise<boolean> {
    const result = await this.totp.deleteOne({ _id: userId });
    return result.deletedCount === 1;
  }
}

/** Second-factor login challenges. */
export class LoginChallengeRepository {
  private readonly challenges: Collection<LoginChallengeDoc>;

  constructor(db: Db) {
    this.challenges = db.collection<LoginChallengeDoc>(LOGIN_CHALLENGES_COLLECTION);
  }

  /** Stores a challenge and drops the user's expired ones. */
  async create(doc: LoginChallengeDoc): Promise<void> {
    await this.challenges.deleteMany({ userId: doc.userId, expiresAt: { $lte: doc.createdAt } });
    await this.challenges.insertOne(doc);
  }

  find(id: string) {
    return this.challenges.findOne({ _id: id });
  }

  /**
   * Reserves one code attempt on an unexpired challenge that has fewer than `max`: one
   * conditional `$inc` (no read-then-write), so of any number of concurrent tries at most
   * `max` ever get a reservation. The attempt number reserved (1..max), or null when the
   * challenge is gone, expired or out of attempts.
   */
  async reserveAttempt(id: string, now: Date, max: number): Promise<number | null> {
    const after = await this.challenges.findOneAndUpdate(
      { _id: id, expiresAt: { $gt: now }, $or: [{ attempts: { $lt: max } }, { attempts: { $exists: false } }] },
      { $inc: { attempts: 1 } },
      { returnDocument: 'after' },
    );
    return after ? (after.attempts ?? 1) : null;
  }

  /** Gives a reserved attempt back when no code was actually judged (the client was locked out, or a fault). */
  async releaseAttempt(id: string): Promise<void> {
    await this.challenges.updateOne({ _id: id, attempts: { $gt: 0 } }, { $inc: { attempts: -1 } });
  }

  /** Deletes a challenge whatever its state (out of attempts); whether this call did. */
  async delete(id: string): Promise<boolean> {
    const result = await this.challenges.deleteOne({ _id: id });
    return result.deletedCount === 1;
  }

  /** Uses the challenge up (deletes it) while unexpired; whether this call did (of two concurrent ones, one). */
  async consume(id: string, now: Date): Promise<boolean> {
    const result = await this.challenges.deleteOne({ _id: id, expiresAt: { $gt: now } });
    return result.deletedCount === 1;
  }

  /** Removes every challenge of a user (account closure, disabling the second factor). */
  async deleteAllOfUser(userId: string): Promise<number> {
    const result = await this.challenges.deleteMany({ userId });
    return result.deletedCount;
  }
}
