import type { Logger } from '../../logger.js';
import { CATCH_UP_MS } from './webhook-audit-source.js';
import { DSR_DUE_SOON_DAYS } from './webhook-scan.js';
import type { DeliveryQueue } from './webhook.repository.js';

const DAY_MS = 86_400_000;

/**
 * How long the outbox keeps what (WEBHOOK_RETENTION_DAYS), and why pruning never makes an event
 * go out twice. An event is queued once because its deterministic id is found in
 * `webhook_events`; once that record is deleted, an event derived again under the same id
 * would be queued again. So a record may only be deleted once its event can no longer be
 * derived:
 * - state-derived events whose date D has passed (rotation due, expired, overdue) are derived
 *   by every scan for as long as the state lasts, which is unbounded; the scan therefore raises
 *   them only while D is within the retention (`horizonMs`), and such a record, recorded at or
 *   after D, is deleted only after `eventKeepMs` ≥ retention + a day;
 * - events raised before their date (SECRET_EXPIRING, DSR_DUE_SOON) are derived only in the
 *   warning period before D, at most WEBHOOK_EXPIRY_WARNING_DAYS or DSR_DUE_SOON_DAYS after the
 *   record was made; audit-derived ones only while the audit event is within CATCH_UP_MS.
 *   `eventKeepMs` is longer than each of these windows, by a day (clock skew between instances).
 * Finished deliveries (DELIVERED, FAILED, CANCELLED) go after the retention (`deliveryKeepMs`):
 * their event record is still kept then, so nothing is queued again. Pending deliveries are
 * never deleted; one older than the retention is cancelled (`expired`) instead of sent.
 */
export interface WebhookRetention {
  /** The scan raises no event whose date is older than this (WEBHOOK_RETENTION_DAYS). */
  horizonMs: number;
  /** Finished deliveries are deleted, and pending ones cancelled, after this (WEBHOOK_RETENTION_DAYS). */
  deliveryKeepMs: number;
  /** Outbox event records are deleted after this: the longest derivation window plus a day. */
  eventKeepMs: number;
}

export function webhookRetention(retentionDays: number, expiryWarningDays: number): WebhookRetention {
  const retentionMs = retentionDays * DAY_MS;
  const window = Math.max(retentionMs, expiryWarningDays * DAY_MS, DSR_DUE_SOON_DAYS * DAY_MS, CATCH_UP_MS);
  return { horizonMs: retentionMs, deliveryKeepMs: retentionMs, eventKeepMs: window + DAY_MS };
}

/**
 * Prunes the outbox (run by the scan job after each scan, under its job lease, so by one
 * instance at a time): cancels pending deliveries past the retention, deletes finished ones past
 * it, and deletes event records past `eventKeepMs`. Each is one indexed multi-document write.
 */
export class WebhookPruner {
  constructor(private readonly deps: { queue: DeliveryQueue; retention: WebhookRetention; logger: Logger; now?: () => Date }) {}

  async prune(): Promise<{ expired: number; deliveries: number; events: number }> {
    const now = (this.deps.now ?? (() => new Date()))();
    const { retention, queue } = this.deps;
    const deliveriesBefore = new Date(now.getTime() - retention.deliveryKeepMs);
    const expired = await queue.expirePending(deliveriesBefore, now);
    const deliveries = await queue.pruneDeliveries(deliveriesBefore);
    const events = await queue.pruneEvents(new Date(now.getTime() - retention.eventKeepMs));
    if (expired + deliveries + events > 0) {
      this.deps.logger.info({ event: 'webhook.pruned', expired, deliveries, events }, 'webhook outbox pruned');
    }
    return { expired, deliveries, events };
  }
}
