import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { connectionOf } from '../../graphql/connection.js';
import { describeEach, domainEnum } from '../../graphql/enums.js';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from './webhook-events.js';
import { DELIVERY_STATUSES, type DeliveryStatus, type WebhookDeliveryDoc, type WebhookDoc } from './webhook.document.js';

export const WebhookEventTypeEnum = domainEnum(WEBHOOK_EVENT_TYPES, {
  name: 'WebhookEventType',
  description: 'What a webhook can subscribe to (README "Webhooks" gives each payload).',
  valuesConfig: describeEach({
    SECRET_ROTATION_DUE: 'A live secret reached its rotation date (once per rotation date).',
    SECRET_EXPIRING: 'A live secret expires within WEBHOOK_EXPIRY_WARNING_DAYS (once per expiry date).',
    SECRET_EXPIRED: 'A live secret is past its expiry (once per expiry date).',
    KEY_ROTATION_COMPLETED: 'A tenant key rotation finished: every value is re-encrypted under the new data key.',
    DSR_DUE_SOON: 'An open data-subject request is due within 7 days (once per deadline).',
    DSR_OVERDUE: 'An open data-subject request is past its deadline (once per deadline).',
    REFRESH_TOKEN_REUSED: 'A used refresh token was presented again (possible theft); its session was revoked.',
    ACCOUNT_LOCKED: 'Sign-ins of a member were locked after repeated failures.',
    AUDIT_VERIFICATION_FAILED: 'A verification of the tenant\'s audit chain found a broken link.',
  }),
});

export const WebhookDeliveryStatusEnum = domainEnum(DELIVERY_STATUSES, {
  name: 'WebhookDeliveryStatus',
  description: 'Where a delivery stands.',
  valuesConfig: describeEach({
    PENDING: 'Queued, or waiting for its next retry.',
    DELIVERED: 'The receiver answered 2xx.',
    FAILED: 'Given up after the maximum number of attempts.',
    CANCELLED: 'Not sent: the webhook was disabled (or deleted) when it fell due.',
  }),
});

@ObjectType('Webhook', { description: 'An HTTPS endpoint that receives signed notifications of the tenant\'s events.' })
export class WebhookEndpoint {
  @Field(() => ID, { description: 'The webhook id.' })
  id!: string;

  @Field(() => String, { description: 'Where deliveries are POSTed.' })
  url!: string;

  @Field(() => [WebhookEventTypeEnum], { description: 'The event types it receives.' })
  events!: WebhookEventType[];

  @Field(() => String, { description: 'What it is for.' })
  description!: string;

  @Field(() => Boolean, { description: 'Whether it receives deliveries.' })
  enabled!: boolean;

  @Field(() => Date, { description: 'When it was registered.' })
  createdAt!: Date;

  @Field(() => Date, { description: 'When its current signing secret was made.' })
  secretCreatedAt!: Date;

  @Field(() => Date, { nullable: true, description: 'Until when deliveries also carry a signature under the previous secret (after a rotation); null when there is none.' })
  previousSecretValidUntil!: Date | null;
}

export function toWebhook(doc: WebhookDoc, now = new Date()): WebhookEndpoint {
  return Object.assign(new WebhookEndpoint(), {
    id: doc._id,
    url: doc.url,
    events: doc.events,
    description: doc.description,
    enabled: doc.enabled,
    createdAt: doc.createdAt,
    secretCreatedAt: doc.secret.createdAt,
    previousSecretValidUntil: doc.previousSecret && doc.previousSecretUntil && doc.previousSecretUntil > now ? doc.previousSecretUntil : null,
  });
}

@ObjectType({ description: 'A webhook with its signing secret, shown only here, once.' })
export class WebhookWithSecret {
  @Field(() => WebhookEndpoint, { description: 'The webhook.' })
  webhook!: WebhookEndpoint;

  @Field(() => String, { description: 'The signing secret in Standard Webhooks form (whsec_<base64>): verify deliveries with it. Store it now; it cannot be shown again.' })
  signingSecret!: string;
}

@InputType({ description: 'A new webhook.' })
export class CreateWebhookInput {
  @Field(() => String, { description: 'The receiver: an https URL (at most 2048 characters, no credentials) whose host resolves to public addresses only.' })
  url!: string;

  @Field(() => [WebhookEventTypeEnum], { description: 'The event types to receive (at least one).' })
  events!: WebhookEventType[];

  @Field(() => String, { nullable: true, description: 'What it is for (at most 500 characters).' })
  description?: string | null;
}

@ObjectType({ description: 'One event sent (or to be sent) to one webhook: the delivery log. The payload is not shown.' })
export class WebhookDelivery {
  @Field(() => ID, { description: 'The delivery id: the webhook-id header, the same on every retry.' })
  id!: string;

  @Field(() => String, { description: 'The event id (also in the payload\'s data.eventId).' })
  eventId!: string;

  @Field(() => WebhookEventTypeEnum, { description: 'The event type.' })
  eventType!: WebhookEventType;

  @Field(() => WebhookDeliveryStatusEnum, { description: 'Where it stands.' })
  status!: DeliveryStatus;

  @Field(() => Int, { description: 'Attempts made so far.' })
  attempts!: number;

  @Field(() => Int, { nullable: true, description: 'The HTTP status of the last attempt (null when no response came).' })
  lastHttpStatus!: number | null;

  @Field(() => String, { nullable: true, description: 'Why the last attempt failed: timeout, refused_url, refused_address, dns_failed, connection_failed, internal_error, http_<status>, webhook_disabled, webhook_deleted, interrupted.' })
  lastError!: string | null;

  @Field(() => String, { nullable: true, description: 'The first 64 bytes of the last response body (printable ASCII; others shown as ?).' })
  lastResponseSnippet!: string | null;

  @Field(() => Int, { nullable: true, description: 'How long the last attempt took, in milliseconds.' })
  lastDurationMs!: number | null;

  @Field(() => Date, { description: 'When it was queued.' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When the last attempt started.' })
  lastAttemptAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When the next attempt is due (null when none will be made).' })
  nextAttemptAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When the receiver accepted it.' })
  deliveredAt!: Date | null;
}

export function toDelivery(doc: WebhookDeliveryDoc): WebhookDelivery {
  return Object.assign(new WebhookDelivery(), {
    id: doc._id,
    eventId: doc.eventId,
    eventType: doc.eventType,
    status: doc.status,
    attempts: doc.attempts,
    lastHttpStatus: doc.lastHttpStatus,
    lastError: doc.lastError,
    lastResponseSnippet: doc.lastResponseSnippet,
    lastDurationMs: doc.lastDurationMs,
    createdAt: doc.createdAt,
    lastAttemptAt: doc.lastAttemptAt,
    nextAttemptAt: doc.status === 'PENDING' ? doc.nextAttemptAt : null,
    deliveredAt: doc.deliveredAt,
  });
}

export const WebhookConnection = connectionOf('Webhook', WebhookEndpoint, {
  edge: 'One webhook in a connection.',
  cursor: 'Opaque cursor for `after`.',
  node: 'The webhook.',
  connection: 'A page of the tenant\'s webhooks, oldest first.',
  edges: 'The webhooks of this page.',
  pageInfo: 'Whether more follow, and the cursor to continue from.',
  totalCount: 'How many webhooks the tenant has.',
});

export const WebhookDeliveryConnection = connectionOf('WebhookDelivery', WebhookDelivery, {
  edge: 'One delivery in a connection.',
  cursor: 'Opaque cursor for `after`.',
  node: 'The delivery.',
  connection: 'A page of a webhook\'s delivery log, newest first.',
  edges: 'The deliveries of this page.',
  pageInfo: 'Whether more follow, and the cursor to continue from.',
  totalCount: 'How many deliveries the webhook has.',
});
