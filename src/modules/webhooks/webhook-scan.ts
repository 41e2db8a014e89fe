import type { Logger } from '../../logger.js';
import { eventId, outboxEvent, type OutboxEvent } from './webhook-events.js';
import type { WebhookAuditSource } from './webhook-audit-source.js';
import type { WebhookOutbox } from './webhook-outbox.js';
import type { WebhookScanRepository } from './webhook-scan.repository.js';
import type { WebhookDirectory } from './webhook.repository.js';

const DAY_MS = 86_400_000;
/** DSR_DUE_SOON: an open request within this many days of its deadline. */
export const DSR_DUE_SOON_DAYS = 7;

interface ScanDeps {
  directory: WebhookDirectory;
  scanOf: (tenantId: string) => WebhookScanRepository;
  outbox: WebhookOutbox;
  /** Audit-derived events, derived again from the audit log each pass. */
  auditSource: WebhookAuditSource;
  logger: Logger;
  /** SECRET_EXPIRING: a live secret within this many days of its expiry (WEBHOOK_EXPIRY_WARNING_DAYS). */
  expiryWarningDays: number;
  /**
   * No event whose date (due, expiry, deadline) is older than this is raised (WEBHOOK_RETENTION_DAYS):
   * its outbox record may have been pruned, so raising it again would send it twice (webhook-retention.ts).
   */
  horizonMs: number;
  now?: () => Date;
}

/**
 * The scheduled scan: in each tenant with an enabled webhook, the secrets due for rotation,
 * expiring and expired, and the open data-subject requests due within 7 days or overdue (dates
 * older than the retention horizon excepted: webhook-retention.ts). Each
 * event's id is a hash of (tenant, type, resource, the date that made it due), so every pass
 * finds the same ids and the outbox keeps one event each; a secret rotated (or a deadline
 * extended) gets a new date and so a new event.
 */
export class WebhookScan {
  constructor(private readonly deps: ScanDeps) {}

  /** One pass over every tenant with webhooks; how many new events it queued. */
  async scan(): Promise<number> {
    let added = 0;
    const tenantIds = await this.deps.directory.tenantsWithEnabledWebhooks();
    for (const tenantId of tenantIds) {
      added += await this.deps.outbox.emit(await this.eventsOf(tenantId));
    }
    added += await this.deps.auditSource.catchUp(tenantIds, (this.deps.now ?? (() => new Date()))());
    return added;
  }

  /** The events one tenant's dates raise now. */
  async eventsOf(tenantId: string): Promise<OutboxEvent[]> {
    const now = (this.deps.now ?? (() => new Date()))();
    const repo = this.deps.scanOf(tenantId);
    const since = new Date(now.getTime() - this.deps.horizonMs);
    const events: OutboxEvent[] = [];
    for (const secret of await repo.rotationDue(now, since)) {
      const due = secret.rotationDueAt.toISOString();
      events.push(
        outboxEvent(eventId(tenantId, 'SECRET_ROTATION_DUE', secret._id, due), tenantId, 'SECRET_ROTATION_DUE', now, {
          secretId: secret._id,
          secretName: secret.name,
          rotationDueAt: due,
        }),
      );
    }
    for (const secret of await repo.expiringBy(new Date(now.getTime() + this.deps.expiryWarningDays * DAY_MS), since)) {
      if (!secret.expiresAt) continue;
      const expiresAt = secret.expiresAt.toISOString();
      const type = secret.expiresAt <= now ? 'SECRET_EXPIRED' : 'SECRET_EXPIRING';
      events.push(outboxEvent(eventId(tenantId, type, secret._id, expiresAt), tenantId, type, now, { secretId: secret._id, secretName: secret.name, expiresAt }));
    }
    for (const request of await repo.openRequestsDueBy(new Date(now.getTime() + DSR_DUE_SOON_DAYS * DAY_MS), since)) {
      const dueAt = request.dueAt.toISOString();
      const type = request.dueAt <= now ? 'DSR_OVERDUE' : 'DSR_DUE_SOON';
      events.push(outboxEvent(eventId(tenantId, type, request._id, dueAt), tenantId, type, now, { requestId: request._id, requestType: request.type, dueAt }));
    }
    return events;
  }
}
