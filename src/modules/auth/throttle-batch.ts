import { LRUCache } from 'lru-cache';
import { RateLimiterRes } from 'rate-limiter-flexible';

/** What the batch pushes to: the shared store's consume (points at once), answering or rejecting with RateLimiterRes. */
export type SharedConsume = (id: string, points: number) => Promise<RateLimiterRes>;

interface Entry {
  /** Points the shared store held for this key at its last answer (every instance's). */
  shared: number;
  /** When the store's window for this key ends (ms since the epoch). */
  resetAt: number;
  /** Points accepted here and not yet written. */
  unsynced: number;
  /** The write in flight, if any (one per key at a time). */
  flushing: Promise<void> | null;
  timer: NodeJS.Timeout | null;
}

/**
 * A budget counted here and written to the shared store in batches: the whole-API budget, which
 * every request spends, so that a request does not cost a database write (on FerretDB v1 a write
 * waits its turn behind every other). The first request of a key's window asks the store (exact);
 * after that this instance decides from the store's last total plus its own unwritten points, and
 * writes them when they reach `step` points (that request waits for the write, and so learns what
 * the other instances spent) or `maxDelayMs` after the first unwritten one, whichever is first.
 * So each instance can be at most `step` points behind the others: with N instances a key gets at
 * most the budget plus N × step in a window (step = 5 % of the budget: one write per request for
 * budgets under 40, and the request whose write takes the total over is refused: exact).
 */
export class BatchedBudget {
  private readonly entries: LRUCache<string, Entry>;

  constructor(
    private readonly push: SharedConsume,
    private readonly points: number,
    readonly step: number,
    private readonly maxDelayMs: number,
    private readonly onBackgroundError: (error: unknown) => void,
  ) {
    this.entries = new LRUCache<string, Entry>({ max: 100_000 });
  }

  /** Resolves when accepted; rejects with a RateLimiterRes (over budget) or the store's error. */
  async consume(id: string): Promise<void> {
    const now = Date.now();
    let entry = this.entries.get(id);
    if (!entry || now >= entry.resetAt) {
      if (entry?.timer) clearTimeout(entry.timer);
      // A new window (or a key not seen here): ask the store, exactly.
      const fresh: Entry = { shared: 0, resetAt: 0, unsynced: 0, flushing: null, timer: null };
      this.entries.set(id, fresh);
      try {
        this.learn(fresh, await this.push(id, 1));
      } catch (error) {
        if (error instanceof RateLimiterRes) this.learn(fresh, error);
        else this.entries.delete(id);
        throw error;
      }
      return;
    }
    if (entry.shared + entry.unsynced + 1 > this.points) {
      throw new RateLimiterRes(0, Math.max(1, entry.resetAt - now), entry.shared + entry.unsynced, false);
    }
    entry.unsynced += 1;
    if (entry.unsynced >= this.step) {
      // This request waits for the write; if it takes the shared total over the budget, it is the
      // one refused (so a budget written every request, step 1, is exact, as without batching).
      const over = await this.flush(id, entry);
      if (over) throw over;
      return;
    }
    entry.timer ??= setTimeout(() => {
      entry.timer = null;
      this.flush(id, entry).then(() => undefined, this.onBackgroundError);
    }, this.maxDelayMs);
    entry.timer.unref();
  }

  private learn(entry: Entry, res: RateLimiterRes): void {
    entry.shared = res.consumedPoints;
    entry.resetAt = Date.now() + res.msBeforeNext;
  }

  /**
   * Writes the unwritten points (one write per key at a time) and learns the store's total.
   * Resolves with the store's refusal when this write took the total over the budget, else null.
   */
  private async flush(id: string, entry: Entry): Promise<RateLimiterRes | null> {
    while (entry.flushing) await entry.flushing;
    if (entry.unsynced === 0) return null;
    const points = entry.unsynced;
    entry.unsynced = 0;
    let over: RateLimiterRes | null = null;
    entry.flushing = (async () => {
      try {
        this.learn(entry, await this.push(id, points));
      } catch (error) {
        if (error instanceof RateLimiterRes) {
          this.learn(entry, error);
          over = error;
        } else {
          entry.unsynced += points; // the store did not take them: keep them for the next write
          throw error;
        }
      } finally {
        entry.flushing = null;
      }
    })();
    await entry.flushing;
    return over;
  }
}
