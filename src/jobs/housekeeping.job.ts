import type { Db } from 'mongodb';
import { Collections } from '../db/collections.js';
import { systemSweep } from '../db/cross-tenant-sweep.js';
import type { Logger } from '../logger.js';
import { USED_LINKS_COLLECTION } from '../modules/consent/consent.document.js';
import { LOGIN_CHALLENGES_COLLECTION } from '../modules/auth/totp.repository.js';
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

/** Used confirmation-link marks are kept this long past their token's expiry (clock differences between instances). */
const USED_LINK_MARGIN_MS = 3_600_000;

/**
 * Deletes what queries already ignore: sessions that expired or were revoked,
 * and invitations that were accepted or expired, once they are `keepDays` old; and the
 * used marks of single-use consent confirmation links (`consent_used_links`) once their
 * token has expired (an expired token is refused by its signature check, so its mark
 * guards nothing), an hour after, for clocks that differ between instances; and second-factor
 * login challenges (`login_challenges`) once expired (an expired one is refused anyway, and
 * a user who never logs in again would otherwise keep it forever).
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
  async sweep(now = new Date()): Promise<{ sessions: number; invitations: number; usedLinks: number; loginChallenges: number }> {
    const cutoff = new Date(now.getTime() - (this.deps.keepDays ?? 30) * 86_400_000);
    const sessions = await systemSweep(this.deps.db, Collections.sessions).deleteMany({
      $or: [{ expiresAt: { $lte: cutoff } }, { revokedAt: { $ne: null, $lte: cutoff } }],
    });
    const invitations = await systemSweep(this.deps.db, Collections.invitations).deleteMany({
      $or: [{ expiresAt: { $lte: cutoff } }, { acceptedAt: { $ne: null, $lte: cutoff } }],
    });
    const usedLinks = await systemSweep(this.deps.db, USED_LINKS_COLLECTION).deleteMany({ expiresAt: { $lte: new Date(now.getTime() - USED_LINK_MARGIN_MS) } });
    const loginChallenges = await systemSweep(this.deps.db, LOGIN_CHALLENGES_COLLECTION).deleteMany({ expiresAt: { $lte: now } });
    const removed = { sessions: sessions.deletedCount, invitations: invitations.deletedCount, usedLinks: usedLinks.deletedCount, loginChallenges: loginChallenges.deletedCount };
    if (removed.sessions || removed.invitations || removed.usedLinks || removed.loginChallenges) {
      this.deps.logger.info({ event: 'housekeeping', ...removed }, 'removed ended sessions, invitations, expired link marks and expired login challenges');
    }
    return removed;
  }
}
