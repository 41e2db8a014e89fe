import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { IntervalJob } from '../../jobs/interval-job.js';
import type { Logger } from '../../logger.js';
import type { TenantCipher } from '../keys/tenant-cipher.js';
import { postWebhook, type PostResult } from './webhook-http.js';
import type { WebhookUrlPolicy, Resolver } from './webhook-url.js';
import type { WebhookDeliveryDoc, WebhookDoc } from './webhook.document.js';
import type { ClaimedDelivery, DeliveryQueue, WebhookRepository } from './webhook.repository.js';
import { openSigningSecret } from './webhook.sealed-data.js';

/** Counters the metrics module can wire (no-op by default). */
export interface DeliveryMetrics {
  delivered(): void;
  failed(): void;
  gaveUp(): void;
}

export const NO_DELIVERY_METRICS: DeliveryMetrics = { delivered: () => {}, failed: () => {}, gaveUp: () => {} };

export interface DeliverySettings {
  /** WEBHOOK_DELIVERY_INTERVAL_MS: how often each instance looks for due deliveries. */
  intervalMs: number;
  /** WEBHOOK_TIMEOUT_MS: the whole exchange with the receiver. */
  timeoutMs: number;
  /** WEBHOOK_MAX_ATTEMPTS: attempts before a delivery is given up (FAILED). */
  maxAttempts: number;
  /** WEBHOOK_BACKOFF_BASE_MS / WEBHOOK_BACKOFF_MAX_MS: retry n waits base·2^(n−1), capped, with jitter. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  policy: WebhookUrlPolicy;
}

interface DeliveryDeps {
  queue: DeliveryQueue;
  webhooksOf: (tenantId: string) => WebhookRepository;
  cipher: TenantCipher;
  logger: Logger;
  settings: DeliverySettings;
  metrics?: DeliveryMetrics;
  resolve?: Resolver;
  /**
   * The ids of tenants whose deliveries are held (SUSPENDED tenants): read once per round of a
   * pass (at most ROUNDS reads per pass, whatever the number of deliveries), and left out by
   * the claim itself, so a held row is not even claimed and keeps its attempts and due time.
   */
  heldTenants?: () => Promise<readonly string[]>;
  now?: () => Date;
}

/** Deliveries claimed per round of a pass (sent concurrently). */
const BATCH = 20;
/** Rounds per pass at most, so one pass ends and stop() is prompt. */
const ROUNDS = 10;

/**
 * The wait before retry `attempt` + 1: base·2^(attempt−1) capped at max, then "equal jitter"
 * (between half and all of it), so receivers that failed together are not retried together.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const full = Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  return Math.round(full / 2 + random() * (full / 2));
}

/**
 * Sends queued deliveries. Every instance runs it; rows are claimed one by one with a lease
 * (DeliveryQueue.claim), so one instance sends a given row at a time, and the lease
 * (timeout + 30 s) outlives the exchange. Signed per the Standard Webhooks spec with the
 * webhook's secret (and its previous secret during a rotation's grace period). Deliveries of
 * suspended tenants are held (`heldTenants`): left PENDING, sent after reactivation.
 */
export class WebhookDeliveryJob {
  private readonly owner = randomUUID();
  private readonly job: IntervalJob;
  private readonly metrics: DeliveryMetrics;

  constructor(private readonly deps: DeliveryDeps) {
    this.metrics = deps.metrics ?? NO_DELIVERY_METRICS;
    this.job = new IntervalJob({ name: 'webhook delivery', pass: () => this.pass(), logger: deps.logger, intervalMs: deps.settings.intervalMs });
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  private now(): Date {
    return (this.deps.now ?? (() => new Date()))();
  }

  /** Claims and sends due deliveries; how many it handled. */
  async pass(): Promise<number> {
    let handled = 0;
    for (let round = 0; round < ROUNDS; round += 1) {
      const claimed: ClaimedDelivery[] = [];
      const held = this.deps.heldTenants ? await this.deps.heldTenants() : [];
      for (let i = 0; i < BATCH; i += 1) {
        const now = this.now();
        const row = await this.deps.queue.claim(this.owner, now, new Date(now.getTime() + this.deps.settings.timeoutMs + 30_000), held);
        if (!row) break;
        claimed.push(row);
      }
      await Promise.all(claimed.map((row) => this.deliver(row)));
      handled += claimed.length;
      if (claimed.length < BATCH) break;
    }
    return handled;
  }

  private async deliver(row: ClaimedDelivery): Promise<void> {
    const { settings } = this.deps;
    try {
      if (row.attempts > settings.maxAttempts) {
        // Claimed again after a crash during its last attempt.
        await this.finish(row, { status: 'FAILED', nextAttemptAt: null, lastError: row.lastError ?? 'interrupted' }, 'gave_up');
        return;
      }
      const webhook = await this.deps.webhooksOf(row.tenantId).findById(row.webhookId);
      if (!webhook || !webhook.enabled) {
        await this.finish(row, { status: 'CANCELLED', nextAttemptAt: null, lastError: webhook ? 'webhook_disabled' : 'webhook_deleted' }, null);
        return;
      }
      const sentAt = this.now();
      const headers = {
        'webhook-id': row._id,
        'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
        'webhook-signature': await this.signatures(webhook, row, sentAt),
      };
      const result = await postWebhook(webhook.url, row.payload, headers, { timeoutMs: settings.timeoutMs, policy: settings.policy, resolve: this.deps.resolve });
      await this.record(row, result);
    } catch (error) {
      this.deps.logger.error({ err: error, event: 'webhook.delivery_error', deliveryId: row._id, tenantId: row.tenantId }, 'webhook delivery failed unexpectedly');
      await this.record(row, { httpStatus: null, error: 'internal_error', snippet: null, durationMs: 0 }).catch(() => undefined);
    }
  }

  /** `v1,<sig>` under the current secret, then under the previous one while its grace period runs. */
  private async signatures(webhook: WebhookDoc, row: WebhookDeliveryDoc, sentAt: Date): Promise<string> {
    const secrets = [webhook.secret];
    if (webhook.previousSecret && webhook.previousSecretUntil && webhook.previousSecretUntil > sentAt) secrets.push(webhook.previousSecret);
    const signed: string[] = [];
    for (const secret of secrets) {
      const key = await openSigningSecret(this.deps.cipher, webhook.tenantId, webhook._id, secret);
      try {
        signed.push(new Webhook(new Uint8Array(key), { format: 'raw' }).sign(row._id, sentAt, row.payload));
      } finally {
        key.fill(0);
      }
    }
    return signed.join(' ');
  }

  private async record(row: ClaimedDelivery, result: PostResult): Promise<void> {
    const ok = result.httpStatus !== null && result.httpStatus >= 200 && result.httpStatus < 300;
    const outcome = {
      lastHttpStatus: result.httpStatus,
      lastError: ok ? null : (result.error ?? `http_${result.httpStatus ?? 0}`),
      lastResponseSnippet: result.snippet,
      lastDurationMs: result.durationMs,
    };
    if (ok) {
      await this.finish(row, { ...outcome, status: 'DELIVERED', deliveredAt: this.now(), nextAttemptAt: null }, 'delivered');
    } else if (row.attempts >= this.deps.settings.maxAttempts) {
      await this.finish(row, { ...outcome, status: 'FAILED', nextAttemptAt: null }, 'gave_up');
    } else {
      const wait = backoffMs(row.attempts, this.deps.settings.backoffBaseMs, this.deps.settings.backoffMaxMs);
      await this.finish(row, { ...outcome, nextAttemptAt: new Date(this.now().getTime() + wait) }, 'failed');
    }
  }

  private async finish(row: ClaimedDelivery, update: Partial<WebhookDeliveryDoc>, counted: 'delivered' | 'failed' | 'gave_up' | null): Promise<void> {
    const mine = await this.deps.queue.finish(row._id, this.owner, update);
    if (!mine) return; // the lease ran out and another instance took the row: its record wins
    const fields = { event: `webhook.${counted ?? 'cancelled'}`, deliveryId: row._id, tenantId: row.tenantId, webhookId: row.webhookId, attempts: row.attempts, httpStatus: update.lastHttpStatus ?? null, error: update.lastError ?? null };
    if (counted === 'delivered') {
      this.metrics.delivered();
      this.deps.logger.info(fields, 'webhook delivered');
    } else if (counted === 'failed') {
      this.metrics.failed();
      this.deps.logger.info(fields, 'webhook delivery failed; will retry');
    } else if (counted === 'gave_up') {
      this.metrics.failed();
      this.metrics.gaveUp();
      this.deps.logger.warn(fields, 'webhook delivery given up');
    } else {
      this.deps.logger.info(fields, 'webhook delivery cancelled');
    }
  }
}
