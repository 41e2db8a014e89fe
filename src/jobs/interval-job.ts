import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { JobLeaseRepository } from './job-lease.repository.js';

export interface IntervalJobOptions {
  /** Names the job in logs and its lease document. */
  name: string;
  /** One pass; what it returns is ignored (its own logging reports results). */
  pass: () => Promise<unknown>;
  logger: Logger;
  /** Time between passes; the first runs at start. */
  intervalMs: number;
  /**
   * With leases, one instance at a time runs a pass (the others skip it); the lease lasts
   * `leaseMs` (default: the interval) and is released when the pass ends.
   */
  leases?: JobLeaseRepository;
  leaseMs?: number;
  /**
   * Keep the lease to the end of its term instead of releasing it after the pass: at most one
   * pass per term across all instances (a daily job runs once a day, not once per instance
   * whose timer fires after another's pass ended).
   */
  holdLease?: boolean;
}

/**
 * The skeleton of every periodic background job: a pass at start and then every interval,
 * never two passes of one job at once in this process, optionally one instance at a time
 * (a lease in MongoDB), failures logged and retried at the next interval, and stop() for a
 * graceful shutdown that waits for the running pass.
 */
export class IntervalJob {
  private readonly owner = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: IntervalJobOptions) {}

  start(): void {
    const tick = () => {
      this.running ??= this.runOnce().finally(() => {
        this.running = undefined;
      });
    };
    tick();
    this.timer = setInterval(tick, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  private async runOnce(): Promise<void> {
    const { name, leases, logger } = this.options;
    try {
      if (leases && !(await leases.acquire(name, this.owner, this.options.leaseMs ?? this.options.intervalMs))) return;
      try {
        await this.options.pass();
      } finally {
        if (!this.options.holdLease) await leases?.release(name, this.owner);
      }
    } catch (error) {
      logger.error({ err: error, job: name }, `${name} sweep failed`);
    }
  }
}
