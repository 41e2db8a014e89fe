import type { AuditAction, AuditResourceType } from './audit-catalogue.js';
import type { ActorType } from '../../identity/caller.js';

/**
 * What every part of Coffer hands to the audit log. Never put a secret value,
 * password or token in here (details included): the log is for who/what/when.
 */
export type { ActorType } from '../../identity/caller.js';
/** How an audited action ended. */
export const AUDIT_OUTCOMES = ['SUCCESS', 'FAILURE', 'DENIED'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export { AUDIT_ACTIONS, AUDIT_RESOURCE_TYPES, type AuditAction, type AuditResourceType } from './audit-catalogue.js';

/** Events with no tenant (e.g. a failed login before any tenant is known) go to this chain. */
export const PLATFORM_CHAIN = '__platform__';

/**
 * An event as the log stores it, before it is chained. Modules do not write these by
 * hand: they call auditEvent() (audit-builder.ts), which checks the details against
 * the catalogue (audit-catalogue.ts) and returns a CataloguedEvent.
 */
export interface AuditEventInput {
  /** Tenant id, or PLATFORM_CHAIN. */
  tenantId: string;
  actor: { type: ActorType; id: string | null };
  /** Dotted verb, e.g. `secret.revealed`, `auth.login.failed`, `key.tenant_rotated`. */
  action: AuditAction;
  resource: { type: AuditResourceType; id: string | null };
  outcome: AuditOutcome;
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
  /** Small, non-personal facts; their shape per action is declared in the catalogue. */
  details?: Record<string, unknown>;
}

declare const catalogued: unique symbol;

/** An event made by auditEvent(): its details match the catalogue entry of its action. */
export type CataloguedEvent = AuditEventInput & { readonly [catalogued]: true };

/** The narrow door other modules use; the audit module implements it. Only catalogued events go in. */
export interface AuditSink {
  /** Appends events (batched per tenant); resolves once they are durably stored. */
  append(...events: CataloguedEvent[]): Promise<void>;
}
