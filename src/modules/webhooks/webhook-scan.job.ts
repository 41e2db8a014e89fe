import { IntervalJob } from '../../jobs/interval-job.js';
import type { JobLeaseRepository } from '../../jobs/job-lease.repository.js';
import type { Logger } from '../../logger.js';
import type { WebhookPruner } from './webhook-retention.js';
import type { WebhookScan } from './webhook-scan.js';

/**
 * Runs the webhook scan (webhook-scan.ts) at start and every WEBHOOK_SCAN_INTERVAL_SECONDS, one
 * instance at a time (a job lease), then prunes the outbox (webhook-retention.ts). Two instances
 * scanning at once would still queue each event once (deterministic ids); the lease only saves
 * the duplicate work.
 */
export class WebhookScanJob {
  private readonly job: IntervalJob;

  constructor(scan: WebhookScan, deps: { pruner: WebhookPruner; logger: Logger; leases: JobLeaseRepository; intervalMs: number }) {
    const pass = async () => {
      const added = await scan.scan();
      await deps.pruner.prune();
      return added;
    };
    this.job = new IntervalJob({ name: 'webhook scan', pass, logger: deps.logger, intervalMs: deps.intervalMs, leases: deps.leases });
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }
}
