import type { Logger } from '../../logger.js';

/** Where counted uses go: one update per key per flush (`$inc` the count, `$max` the time). */
export interface ApiKeyUseStore {
  recordUse(id: string, at: Date, count: number): Promise<void>;
}

/**
 * Counts API-key uses in memory and writes them once per interval, one update per key, instead
 * of one write per request (every authenticated request of a machine client used to queue a
 * write behind its own work). Listing keys flushes first, so `apiKeys` on the instance that
 * served the requests is exact; another instance sees them within one interval. A crash loses
 * at most one interval's counts (`lastUsedAt` and `useCount` are usage hints, not security state:
 * revocation and expiry never depend on them).
 */
export class ApiKeyUsage {
  private pending = new Map<string, { count: number; last: Date }>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: ApiKeyUseStore,
    private readonly logger: Logger,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  record(id: string, at: Date): void {
    const entry = this.pending.get(id);
    if (entry) {
      entry.count += 1;
      if (at > entry.last) entry.last = at;
    } else this.pending.set(id, { count: 1, last: at });
  }

  /** Writes every counted use; resolves once stored (errors are logged, the counts dropped). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const batch = this.pending;
      this.pending = new Map();
      await Promise.all(
        [...batch].map(([id, { count, last }]) =>
          this.store.recordUse(id, last, count).catch((error: unknown) => this.logger.warn({ err: error }, 'could not record API key use')),
        ),
      );
    });
    return this.flushing;
  }

  /** Stops the timer and writes what is left. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
