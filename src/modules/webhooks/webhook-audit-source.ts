import type { Logger } from '../../logger.js';
import type { UnchainedEvent } from '../audit/audit-chain.js';
import { PLATFORM_CHAIN } from '../audit/audit-event.js';
import { eventId, outboxEvent, type OutboxEvent } from './webhook-events.js';
import type { WebhookOutbox } from './webhook-outbox.js';

/** Stored events of one chain with `action` since `since` (newest first, at most a page): AuditLog.list. */
export type AuditTrail = (chainId: string, action: WatchedAction, since: Date) => Promise<UnchainedEvent[]>;

interface AuditSourceDeps {
  outbox: WebhookOutbox;
  /** Reads the durable audit log again (catchUp). */
  trail: AuditTrail;
  /** The tenants a user is a member of (for account lockouts, recorded on the platform chain). */
  tenantsOfUser: (userId: string) => Promise<string[]>;
  logger: Logger;
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const int = (value: unknown): number | null => (typeof value === 'number' && Number.isInteger(value) ? value : null);
const ints = (value: unknown): number[] => (Array.isArray(value) ? value.filter((v): v is number => Number.isInteger(v)) : []);

/**
 * Events derived from stored audit events (AuditLog.observe): the event id is a hash of the
 * audit event's id and the receiving tenant, so seeing an audit event twice queues it once.
 * Which tenant: the audit event's chain. Platform-chain events belong to no tenant; the one
 * exception is an account lockout, sent to every tenant the locked user is a member of (the
 * user id only; never the email that was tried). Other platform-chain events go to nobody.
 */
export class WebhookAuditSource {
  constructor(private readonly deps: AuditSourceDeps) {}

  /**
   * The AuditObserver: never throws or blocks (the outbox work runs detached, failures logged).
   * It takes tenant-chain events only. Platform-chain lockouts are left to the scan's catchUp:
   * routing one needs a membership lookup that exists only for a known email, and work done
   * right after a failed login must not differ between known and unknown emails
   * (test/auth/login-lockout.test.ts compares the database commands).
   */
  readonly observe = (events: readonly UnchainedEvent[]): void => {
    const relevant = events.filter((event) => WATCHED.has(event.action) && event.tenantId !== PLATFORM_CHAIN);
    if (relevant.length === 0) return;
    void this.handle(relevant).catch((error: unknown) => this.deps.logger.error({ err: error, event: 'webhook.audit_source_failed' }, 'could not queue webhook events from audit events'));
  };

  /**
   * Derives the events again from the audit log itself (the durable source) for the last
   * CATCH_UP_MS: the tenants' chains and the platform chain (lockouts). Ids are the same as the
   * observer's, so what was queued stays queued once, and what a crash between the audit append
   * and the observer lost is queued now. Run by every scan.
   */
  async catchUp(tenantIds: readonly string[], now: Date): Promise<number> {
    const since = new Date(now.getTime() - CATCH_UP_MS);
    const events: UnchainedEvent[] = [];
    for (const tenantId of tenantIds) {
      for (const action of TENANT_ACTIONS) events.push(...(await this.deps.trail(tenantId, action, since)));
    }
    events.push(...(await this.deps.trail(PLATFORM_CHAIN, 'auth.login.locked', since)));
    return events.length === 0 ? 0 : this.handle(events);
  }

  /** Queues the webhook events of these audit events (awaitable, for tests). */
  async handle(events: readonly UnchainedEvent[]): Promise<number> {
    const queued: OutboxEvent[] = [];
    for (const event of events) queued.push(...(await this.eventsOf(event)));
    return this.deps.outbox.emit(queued);
  }

  private async eventsOf(event: UnchainedEvent): Promise<OutboxEvent[]> {
    const details = event.details as Record<string, unknown>;
    const idFor = (tenantId: string) => eventId('audit', event._id, tenantId);
    const inTenant = event.tenantId !== PLATFORM_CHAIN ? event.tenantId : null;
    switch (event.action) {
      case 'key.reencryption_completed':
        if (!inTenant) return [];
        return [
          outboxEvent(idFor(inTenant), inTenant, 'KEY_ROTATION_COMPLETED', event.time, {
            targetVersion: int(details.targetVersion) ?? 0,
            retiredVersions: ints(details.retiredVersions),
            reencrypted: int(details.total) ?? 0,
          }),
        ];
      case 'auth.refresh_token.reused':
        if (!inTenant) return [];
        return [outboxEvent(idFor(inTenant), inTenant, 'REFRESH_TOKEN_REUSED', event.time, { sessionId: event.resource.id, userId: text(details.userId) })];
      case 'audit.verification_failed':
        if (!inTenant) return [];
        return [
          outboxEvent(idFor(inTenant), inTenant, 'AUDIT_VERIFICATION_FAILED', event.time, {
            firstInvalidSequence: int(details.firstInvalidSequence),
            checkedEvents: int(details.checkedEvents) ?? 0,
          }),
        ];
      case 'auth.login.locked': {
        const userId = event.resource.id;
        const until = text(details.until);
        if (!userId || !until) return []; // an unknown email: no user, no tenant
        const tenants = inTenant ? [inTenant] : await this.deps.tenantsOfUser(userId);
        return tenants.map((tenantId) => outboxEvent(idFor(tenantId), tenantId, 'ACCOUNT_LOCKED', event.time, { userId, until }));
      }
      default:
        return [];
    }
  }
}

/** The audit actions recorded on tenant chains that raise webhook events. */
const TENANT_ACTIONS = ['key.reencryption_completed', 'auth.refresh_token.reused', 'audit.verification_failed'] as const;
export type WatchedAction = (typeof TENANT_ACTIONS)[number] | 'auth.login.locked';

/** The audit actions that raise webhook events. */
export const WATCHED: ReadonlySet<string> = new Set<WatchedAction>([...TENANT_ACTIONS, 'auth.login.locked']);

/** How far back each scan reads the audit log again (catchUp). */
export const CATCH_UP_MS = 24 * 3_600_000;
