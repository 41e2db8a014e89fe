import type { Logger } from '../../logger.js';
import { deliveryId, type OutboxEvent } from './webhook-events.js';
import type { WebhookDoc } from './webhook.document.js';
import type { DeliveryQueue, WebhookRepository } from './webhook.repository.js';

interface OutboxDeps {
  queue: DeliveryQueue;
  webhooksOf: (tenantId: string) => WebhookRepository;
  logger: Logger;
  now?: () => Date;
}

/**
 * Puts events into the outbox: for each event not yet recorded, one delivery per enabled
 * webhook of its tenant subscribed to its type (`_id` = deliveryId(event, webhook)), then the
 * event record itself. Both inserts are idempotent on deterministic ids and the event is
 * recorded last, so a crash in between is repaired by the next emit of the same event (the
 * scan emits every pass; see README "Webhooks" for the audit-derived ones).
 */
export class WebhookOutbox {
  constructor(private readonly deps: OutboxDeps) {}

  /** Emits events (any tenants); returns how many were new. */
  async emit(events: readonly OutboxEvent[]): Promise<number> {
    if (events.length === 0) return 0;
    const known = await this.deps.queue.existingEvents(events.map((e) => e.id));
    // Each tenant's enabled webhooks, read once per call.
    const subscriptions = new Map<string, Promise<Pick<WebhookDoc, '_id' | 'events'>[]>>();
    let added = 0;
    for (const event of events) {
      if (known.has(event.id)) continue;
      known.add(event.id);
      const now = (this.deps.now ?? (() => new Date()))();
      if (!subscriptions.has(event.tenantId)) subscriptions.set(event.tenantId, this.deps.webhooksOf(event.tenantId).enabledSubscriptions());
      const subscribers = (await subscriptions.get(event.tenantId)!).filter((webhook) => webhook.events.includes(event.type));
      for (const webhook of subscribers) {
        await this.deps.queue.enqueue({
          _id: deliveryId(event.id, webhook._id),
          tenantId: event.tenantId,
          webhookId: webhook._id,
          eventId: event.id,
          eventType: event.type,
          payload: event.payload,
          status: 'PENDING',
          attempts: 0,
          nextAttemptAt: now,
          leaseOwner: null,
          leaseUntil: null,
          lastAttemptAt: null,
          lastHttpStatus: null,
          lastError: null,
          lastResponseSnippet: null,
          lastDurationMs: null,
          createdAt: now,
          deliveredAt: null,
        });
      }
      if (await this.deps.queue.recordEvent({ _id: event.id, tenantId: event.tenantId, type: event.type, payload: event.payload, createdAt: now })) {
        added += 1;
        this.deps.logger.info({ event: 'webhook.event_queued', tenantId: event.tenantId, eventId: event.id, type: event.type, deliveries: subscribers.length }, 'webhook event queued');
      }
    }
    return added;
  }
}
