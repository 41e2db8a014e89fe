import type { Db } from 'mongodb';
import { RateLimiterMemory, RateLimiterMongo, RateLimiterRes, RLWrapperTimeouts } from 'rate-limiter-flexible';
import { rateLimited } from '../../errors.js';
import { RATE_LIMITS_COLLECTION } from '../limits/rate-limit.repository.js';

/**
 * How long one budget check may wait for MongoDB before this instance decides alone (its
 * in-memory fallback): well under the driver's server-selection timeout, so a database outage
 * adds at most this much to a request before it is answered (SERVICE_UNAVAILABLE, mostly).
 */
export const STORE_TIMEOUT_MS = 1_000;

export interface ThrottleOptions {
  /** The database every instance shares; the budgets live in its `rate_limits` collection. */
  db: Db;
  /** Names the budget (the key prefix in `rate_limits`): `api`, `auth`, `pages`. */
  name: string;
  /** Attempts allowed per key and window. */
  points: number;
  /** The window, in seconds (a fixed window starting at a key's first attempt; default 60). */
  durationSeconds?: number;
  /** See STORE_TIMEOUT_MS (tests shorten it). */
  storeTimeoutMs?: number;
}

/**
 * A per-key attempt budget over a window, shared by every instance through MongoDB
 * (rate-limiter-flexible's RateLimiterMongo); exceeding it is RATE_LIMITED with the seconds
 * until the window ends.
 *
 * - Once a key is over its budget, this instance refuses it from memory until the window ends
 *   (`inMemoryBlockOnConsumed`): a flood costs no database round trip per refused request.
 * - When MongoDB fails or takes longer than `storeTimeoutMs`, the check falls back to an
 *   in-memory budget of the same size on this instance (the insurance limiter): limits stay
 *   on, per instance, instead of refusing everyone or no one during an outage.
 * - FerretDB v1 has no TTL index: an ended window is ignored by the library's queries and
 *   overwritten on the key's next attempt; a sweep every minute deletes the rest (jobs/rate-limit-sweep.job.ts).
 */
export class Throttle {
  private readonly limiter: RLWrapperTimeouts;

  constructor({ db, name, points, durationSeconds = 60, storeTimeoutMs = STORE_TIMEOUT_MS }: ThrottleOptions) {
    const store = new RateLimiterMongo({
      storeClient: db,
      tableName: RATE_LIMITS_COLLECTION,
      keyPrefix: name,
      points,
      duration: durationSeconds,
      // The indexes are the limits module's declaration (created with every other index);
      // the library's own would add a TTL index, which FerretDB v1 does not have.
      disableIndexesCreation: true,
      inMemoryBlockOnConsumed: points + 1,
    });
    this.limiter = new RLWrapperTimeouts({
      limiter: store,
      timeoutMs: storeTimeoutMs,
      insuranceLimiter: new RateLimiterMemory({ keyPrefix: name, points, duration: durationSeconds }),
    });
  }

  async consume(key: string): Promise<void> {
    try {
      await this.limiter.consume(key);
    } catch (error) {
      if (error instanceof RateLimiterRes) throw rateLimited(Math.max(1, Math.ceil(error.msBeforeNext / 1000)));
      throw error;
    }
  }
}
