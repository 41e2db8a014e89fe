import { createHash } from 'node:crypto';

/**
 * What a webhook can subscribe to. Scan-derived (webhook-scan.ts, from secrets' and requests'
 * indexed dates): SECRET_ROTATION_DUE, SECRET_EXPIRING, SECRET_EXPIRED, DSR_DUE_SOON, DSR_OVERDUE.
 * Audit-derived (webhook-audit-source.ts, from stored audit events): KEY_ROTATION_COMPLETED,
 * REFRESH_TOKEN_REUSED, ACCOUNT_LOCKED, AUDIT_VERIFICATION_FAILED.
 */
export const WEBHOOK_EVENT_TYPES = [
  'SECRET_ROTATION_DUE',
  'SECRET_EXPIRING',
  'SECRET_EXPIRED',
  'KEY_ROTATION_COMPLETED',
  'DSR_DUE_SOON',
  'DSR_OVERDUE',
  'REFRESH_TOKEN_REUSED',
  'ACCOUNT_LOCKED',
  'AUDIT_VERIFICATION_FAILED',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * The `data` of each event type: ids Coffer generated, names tenants gave resources (a secret's
 * name is a tenant identifier such as `prod/db/password`, never its value), codes, counts and
 * instants. Never a secret value, a token, an email or any other personal datum of a subject.
 */
export interface WebhookEventData {
  SECRET_ROTATION_DUE: { secretId: string; secretName: string; rotationDueAt: string };
  SECRET_EXPIRING: { secretId: string; secretName: string; expiresAt: string };
  SECRET_EXPIRED: { secretId: string; secretName: string; expiresAt: string };
  KEY_ROTATION_COMPLETED: { targetVersion: number; retiredVersions: number[]; reencrypted: number };
  DSR_DUE_SOON: { requestId: string; requestType: string; dueAt: string };
  DSR_OVERDUE: { requestId: string; requestType: string; dueAt: string };
  REFRESH_TOKEN_REUSED: { sessionId: string | null; userId: string | null };
  ACCOUNT_LOCKED: { userId: string; until: string };
  AUDIT_VERIFICATION_FAILED: { firstInvalidSequence: number | null; checkedEvents: number };
}

/** An event ready for the outbox: its deterministic id, its type and the exact body to sign. */
export interface OutboxEvent {
  id: string;
  tenantId: string;
  type: WebhookEventType;
  payload: string;
}

/**
 * `whevt_` + 32 hex of SHA-256 over the parts (as a JSON array, so no two lists of parts
 * encode alike): the same source always gives the same id.
 */
export function eventId(...parts: readonly string[]): string {
  return `whevt_${createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32)}`;
}

/** The `webhook-id` of one event to one endpoint: stable across retries and instances. */
export function deliveryId(eventIdValue: string, webhookId: string): string {
  return `msg_${createHash('sha256').update(JSON.stringify([eventIdValue, webhookId])).digest('hex').slice(0, 32)}`;
}

/**
 * Builds an event. The payload is `{ type, timestamp, data }` (the Standard Webhooks shape),
 * `timestamp` the moment the event happened (or was found).
 */
export function outboxEvent<T extends WebhookEventType>(
  id: string,
  tenantId: string,
  type: T,
  timestamp: Date,
  data: WebhookEventData[T],
): OutboxEvent {
  return { id, tenantId, type, payload: JSON.stringify({ type: eventName(type), timestamp: timestamp.toISOString(), data: { eventId: id, ...data } }) };
}

/** The dotted name each event carries in its payload's `type`. */
export const EVENT_NAMES: { readonly [T in WebhookEventType]: string } = {
  SECRET_ROTATION_DUE: 'secret.rotation_due',
  SECRET_EXPIRING: 'secret.expiring',
  SECRET_EXPIRED: 'secret.expired',
  KEY_ROTATION_COMPLETED: 'key.rotation_completed',
  DSR_DUE_SOON: 'dsr.due_soon',
  DSR_OVERDUE: 'dsr.overdue',
  REFRESH_TOKEN_REUSED: 'security.refresh_token_reused',
  ACCOUNT_LOCKED: 'security.account_locked',
  AUDIT_VERIFICATION_FAILED: 'security.audit_verification_failed',
};

function eventName(type: WebhookEventType): string {
  return EVENT_NAMES[type];
}
