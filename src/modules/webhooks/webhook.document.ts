import type { Binary } from 'mongodb';
import type { TenantDocument } from '../../db/tenant-scope.js';
import type { WebhookEventType } from './webhook-events.js';

export const WEBHOOKS_COLLECTION = 'webhooks';
export const WEBHOOK_EVENTS_COLLECTION = 'webhook_events';
export const WEBHOOK_DELIVERIES_COLLECTION = 'webhook_deliveries';

/**
 * A signing secret as stored: 32 random bytes sealed under the tenant DEK (TenantCipher), the
 * AAD binding it to the tenant, the webhook and `keyId` (webhook.sealed-data.ts secretAad), so a
 * blob copied to another webhook or tenant fails to open. Never stored in plaintext.
 */
export interface SealedSigningSecret {
  /** Random id of this secret (survives rotation moving it to `previousSecret`). */
  keyId: string;
  /** iv || tag || AES-256-GCM ciphertext. */
  ciphertext: Binary;
  dekVersion: number;
  createdAt: Date;
}

/** An endpoint a tenant registered (collection `webhooks`). */
export interface WebhookDoc extends TenantDocument {
  url: string;
  events: WebhookEventType[];
  description: string;
  enabled: boolean;
  secret: SealedSigningSecret;
  /** The secret before the last rotation, still signing until `previousSecretUntil` (the grace period). */
  previousSecret: SealedSigningSecret | null;
  previousSecretUntil: Date | null;
  /** Incremented by every write; the compare-and-set guard (rotation, key re-encryption). */
  revision: number;
  createdAt: Date;
  createdBy: string;
  updatedAt: Date;
}

/**
 * The outbox record of one event (collection `webhook_events`): its `_id` is the event id,
 * deterministic for the event's source (webhook-events.ts eventId), so a re-scan, a second
 * instance or a replayed audit observation cannot make a second one (unique `_id`).
 */
export interface WebhookEventDoc extends TenantDocument {
  type: WebhookEventType;
  /** The JSON body sent, as text (exactly the signed bytes). */
  payload: string;
  createdAt: Date;
}

export const DELIVERY_STATUSES = ['PENDING', 'DELIVERED', 'FAILED', 'CANCELLED'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * One event to one endpoint (collection `webhook_deliveries`), `_id` = deliveryId(event, webhook):
 * at most one per pair. The delivery job claims due rows with a lease (findOneAndUpdate), so one
 * instance at a time sends a row; `_id` is the `webhook-id` header, stable across retries.
 */
export interface WebhookDeliveryDoc extends TenantDocument {
  webhookId: string;
  eventId: string;
  eventType: WebhookEventType;
  payload: string;
  status: DeliveryStatus;
  /** Attempts started (a claim counts one, so a crash mid-send counts too). */
  attempts: number;
  nextAttemptAt: Date | null;
  leaseOwner: string | null;
  leaseUntil: Date | null;
  lastAttemptAt: Date | null;
  lastHttpStatus: number | null;
  /** Why the last attempt failed: a short code of ours (timeout, refused_address, http_500...), never the receiver's text. */
  lastError: string | null;
  /** The first bytes of the last response body (printable ASCII only, at most RESPONSE_SNIPPET_BYTES). */
  lastResponseSnippet: string | null;
  lastDurationMs: number | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

/** How much of a response body the delivery log keeps. */
export const RESPONSE_SNIPPET_BYTES = 64;
