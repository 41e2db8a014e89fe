import type { Db } from 'mongodb';

/**
 * rate-limiter-flexible's documents (one per limited key and window): `key` is
 * `<limiter>:<what>:<client address or user id>`, `points` the attempts counted, `expire` the
 * window's end. Written only by the library's RateLimiterMongo (auth/throttle.ts).
 */
export const RATE_LIMITS_COLLECTION = 'rate_limits';

export interface RateLimitDoc {
  key: string;
  points: number;
  expire: Date | null;
}

/**
 * The rate-limit windows' sweep (jobs/rate-limit-sweep.job.ts, every minute). FerretDB v1 has no
 * TTL index, so an ended window stays until this sweep; the library's queries ignore it (`expire > now`) and its upsert
 * replaces it in place when the same key comes back (the unique `key` index turns the
 * upsert into a duplicate-key error, which the library answers by overwriting the old window).
 */
export class RateLimitRepository {
  constructor(private readonly db: Db) {}

  /** Deletes windows that ended before `now`; how many. */
  async sweepExpired(now: Date): Promise<number> {
    const result = await this.db.collection<RateLimitDoc>(RATE_LIMITS_COLLECTION).deleteMany({ expire: { $ne: null, $lte: now } });
    return result.deletedCount;
  }
}
