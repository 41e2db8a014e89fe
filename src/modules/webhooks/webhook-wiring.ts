import type { Db } from 'mongodb';
import { TenantScope } from '../../db/tenant-scope.js';
import type { JobLeaseRepository } from '../../jobs/job-lease.repository.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { AuditSink } from '../audit/audit-event.js';
import type { TenantCipher } from '../keys/tenant-cipher.js';
import { WebhookAuditSource, type AuditTrail } from './webhook-audit-source.js';
import { WebhookDeliveryJob, type DeliveryMetrics } from './webhook-delivery.job.js';
import { WebhookOutbox } from './webhook-outbox.js';
import { WebhookPruner, webhookRetention } from './webhook-retention.js';
import { WebhookScanJob } from './webhook-scan.job.js';
import { WebhookScanRepository } from './webhook-scan.repository.js';
import { WebhookScan } from './webhook-scan.js';
import type { Resolver, WebhookUrlPolicy } from './webhook-url.js';
import { DeliveryQueue, WebhookDirectory, WebhookRepository } from './webhook.repository.js';
import { WebhookService } from './webhook.service.js';

/** What callers of createServices may change: the DNS resolver (tests), delivery counters (metrics), the clock (tests). */
export interface WebhookOptions {
  resolve?: Resolver;
  metrics?: DeliveryMetrics;
  /** The webhooks module's clock (scan, outbox, delivery, pruning, retry); tests move it days ahead. */
  now?: () => Date;
}

interface WebhookWiringDeps {
  db: Db;
  config: Config['webhooks'];
  cipher: TenantCipher;
  audit: AuditSink;
  logger: Logger;
  leases: JobLeaseRepository;
  tenantsOfUser: (userId: string) => Promise<string[]>;
  /** The audit log read again by each scan (AuditLog.list). */
  auditTrail: AuditTrail;
  /** The ids of SUSPENDED tenants: their deliveries are held (read once per delivery round). */
  suspendedTenants: () => Promise<readonly string[]>;
  options: WebhookOptions;
}

/**
 * The webhooks module's objects with their explicit dependencies, called once by the
 * composition root (src/services.ts), which hands in what lives elsewhere (cipher, audit,
 * memberships) and registers `auditSource.observe` with the audit log.
 */
export function createWebhooks({ db, config, cipher, audit, logger, leases, tenantsOfUser, auditTrail, suspendedTenants, options }: WebhookWiringDeps) {
  const retention = webhookRetention(config.retentionDays, config.expiryWarningDays);
  const policy: WebhookUrlPolicy = { allowHttp: config.allowHttp, allowPrivateNetworks: config.allowPrivateNetworks };
  const webhooksOf = (tenantId: string) => new WebhookRepository(new TenantScope(db, tenantId));
  const queue = new DeliveryQueue(db);
  const { now } = options;
  const outbox = new WebhookOutbox({ queue, webhooksOf, logger, now });
  const service = new WebhookService({ webhooksOf, cipher, audit, logger, policy, secretGraceMs: config.secretGraceHours * 3_600_000, retryWithinMs: retention.deliveryKeepMs, resolve: options.resolve, now });
  const auditSource = new WebhookAuditSource({ outbox, trail: auditTrail, tenantsOfUser, logger });
  const scan = new WebhookScan({
    directory: new WebhookDirectory(db),
    scanOf: (tenantId) => new WebhookScanRepository(new TenantScope(db, tenantId)),
    outbox,
    auditSource,
    logger,
    expiryWarningDays: config.expiryWarningDays,
    horizonMs: retention.horizonMs,
    now,
  });
  const delivery = new WebhookDeliveryJob({
    queue,
    webhooksOf,
    cipher,
    logger,
    metrics: options.metrics,
    resolve: options.resolve,
    heldTenants: suspendedTenants,
    now,
    settings: {
      intervalMs: config.deliveryIntervalMs,
      timeoutMs: config.timeoutMs,
      maxAttempts: config.maxAttempts,
      backoffBaseMs: config.backoffBaseMs,
      backoffMaxMs: config.backoffMaxMs,
      policy,
    },
  });
  const pruner = new WebhookPruner({ queue, retention, logger, now });
  const scanJob = new WebhookScanJob(scan, { pruner, logger, leases, intervalMs: config.scanIntervalSeconds * 1000 });
  return { service, outbox, scan, auditSource, jobs: { delivery, scan: scanJob } };
}
