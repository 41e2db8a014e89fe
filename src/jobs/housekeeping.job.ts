import type { Db } from 'mongodb';
import { Collections } from '../db/collections.js';
import { systemSweep } from '../db/cross-tenant-sweep.js';
import type { Logger } from '../logger.js';

interface HousekeepingDeps {
  db: Db;
  logger: Logger;
  /** Ended sessions and used or expired invitations are kept this long for reference (default 30 days). */
  keepDays?: number;
  /** How often to sweep (default hourly). */
  intervalMs?: number;
}

/**
 * Deletes what queries already ignore: sessions that expired or were revoked,
 * and invitations that were accepted or expired, once they are `keepDays` old.
 * FerretDB v1 has no TTL indexes, so expiry is enforced in queries plus this sweep.
 */
export class HousekeepingJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly deps: HousekeepingDeps) {}

  start(): void {
    const tick = () => {
      this.running ??= this.sweep()
        .then(() => undefined)
        .catch((error: unknown) => this.deps.logger.error({ err: error }, 'housekeeping sweep failed'))
        .finally(() => {
          this.running = undefined;
        });
    };
    tick();
    this.timer = setInterval(tick, this.deps.intervalMs ?? 3_600_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
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
