import type { Db } from 'mongodb';
import { Collections } from '../db/collections.js';
import { systemSweep } from '../db/cross-tenant-sweep.js';
import type { Logger } from '../logger.js';
import { IntervalJob } from './interval-job.js';
import type { JobLeaseRepository } from './job-lease.repository.js';

interface HousekeepingDeps {
  db: Db;
  logger: Logger;
  /** Ended sessions and used or expired invitations are kept this long for reference (default 30 days). */
  keepDays?: number;
  /** How often to sweep (default hourly). */
  intervalMs?: number;
  /** When given, one instance at a time sweeps. */
  leases?: JobLeaseRepository;
}

/**
 * Deletes what queries already ignore: sessions that expired or were revoked,
 * and invitations that were accepted or expired, once they are `keepDays` old.
 * FerretDB v1 has no TTL indexes, so expiry is enforced in queries plus this sweep.
 */
export class HousekeepingJob {
  private readonly job: IntervalJob;

  constructor(private readonly deps: HousekeepingDeps) {
    this.job = new IntervalJob({
      name: 'housekeeping',
      pass: () => this.sweep(),
      logger: deps.logger,
      intervalMs: deps.intervalMs ?? 3_600_000,
      leases: deps.leases,
    });
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** One pass; returns what was removed. */
  async sweep(now = new Date()): Promise<{ sessions: number; invitations: number }> {
    const cutoff = new Date(now.getTime() - (this.deps.keepDays ?? 30) * 86_400_000);
    const sessions = await systemSweep(this.deps.db, Collections.sessions).deleteMany({
      $or: [{ expiresAt: { $lte: cutoff } }, { revokedAt: { $ne: null, $lte: cutoff } }],
    });
    const invitations = await systemSweep(this.deps.db, Collections.invitations).deleteMany({
      $or: [{ expiresAt: { $lte: cutoff } }, { acceptedAt: { $ne: null, $lte: cutoff } }],
    });
    const removed = { sessions: sessions.deletedCount, invitations: invitations.deletedCount };
    if (removed.sessions || removed.invitations) this.deps.logger.info({ event: 'housekeeping', ...removed }, 'removed ended sessions and invitations');
    return removed;
  }
}
