import type { Collection, Db } from 'mongodb';
import { isDuplicateKey } from '../../db/mongo-errors.js';

export const LOGIN_FAILURES_COLLECTION = 'login_failures';

/**
 * One failed-login counter. `_id` is an HMAC, so the collection names no email and no
 * address: `a:` + HMAC(email) counts failures against an email from anywhere (the
 * account-wide backoff), `p:` + HMAC(email, client address) counts them from one address
 * (the lock). Counters exist for any email tried, whether or not it has an account.
 */
export interface LoginFailureDoc {
  _id: string;
  failures: number;
  lastFailureAt: Date;
  lockedUntil: Date | null;
  /** After this the counter is void (queries ignore it, a sweep deletes it). */
  expiresAt: Date;
  /** On a turn document (`t:` + the pair id, LoginFailures.takeTurn): who holds it, until `expiresAt`. */
  owner?: string;
}

/** The failed-login counters (a platform collection, keyed by HMAC ids; no tenant data). */
export class LoginFailureRepository {
  private readonly docs: Collection<LoginFailureDoc>;
  private indexed: Promise<void> | undefined;

  constructor(db: Db) {
    this.docs = db.collection<LoginFailureDoc>(LOGIN_FAILURES_COLLECTION);
  }

  findMany(ids: string[]): Promise<LoginFailureDoc[]> {
    return this.docs.find({ _id: { $in: ids } }).toArray();
  }

  /** Counters among `ids` whose time ran out start over. */
  async resetExpired(ids: string[], now: Date): Promise<void> {
    await this.docs.updateMany({ _id: { $in: ids }, expiresAt: { $lte: now } }, { $set: { failures: 0, lockedUntil: null } });
  }

  /** Counts one failure (creating the counter), pushing its expiry to `expiresAt`; the counter after. */
  bump(id: string, now: Date, expiresAt: Date): Promise<LoginFailureDoc | null> {
    return this.docs.findOneAndUpdate(
      { _id: id },
      { $inc: { failures: 1 }, $set: { lastFailureAt: now, expiresAt }, $setOnInsert: { lockedUntil: null } },
      { upsert: true, returnDocument: 'after' },
    );
  }

  /** Locks the counter until `until` if it still has `minFailures` or more (and restarts its count); whether it did. */
  async lock(id: string, minFailures: number, until: Date): Promise<boolean> {
    const locked = await this.docs.updateOne({ _id: id, failures: { $gte: minFailures } }, { $set: { lockedUntil: until, failures: 0, expiresAt: until } });
    return locked.modifiedCount === 1;
  }

  /**
   * Takes the turn document `id` for `owner` until `until` when nobody holds it or its holder's
   * time ran out (one conditional update, or an insert when there is none); whether it did.
   */
  async takeTurn(id: string, owner: string, now: Date, until: Date): Promise<boolean> {
    const taken = await this.docs.updateOne({ _id: id, expiresAt: { $lte: now } }, { $set: { owner, expiresAt: until } });
    if (taken.modifiedCount === 1) return true;
    try {
      await this.docs.insertOne({ _id: id, failures: 0, lastFailureAt: now, lockedUntil: null, expiresAt: until, owner });
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false; // held by another try
      throw error;
    }
  }

  /** Ends `owner`'s turn (deletes its document, if still theirs). */
  async endTurn(id: string, owner: string): Promise<void> {
    await this.docs.deleteOne({ _id: id, owner });
  }

  async delete(id: string): Promise<void> {
    await this.docs.deleteOne({ _id: id });
  }

  /** Deletes void counters (creating the expiry index first, once). */
  async sweep(now: Date): Promise<void> {
    this.indexed ??= this.docs.createIndexes([{ key: { expiresAt: 1 }, name: 'expires' }]).then(() => undefined);
    try {
      await this.indexed;
      await this.docs.deleteMany({ expiresAt: { $lte: now } });
    } catch (error) {
      this.indexed = undefined; // create the index again on the next sweep
      throw error;
    }
  }
}
