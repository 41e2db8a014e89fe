import type { Db } from 'mongodb';
import { systemSweep } from '../db/cross-tenant-sweep.js';
import type { Logger } from '../logger.js';
import { IntervalJob } from './interval-job.js';
import type { JobLeaseRepository } from './job-lease.repository.js';
import type { AuditSink } from '../modules/audit/audit-event.js';
import { auditEvent } from '../modules/audit/audit-builder.js';
import { SECRETS_COLLECTION, type SecretDoc } from '../modules/secrets/secret.document.js';

interface PurgeDeps {
  db: Db;
  audit: AuditSink;
  logger: Logger;
  recoveryDays: number;
  /** How often to sweep (default hourly). */
  intervalMs?: number;
  /** When given, one instance at a time sweeps. */
  leases?: JobLeaseRepository;
}

/**
 * Purges soft-deleted secrets whose recovery window has passed. Expiry lives in
 * queries plus this sweep, never in TTL indexes (FerretDB v1 has none). It works
 * across tenants, through the reviewed cross-tenant door (db/cross-tenant-sweep.ts); each purge is audited in
 * the secret's own tenant with actor SYSTEM.
 */
export class SecretPurgeJob {
  private running: Promise<number> | undefined;
  private readonly job: IntervalJob;

  constructor(private readonly deps: PurgeDeps) {
    this.job = new IntervalJob({
      name: 'secret purge',
      pass: () => this.sweep(),
      logger: deps.logger,
      intervalMs: deps.intervalMs ?? 3_600_000,
      leases: deps.leases,
    });
  }

  start(): void {
    this.job.start();
  }

  async stop(): Promise<void> {
    await this.job.stop();
    await this.running?.catch(() => 0);
  }

  /** One pass; returns how many secrets were purged. Safe to run concurrently on several instances. */
  sweep(now = new Date()): Promise<number> {
    this.running ??= this.purgeExpired(now).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async purgeExpired(now: Date): Promise<number> {
    const cutoff = new Date(now.getTime() - this.deps.recoveryDays * 86_400_000);
    const secrets = systemSweep<SecretDoc>(this.deps.db, SECRETS_COLLECTION);
    const due = await secrets.find({ deletedAt: { $ne: null, $lte: cutoff } }, { projection: { _id: 1, tenantId: 1, name: 1, revision: 1 }, limit: 1000 });
    let purged = 0;
    for (const doc of due) {
      // Guarded by revision: a restore that raced this sweep wins.
      const result = await secrets.deleteOne({ _id: doc._id, tenantId: doc.tenantId, revision: doc.revision, deletedAt: { $ne: null, $lte: cutoff } });
      if (result.deletedCount !== 1) continue;
      purged++;
      await this.deps.audit.append(
        auditEvent('secret.purged', {
          caller: { tenantId: doc.tenantId, actor: { type: 'SYSTEM', id: 'secret-purge' } },
          resource: { id: doc._id },
          details: { name: doc.name, reason: 'recovery window passed' },
        }),
      );
    }
    if (purged) this.deps.logger.info({ event: 'secret.purge_sweep', purged }, 'purged secrets past their recovery window');
    return purged;
  }
}
