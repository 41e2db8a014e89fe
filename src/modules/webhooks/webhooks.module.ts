import type { CofferModule } from '../module.js';
import { WEBHOOK_DELIVERIES_COLLECTION, WEBHOOK_EVENTS_COLLECTION, WEBHOOKS_COLLECTION } from './webhook.document.js';
import { WebhookResolver } from './webhook.resolver.js';
import { webhookSealedData } from './webhook.sealed-data.js';

/** Notifications by signed webhooks: endpoints, the outbox, the delivery log (README "Webhooks"). */
export const webhooksModule: CofferModule = {
  name: 'webhooks',
  resolvers: [WebhookResolver],
  collections: [
    {
      name: WEBHOOKS_COLLECTION,
      indexes: [
        { key: { tenantId: 1, _id: 1 }, name: 'tenant_id' },
        { key: { tenantId: 1, enabled: 1, events: 1 }, name: 'tenant_enabled_events' },
        { key: { enabled: 1, tenantId: 1 }, name: 'enabled_tenant' },
      ],
      // Holds signing secrets sealed under the tenant DEK; records (deleted after the DEKs are destroyed).
      tenantData: 'RECORDS',
    },
    {
      name: WEBHOOK_EVENTS_COLLECTION,
      // `_id` is the deterministic event id: its unique index makes each event once.
      // `created` serves the pruning of old records (webhook-retention.ts).
      indexes: [
        { key: { tenantId: 1, createdAt: 1 }, name: 'tenant_created' },
        { key: { createdAt: 1 }, name: 'created' },
      ],
      tenantData: 'RECORDS',
    },
    {
      name: WEBHOOK_DELIVERIES_COLLECTION,
      indexes: [
        { key: { status: 1, nextAttemptAt: 1 }, name: 'status_next_attempt' },
        { key: { tenantId: 1, webhookId: 1, createdAt: -1 }, name: 'tenant_webhook_created' },
        // Pruning finished rows and expiring old pending ones (webhook-retention.ts).
        { key: { status: 1, createdAt: 1 }, name: 'status_created' },
      ],
      tenantData: 'RECORDS',
    },
  ],
  sealedData: [webhookSealedData],
};
