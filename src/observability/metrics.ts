import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ErrorCode } from '../errors.js';
import { AUDIT_ACTIONS } from '../modules/audit/audit-catalogue.js';
import { ACTOR_TYPES } from '../identity/caller.js';
import { AUDIT_OUTCOMES } from '../modules/audit/audit-event.js';

/**
 * Coffer's Prometheus metrics: one registry per app (tests run several apps in one process),
 * every name `coffer_*`, every metric with HELP text.
 *
 * Labels only ever carry values from the fixed sets below (or the schema's root field names, a
 * finite set fixed at build time): never a tenant id, user id, name, email, IP, purpose key,
 * operation name or any other text a client or tenant chose (README "Monitoring").
 */

/** Where an HTTP request went, by path (anything else is `other`). */
export const HTTP_ROUTES = ['graphql', 'health', 'metrics', 'jwks', 'consent_page', 'other'] as const;
export type HttpRoute = (typeof HTTP_ROUTES)[number];
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

export const OPERATION_TYPES = ['query', 'mutation', 'subscription', 'unknown'] as const;
export type OperationTypeLabel = (typeof OPERATION_TYPES)[number];
/** `invalid`: the document never resolved to an operation (parse or validation failure). */
export const OPERATION_OUTCOMES = ['success', 'error', 'invalid'] as const;
export type OperationOutcome = (typeof OPERATION_OUTCOMES)[number];
/** Root-field label values that are not a field of the schema. */
export const ROOT_FIELD_FALLBACKS = ['_invalid', '_multiple', '_introspection'] as const;
export const RESOLVER_OUTCOMES = ['success', 'error'] as const;

/** Error codes as labelled: the fixed codes of src/errors.ts; anything else (never expected) is OTHER. */
export const ERROR_CODE_LABELS = [...Object.values(ErrorCode), 'OTHER'] as const;

export const LOGIN_FAILURE_REASONS = ['unknown_email', 'wrong_password', 'locked'] as const;
/** `request`: an Express limiter answered HTTP 429 (whole API, public pages); `auth`: a RATE_LIMITED GraphQL error (sign-in and similar). */
export const RATE_LIMITERS = ['request', 'auth'] as const;
export type RateLimiter = (typeof RATE_LIMITERS)[number];
export const KEY_ROTATION_KINDS = ['tenant_key', 'master_rewrap'] as const;
export const AUDIT_CHAINS = ['tenant', 'platform'] as const;
export type AuditChainKind = (typeof AUDIT_CHAINS)[number];
export const CONSENT_EVENTS = ['granted', 'withdrawn', 'opted_out', 'opted_in', 'gpc_signalled', 'confirmation_requested'] as const;
export type ConsentEvent = (typeof CONSENT_EVENTS)[number];
/** Consent channels as recorded (audit-catalogue.ts CHANNEL_VALUES); `none` for events without one. */
export const CONSENT_CHANNELS = ['EMAIL', 'SMS', 'WHATSAPP', 'PUSH', 'PHONE', 'POST', 'none'] as const;
export const AUDIT_ACTION_LABELS = [...AUDIT_ACTIONS, 'other'] as const;
export const POOL_STATES = ['in_use', 'available'] as const;
/** The driver's reasons for a failed checkout (CMAP spec), `other` for anything else. */
export const CHECKOUT_FAILURE_REASONS = ['poolClosed', 'timeout', 'connectionError', 'other'] as const;

/** Webhook delivery outcomes (the webhook module reports through WebhookDeliveryRecorder). */
export const WEBHOOK_OUTCOMES = ['delivered', 'failed', 'gave_up'] as const;
export type WebhookDeliveryOutcome = (typeof WEBHOOK_OUTCOMES)[number];
/** What the webhook sender is handed (wired in src/services.ts): one call per delivery attempt's end. */
export type WebhookDeliveryRecorder = (outcome: WebhookDeliveryOutcome) => void;

/** Every label name and the values it may take; the metrics test checks the output against it. */
export const ALLOWED_LABEL_VALUES: Readonly<Record<string, readonly string[]>> = {
  route: HTTP_ROUTES,
  status_class: STATUS_CLASSES,
  operation_type: OPERATION_TYPES,
  outcome: [...new Set([...OPERATION_OUTCOMES, ...RESOLVER_OUTCOMES, ...AUDIT_OUTCOMES, ...WEBHOOK_OUTCOMES])],
  code: ERROR_CODE_LABELS,
  reason: [...new Set([...LOGIN_FAILURE_REASONS, ...CHECKOUT_FAILURE_REASONS])],
  limiter: RATE_LIMITERS,
  kind: KEY_ROTATION_KINDS,
  chain: AUDIT_CHAINS,
  event: CONSENT_EVENTS,
  channel: CONSENT_CHANNELS,
  action: AUDIT_ACTION_LABELS,
  actor_type: ACTOR_TYPES,
  state: POOL_STATES,
};

/** Buckets for request and resolver durations (seconds): 5 ms to 10 s. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Buckets for a connection-pool checkout (seconds): 1 ms to 5 s. */
const CHECKOUT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

/** Values read from the database at scrape time (see StateGauges). */
export interface StateSnapshot {
  dsrOpen: number;
  dsrDueSoon: number;
  dsrOverdue: number;
  secretsRotationDue: number;
  secretsExpired: number;
  reencryptionTenants: number;
  reencryptionValues: number;
}

/** The app's metrics; methods are the only way code records one (so labels stay typed). */
export class CofferMetrics {
  readonly registry = new Registry();

  private readonly httpRequests: Counter<'route' | 'status_class'>;
  private readonly httpDuration: Histogram<'route' | 'status_class'>;
  private readonly operationDuration: Histogram<'operation_type' | 'root_field' | 'outcome'>;
  private readonly resolverDuration: Histogram<'operation_type' | 'root_field' | 'outcome'>;
  private readonly graphqlErrors: Counter<'code'>;
  private readonly auditEvents: Counter<'action' | 'outcome'>;
  private readonly loginFailures: Counter<'reason'>;
  private readonly lockouts: Counter;
  private readonly rateLimited: Counter<'limiter'>;
  private readonly refreshReuse: Counter;
  private readonly accessDenied: Counter<'actor_type'>;
  private readonly secretReveals: Counter<'actor_type'>;
  private readonly keyRotations: Counter<'kind'>;
  private readonly reencryptionsCompleted: Counter;
  private readonly chainFailures: Counter<'chain'>;
  private readonly consentEvents: Counter<'event' | 'channel'>;
  private readonly webhookDeliveries: Counter<'outcome'>;
  private readonly poolConnections: Gauge<'state'>;
  private readonly checkoutWait: Histogram;
  private readonly checkoutFailures: Counter<'reason'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'coffer_' });

    this.httpRequests = new Counter({
      name: 'coffer_http_requests_total',
      help: 'HTTP responses sent, by route (a fixed set of path groups) and status class.',
      labelNames: ['route', 'status_class'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'coffer_http_request_duration_seconds',
      help: 'Time from receiving an HTTP request to finishing its response, by route and status class.',
      labelNames: ['route', 'status_class'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.operationDuration = new Histogram({
      name: 'coffer_graphql_operation_duration_seconds',
      help: 'Duration of GraphQL operations, by operation type, root field (a field of the schema; _multiple, _introspection or _invalid otherwise) and outcome (success, error, invalid). Operation names are never labels.',
      labelNames: ['operation_type', 'root_field', 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.resolverDuration = new Histogram({
      name: 'coffer_graphql_resolver_duration_seconds',
      help: 'Duration of root-field resolvers (a field of the schema), by operation type and outcome.',
      labelNames: ['operation_type', 'root_field', 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.graphqlErrors = new Counter({
      name: 'coffer_graphql_errors_total',
      help: 'Errors in GraphQL responses, by extensions.code (the fixed codes of src/errors.ts).',
      labelNames: ['code'],
      registers,
    });
    this.auditEvents = new Counter({
      name: 'coffer_audit_events_total',
      help: 'Audit events stored, by catalogue action and outcome (SUCCESS, FAILURE, DENIED).',
      labelNames: ['action', 'outcome'],
      registers,
    });
    this.loginFailures = new Counter({
      name: 'coffer_login_failures_total',
      help: 'Failed or refused sign-ins, by reason (unknown_email, wrong_password, locked).',
      labelNames: ['reason'],
      registers,
    });
    this.lockouts = new Counter({ name: 'coffer_login_lockouts_total', help: 'Sign-in lockouts of an email from one address after repeated failures.', registers });
    this.rateLimited = new Counter({
      name: 'coffer_rate_limit_rejections_total',
      help: 'Requests refused by a rate limit: limiter request (HTTP 429 from the API-wide or public-page limit) or auth (RATE_LIMITED on sign-in and other credential checks).',
      labelNames: ['limiter'],
      registers,
    });
    this.refreshReuse = new Counter({
      name: 'coffer_refresh_token_reuse_total',
      help: 'Refresh tokens presented again after use (possible theft); each revoked its session.',
      registers,
    });
    this.accessDenied = new Counter({
      name: 'coffer_access_denied_total',
      help: 'Operations refused by the permission rules or a service\'s own access check (audit action permission.denied), by actor type.',
      labelNames: ['actor_type'],
      registers,
    });
    this.secretReveals = new Counter({ name: 'coffer_secret_reveals_total', help: 'Secret values read, by actor type.', labelNames: ['actor_type'], registers });
    this.keyRotations = new Counter({
      name: 'coffer_key_rotations_total',
      help: 'Key rotations: tenant_key (a tenant data key rotated) or master_rewrap (a tenant\'s keys re-wrapped under the active master key).',
      labelNames: ['kind'],
      registers,
    });
    this.reencryptionsCompleted = new Counter({
      name: 'coffer_reencryptions_completed_total',
      help: 'Tenant re-encryptions that finished (every value on the active data key).',
      registers,
    });
    this.chainFailures = new Counter({
      name: 'coffer_audit_chain_verification_failures_total',
      help: 'Audit chain verifications that found a broken link, by chain (tenant or platform).',
      labelNames: ['chain'],
      registers,
    });
    this.consentEvents = new Counter({
      name: 'coffer_consent_events_total',
      help: 'Consent and opt-out events, by event and contact channel (none when the event has no channel).',
      labelNames: ['event', 'channel'],
      registers,
    });
    this.webhookDeliveries = new Counter({
      name: 'coffer_webhook_deliveries_total',
      help: 'Webhook deliveries, by outcome: delivered, failed (to be retried) or gave_up (no retry left).',
      labelNames: ['outcome'],
      registers,
    });
    this.poolConnections = new Gauge({
      name: 'coffer_mongodb_pool_connections',
      help: 'MongoDB driver pool connections, by state (in_use: checked out; available: idle in the pool).',
      labelNames: ['state'],
      registers,
    });
    this.checkoutWait = new Histogram({
      name: 'coffer_mongodb_pool_checkout_wait_seconds',
      help: 'Time an operation waited to check a connection out of the MongoDB driver pool.',
      buckets: CHECKOUT_BUCKETS,
      registers,
    });
    this.checkoutFailures = new Counter({
      name: 'coffer_mongodb_pool_checkout_failures_total',
      help: 'Failed checkouts from the MongoDB driver pool, by reason (poolClosed, timeout, connectionError).',
      labelNames: ['reason'],
      registers,
    });

    // Every fixed series exists from the start (at 0), so alerts and rate() see it before the first event.
    for (const reason of LOGIN_FAILURE_REASONS) this.loginFailures.inc({ reason }, 0);
    for (const limiter of RATE_LIMITERS) this.rateLimited.inc({ limiter }, 0);
    for (const kind of KEY_ROTATION_KINDS) this.keyRotations.inc({ kind }, 0);
    for (const chain of AUDIT_CHAINS) this.chainFailures.inc({ chain }, 0);
    for (const outcome of WEBHOOK_OUTCOMES) this.webhookDeliveries.inc({ outcome }, 0);
    for (const state of POOL_STATES) this.poolConnections.set({ state }, 0);
    this.lockouts.inc(0);
    this.refreshReuse.inc(0);
    this.reencryptionsCompleted.inc(0);
    this.accessDenied.inc({ actor_type: 'USER' }, 0);
    this.httpRequests.inc({ route: 'graphql', status_class: '5xx' }, 0);
  }

  /** The text exposition format and its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  httpResponse(route: HttpRoute, status: number, seconds: number): void {
    const status_class = statusClass(status);
    this.httpRequests.inc({ route, status_class });
    this.httpDuration.observe({ route, status_class }, seconds);
  }

  operation(operationType: OperationTypeLabel, rootField: string, outcome: OperationOutcome, seconds: number): void {
    this.operationDuration.observe({ operation_type: operationType, root_field: rootField, outcome }, seconds);
  }

  resolver(operationType: OperationTypeLabel, rootField: string, outcome: (typeof RESOLVER_OUTCOMES)[number], seconds: number): void {
    this.resolverDuration.observe({ operation_type: operationType, root_field: rootField, outcome }, seconds);
  }

  graphqlError(code: string): void {
    this.graphqlErrors.inc({ code: (ERROR_CODE_LABELS as readonly string[]).includes(code) ? code : 'OTHER' });
  }

  rateLimitRejection(limiter: RateLimiter): void {
    this.rateLimited.inc({ limiter });
  }

  auditEvent(action: string, outcome: string): void {
    this.auditEvents.inc({ action: (AUDIT_ACTIONS as readonly string[]).includes(action) ? action : 'other', outcome });
  }

  loginFailure(reason: (typeof LOGIN_FAILURE_REASONS)[number]): void {
    this.loginFailures.inc({ reason });
  }

  lockout(): void {
    this.lockouts.inc();
  }

  refreshTokenReuse(): void {
    this.refreshReuse.inc();
  }

  accessDeniedTo(actorType: string): void {
    this.accessDenied.inc({ actor_type: actorType });
  }

  secretRevealed(actorType: string): void {
    this.secretReveals.inc({ actor_type: actorType });
  }

  keyRotated(kind: (typeof KEY_ROTATION_KINDS)[number]): void {
    this.keyRotations.inc({ kind });
  }

  reencryptionCompleted(): void {
    this.reencryptionsCompleted.inc();
  }

  chainVerificationFailed(chain: AuditChainKind): void {
    this.chainFailures.inc({ chain });
  }

  consentEvent(event: ConsentEvent, channel: (typeof CONSENT_CHANNELS)[number]): void {
    this.consentEvents.inc({ event, channel });
  }

  /** The webhook module's seam (see WebhookDeliveryRecorder). */
  readonly recordWebhookDelivery: WebhookDeliveryRecorder = (outcome) => {
    this.webhookDeliveries.inc({ outcome });
  };

  poolConnectionsChanged(inUse: number, available: number): void {
    this.poolConnections.set({ state: 'in_use' }, inUse);
    this.poolConnections.set({ state: 'available' }, available);
  }

  poolCheckedOut(seconds: number): void {
    this.checkoutWait.observe(seconds);
  }

  poolCheckoutFailed(reason: string, seconds: number): void {
    this.checkoutWait.observe(seconds);
    this.checkoutFailures.inc({ reason: (CHECKOUT_FAILURE_REASONS as readonly string[]).includes(reason) ? reason : 'other' });
  }

  /**
   * Gauges read from the database when scraped: `read` is called at most once per scrape
   * (it caches itself, see StateGauges); `coffer_database_up` is 0 when it fails.
   */
  stateGauges(read: () => Promise<StateSnapshot>): void {
    const registers = [this.registry];
    let pending: Promise<StateSnapshot | null> | null = null;
    // All gauges of one scrape share one read.
    const snapshot = (): Promise<StateSnapshot | null> => {
      pending ??= read()
        .catch(() => null)
        .finally(() => setImmediate(() => (pending = null)));
      return pending;
    };
    const gauge = (name: string, help: string, pick: (s: StateSnapshot) => number) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          const s = await snapshot();
          if (s) this.set(pick(s));
        },
      });
    new Gauge({
      name: 'coffer_database_up',
      help: '1 when the last scrape-time database read succeeded, 0 when the database could not be read.',
      registers,
      async collect() {
        this.set((await snapshot()) ? 1 : 0);
      },
    });
    gauge('coffer_dsr_open', 'Open data-subject requests (RECEIVED or IN_PROGRESS), all tenants.', (s) => s.dsrOpen);
    gauge('coffer_dsr_due_soon', 'Open data-subject requests due within 7 days (not yet overdue), all tenants.', (s) => s.dsrDueSoon);
    gauge('coffer_dsr_overdue', 'Open data-subject requests past their deadline, all tenants.', (s) => s.dsrOverdue);
    gauge('coffer_secrets_rotation_due', 'Secrets (not deleted) whose rotation is due (status ROTATION_DUE or later), all tenants.', (s) => s.secretsRotationDue);
    gauge('coffer_secrets_expired', 'Secrets (not deleted) past their expiry date, all tenants.', (s) => s.secretsExpired);
    gauge('coffer_reencryption_tenants_pending', 'Tenants whose re-encryption onto a new data key is running.', (s) => s.reencryptionTenants);
    gauge('coffer_reencryption_values_pending', 'Sealed values still to re-encrypt in running re-encryptions.', (s) => s.reencryptionValues);
  }
}

export function statusClass(status: number): StatusClass {
  const first = Math.floor(status / 100);
  return first >= 1 && first <= 5 ? STATUS_CLASSES[first - 1]! : '5xx';
}
