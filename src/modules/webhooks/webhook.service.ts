import { randomBytes } from 'node:crypto';
import { fromCursor, toCursor } from '../../db/cursor.js';
import { appError, badInput, conflict, notFound } from '../../errors.js';
import { inTenant, type Caller, type TenantCaller } from '../../identity/caller.js';
import type { Logger } from '../../logger.js';
import { auditEvent } from '../audit/audit-builder.js';
import type { AuditSink } from '../audit/audit-event.js';
import type { TenantCipher } from '../keys/tenant-cipher.js';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from './webhook-events.js';
import { validateWebhookUrl, type Resolver, type WebhookUrlPolicy } from './webhook-url.js';
import type { WebhookDeliveryDoc, WebhookDoc } from './webhook.document.js';
import type { WebhookRepository } from './webhook.repository.js';
import { newSigningSecret } from './webhook.sealed-data.js';

const PAGE_MAX = 100;
const DESCRIPTION_MAX = 500;
/** Webhooks one tenant may register. */
export const MAX_WEBHOOKS_PER_TENANT = 20;

interface WebhookServiceDeps {
  webhooksOf: (tenantId: string) => WebhookRepository;
  cipher: TenantCipher;
  audit: AuditSink;
  logger: Logger;
  policy: WebhookUrlPolicy;
  /** WEBHOOK_SECRET_GRACE_HOURS: how long a rotated-out secret keeps signing. */
  secretGraceMs: number;
  /** WEBHOOK_RETENTION_DAYS: a given-up delivery older than this is not retried (it is about to be pruned). */
  retryWithinMs: number;
  resolve?: Resolver;
  now?: () => Date;
}

/** A page as the resolver maps it. */
export interface WebhookPage<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: () => Promise<number>;
}

function pageSize(first: number | null | undefined): number {
  const size = first ?? 50;
  if (!Number.isInteger(size) || size < 1 || size > PAGE_MAX) throw badInput('first', `must be 1 to ${PAGE_MAX}`);
  return size;
}

/** Registering and managing a tenant's webhooks, and reading their delivery log (ADMIN and up; see permissions.ts). */
export class WebhookService {
  constructor(private readonly deps: WebhookServiceDeps) {}

  private now(): Date {
    return (this.deps.now ?? (() => new Date()))();
  }

  private async existing(caller: TenantCaller, id: string): Promise<WebhookDoc> {
    // Another tenant's webhook is simply not found in this tenant's scope (no existence oracle).
    const doc = await this.deps.webhooksOf(caller.tenantId).findById(id);
    if (!doc) throw notFound('Webhook');
    return doc;
  }

  private auditCaller(caller: TenantCaller) {
    return { tenantId: caller.tenantId, actor: caller.actor, request: caller.request };
  }

  /** Registers an endpoint; returns it with its signing secret (`whsec_...`), shown only here. */
  async create(principal: Caller, input: { url: string; events: readonly string[]; description?: string | null }): Promise<{ webhook: WebhookDoc; signingSecret: string }> {
    const caller = inTenant(principal);
    const description = (input.description ?? '').trim();
    if (description.length > DESCRIPTION_MAX) throw badInput('description', `must be at most ${DESCRIPTION_MAX} characters`);
    const events = [...new Set(input.events)];
    if (events.length === 0) throw badInput('events', 'give at least one event type');
    const unknown = events.find((e) => !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(e));
    if (unknown !== undefined) throw badInput('events', 'holds an unknown event type');
    const url = await validateWebhookUrl(input.url, this.deps.policy, this.deps.resolve);
    const repo = this.deps.webhooksOf(caller.tenantId);
    if ((await repo.count()) >= MAX_WEBHOOKS_PER_TENANT) throw conflict(`A tenant can register at most ${MAX_WEBHOOKS_PER_TENANT} webhooks`);
    const now = this.now();
    // Ids start with the creation time, so the list (in _id order) is oldest first.
    const id = `wh_${now.getTime().toString(36).padStart(9, '0')}${randomBytes(6).toString('hex')}`;
    const { stored, text } = await newSigningSecret(this.deps.cipher, caller.tenantId, id, now);
    const webhook = await repo.create({
      _id: id,
      url: url.href,
      events: events as WebhookEventType[],
      description,
      enabled: true,
      secret: stored,
      previousSecret: null,
      previousSecretUntil: null,
      revision: 1,
      createdAt: now,
      createdBy: caller.actor.id,
      updatedAt: now,
    });
    await this.deps.audit.append(auditEvent('webhook.created', { caller: this.auditCaller(caller), resource: { id }, details: { events: webhook.events } }));
    return { webhook, signingSecret: text };
  }

  async list(principal: Caller, first: number | null | undefined, after: string | null | undefined): Promise<WebhookPage<WebhookDoc>> {
    const caller = inTenant(principal);
    const size = pageSize(first);
    const cursor = after ? fromCursor(after) : null;
    if (after && !cursor?.startsWith('wh_')) throw badInput('after', 'is not a cursor from this connection');
    const repo = this.deps.webhooksOf(caller.tenantId);
    const rows = await repo.list(size + 1, cursor);
    const page = rows.slice(0, size);
    return {
      edges: page.map((node) => ({ cursor: toCursor(node._id), node })),
      pageInfo: { hasNextPage: rows.length > size, endCursor: page.length ? toCursor(page[page.length - 1]!._id) : null },
      totalCount: () => repo.count(),
    };
  }

  /** Enables or disables a webhook; a disabled one gets no deliveries (queued ones are cancelled when due). */
  async setEnabled(principal: Caller, id: string, enabled: boolean): Promise<WebhookDoc> {
    const caller = inTenant(principal);
    await this.existing(caller, id);
    const doc = await this.deps.webhooksOf(caller.tenantId).setEnabled(id, enabled, this.now());
    if (!doc) throw notFound('Webhook');
    await this.deps.audit.append(auditEvent(enabled ? 'webhook.enabled' : 'webhook.disabled', { caller: this.auditCaller(caller), resource: { id } }));
    return doc;
  }

  /** Deletes a webhook and its delivery log. */
  async delete(principal: Caller, id: string): Promise<boolean> {
    const caller = inTenant(principal);
    await this.existing(caller, id);
    if (!(await this.deps.webhooksOf(caller.tenantId).delete(id))) throw notFound('Webhook');
    await this.deps.audit.append(auditEvent('webhook.deleted', { caller: this.auditCaller(caller), resource: { id } }));
    return true;
  }

  /** A new signing secret, shown once; the old one keeps signing (a second signature) for the grace period. */
  async rotateSecret(principal: Caller, id: string): Promise<{ webhook: WebhookDoc; signingSecret: string }> {
    const caller = inTenant(principal);
    const current = await this.existing(caller, id);
    const now = this.now();
    const until = new Date(now.getTime() + this.deps.secretGraceMs);
    const { stored, text } = await newSigningSecret(this.deps.cipher, caller.tenantId, id, now);
    const webhook = await this.deps.webhooksOf(caller.tenantId).rotate(current, stored, until, now);
    if (!webhook) throw conflict('The webhook changed meanwhile; try again');
    await this.deps.audit.append(auditEvent('webhook.secret_rotated', { caller: this.auditCaller(caller), resource: { id }, details: { previousValidUntil: until.toISOString() } }));
    return { webhook, signingSecret: text };
  }

  /** One webhook's delivery log, newest first (no payloads). */
  async deliveries(principal: Caller, webhookId: string, first: number | null | undefined, after: string | null | undefined): Promise<WebhookPage<WebhookDeliveryDoc>> {
    const caller = inTenant(principal);
    await this.existing(caller, webhookId);
    const size = pageSize(first);
    const position = after ? decodeDeliveryCursor(after) : null;
    const repo = this.deps.webhooksOf(caller.tenantId);
    const rows = await repo.deliveriesOf(webhookId, size + 1, position);
    const page = rows.slice(0, size);
    const cursorOf = (row: WebhookDeliveryDoc) => toCursor(`${row.createdAt.getTime()}:${row._id}`);
    return {
      edges: page.map((node) => ({ cursor: cursorOf(node), node })),
      pageInfo: { hasNextPage: rows.length > size, endCursor: page.length ? cursorOf(page[page.length - 1]!) : null },
      totalCount: () => repo.countDeliveries(webhookId),
    };
  }

  /**
   * Sends a given-up (FAILED) delivery again: back to PENDING, attempts reset, due now. It keeps
   * its id, so it goes out with the same `webhook-id` (receivers dedupe on it) and a fresh
   * timestamp and signature. Refused (CONFLICT, `reason`) unless it is FAILED, while its webhook
   * is disabled, and once it is older than the retention; another tenant's id is NOT_FOUND.
   */
  async retryDelivery(principal: Caller, id: string): Promise<WebhookDeliveryDoc> {
    const caller = inTenant(principal);
    const repo = this.deps.webhooksOf(caller.tenantId);
    const row = await repo.findDelivery(id);
    // A deleted webhook's delivery log is deleted with it, so its deliveries are not found either.
    const webhook = row ? await repo.findById(row.webhookId) : null;
    if (!row || !webhook) throw notFound('Webhook delivery');
    if (!webhook.enabled) throw appError('CONFLICT', 'The webhook is disabled; enable it before retrying its deliveries', { reason: 'WEBHOOK_DISABLED' });
    if (row.status !== 'FAILED') throw notRetryable(row.status);
    const now = this.now();
    const notBefore = new Date(now.getTime() - this.deps.retryWithinMs);
    if (row.createdAt < notBefore) throw appError('CONFLICT', 'The delivery is older than the retention (WEBHOOK_RETENTION_DAYS) and is no longer sent', { reason: 'EXPIRED' });
    // Compare-and-set on FAILED: of two concurrent retries one wins, the other is refused.
    const updated = await repo.requeueFailed(id, notBefore, now);
    if (!updated) throw notRetryable('PENDING');
    await this.deps.audit.append(
      auditEvent('webhook.delivery_retried', { caller: this.auditCaller(caller), resource: { id: row.webhookId }, details: { deliveryId: row._id, eventType: row.eventType } }),
    );
    return updated;
  }
}

function notRetryable(status: string) {
  return appError('CONFLICT', `Only a given-up (FAILED) delivery can be retried; this one is ${status}`, { reason: 'NOT_FAILED', status });
}

function decodeDeliveryCursor(after: string): { createdAt: Date; id: string } {
  const match = /^(\d{1,15}):(msg_[0-9a-f]{32})$/.exec(fromCursor(after));
  if (!match) throw badInput('after', 'is not a cursor from this connection');
  return { createdAt: new Date(Number(match[1])), id: match[2]! };
}
