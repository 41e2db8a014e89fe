import type { Logger } from '../logger.js';
import type { PurgeCounts, RetentionService } from '../modules/privacy/retention.service.js';
import { IntervalJob } from './interval-job.js';
import type { JobLeaseRepository } from './job-lease.repository.js';

interface RetentionSweepDeps {
  retention: RetentionService;
  logger: Logger;
  /** RETENTION_SWEEP_INTERVAL_MINUTES (default daily). */
  intervalMs: number;
  leases: JobLeaseRepository;
}

/**
 * The retention sweep (privacy/retention.service.ts): at start and then every interval, across
 * tenants. The lease is held for the whole interval (not released after the pass), so however
 * many instances share the database, one of them sweeps per interval; a sweep is idempotent
 * anyway (erasures are compare-and-set state machines, deletions are by range).
 */
export class RetentionSweepJob {
  private readonly job: IntervalJob;
  private running: Promise<PurgeCounts> | undefined;

  constructor(private readonly deps: RetentionSweepDeps) {
    this.job = new IntervalJob({
      name: 'retention sweep',
      pass: () => this.sweep(),
      logger: deps.logger,
      intervalMs: deps.intervalMs,
      leases: deps.leases,
      // A little under the interval, so this instance's next tick finds the lease expired even if its timer drifts.
      leaseMs: Math.max(1000, deps.intervalMs - 1000),
      holdLease: true,
    });
  }

  start(): void {
    this.job.start();
  }

  async stop(): Promise<void> {
    await this.job.stop();
    await this.running?.catch(() => undefined);
  }

  /** One pass over every tenant to sweep (never two at once in this process). */
  sweep(): Promise<PurgeCounts> {
    this.running ??= this.deps.retention.sweep().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }
}
