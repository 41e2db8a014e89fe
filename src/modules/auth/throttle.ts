import type { Db } from 'mongodb';
import { RateLimiterMemory, RateLimiterMongo, RateLimiterRes, RLWrapperTimeouts } from 'rate-limiter-flexible';
import { rateLimited, type AppError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { RATE_LIMITS_COLLECTION } from '../limits/rate-limit.repository.js';
import { BatchedBudget } from './throttle-batch.js';

/**
 * How long one budget check may wait for MongoDB before this instance decides alone (its
 * in-memory fallback): well under the driver's server-selection timeout.
 */
export const STORE_TIMEOUT_MS = 1_000;
/** After the store failed, how long checks go straight to the in-memory budget before trying it again. */
export const STORE_RETRY_MS = 5_000;

export interface ThrottleOptions {
  /** The database every instance shares; the budgets live in its `rate_limits` collection. */
  db: Db;
  /** Names the budget (the key prefix in `rate_limits`): `api`, `auth`, `pages`. */
  name: string;
  /** Attempts allowed per key and window. */
  points: number;
  /** The window, in seconds (a fixed window starting at a key's first attempt; default 60). */
  durationSeconds?: number;
  /** See STORE_TIMEOUT_MS and STORE_RETRY_MS (tests shorten them). */
  storeTimeoutMs?: number;
  storeRetryMs?: number;
  /** Told (once per outage) when the store fails and this instance counts alone. */
  logger?: Logger;
  /**
   * Turns a key (a client address, a user id) into the id stored in `rate_limits`: a keyed hash,
   * so the shared collection holds no client address or user id in plaintext. Without it keys
   * are stored as given (tests of the store itself).
   */
  keyHash?: (key: string) => Promise<string>;
  /**
   * Count this budget here and write it in batches (BatchedBudget, throttle-batch.ts): for the
   * whole-API budget, which every request spends. Each instance may then lag the others by up to
   * 5 % of the budget (at least 1 point) or `maxDelayMs`. Without it every attempt is one write.
   */
  batch?: { maxDelayMs: number };
}

/**
 * A per-key attempt budget over a window, shared by every instance through MongoDB
 * (rate-limiter-flexible's RateLimiterMongo); exceeding it is RATE_LIMITED with the seconds
 * until the window ends.
 *
 * - Once a key is over its budget, this instance refuses it from memory until the window ends
 *   (`inMemoryBlockOnConsumed`): a flood costs no database round trip per refused request.
 * - When MongoDB fails or takes longer than `storeTimeoutMs`, the check is made against an
 *   in-memory budget of the same size on this instance, and so are the checks of the next
 *   `storeRetryMs`, which then wait for nothing: limits stay on, per instance, instead of
 *   refusing everyone or no one during an outage, and requests are not held up by the budget.
 * - FerretDB v1 has no TTL index: an ended window is ignored by the library's queries and
 *   overwritten on the key's next attempt; a sweep every minute deletes the rest (jobs/rate-limit-sweep.job.ts).
 */
export class Throttle {
  private readonly shared: RLWrapperTimeouts;
  private readonly local: RateLimiterMemory;
  private readonly retryMs: number;
  private storeDownUntil = 0;
  private readonly batched: BatchedBudget | null;

  constructor(private readonly options: ThrottleOptions) {
    const { db, name, points, durationSeconds = 60, storeTimeoutMs = STORE_TIMEOUT_MS, storeRetryMs = STORE_RETRY_MS } = options;
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
    // No insurance limiter inside: a failure or a timeout reaches consume() below, which falls back.
    this.shared = new RLWrapperTimeouts({ limiter: store, timeoutMs: storeTimeoutMs });
    this.local = new RateLimiterMemory({ keyPrefix: name, points, duration: durationSeconds });
    this.retryMs = storeRetryMs;
    this.batched = options.batch
      ? new BatchedBudget((id, count) => this.shared.consume(id, count), points, Math.max(1, Math.floor(points * 0.05)), options.batch.maxDelayMs, (error: unknown) =>
          options.logger?.warn({ err: error, budget: name }, 'rate-limit store did not take a batch; kept for the next write'),
        )
      : null;
  }

  async consume(key: string): Promise<void> {
    if (Date.now() >= this.storeDownUntil) {
      try {
        const id = this.options.keyHash ? await this.options.keyHash(`${this.options.name}|${key}`) : key;
        await (this.batched ? this.batched.consume(id) : this.shared.consume(id));
        if (this.storeDownUntil !== 0) {
          this.storeDownUntil = 0;
          this.options.logger?.info({ budget: this.options.name }, 'rate-limit store available again; budgets shared again');
        }
        return;
      } catch (error) {
        if (error instanceof RateLimiterRes) throw refusal(error);
        if (this.storeDownUntil === 0) {
          this.options.logger?.warn({ err: error, budget: this.options.name }, 'rate-limit store unavailable; counting on this instance alone');
        }
        this.storeDownUntil = Date.now() + this.retryMs;
      }
    }
    try {
      await this.local.consume(key);
    } catch (error) {
      if (error instanceof RateLimiterRes) throw refusal(error);
      throw error;
    }
  }
}

function refusal(res: RateLimiterRes): AppError {
  return rateLimited(Math.max(1, Math.ceil(res.msBeforeNext / 1000)));
}
