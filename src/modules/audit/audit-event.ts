/**
 * What every part of Coffer hands to the audit log. Never put a secret value,
 * password or token in here (details included): the log is for who/what/when.
 */
export type ActorType = 'USER' | 'API_KEY' | 'SYSTEM' | 'PUBLIC';
export type AuditOutcome = 'SUCCESS' | 'FAILURE' | 'DENIED';

/** Events with no tenant (e.g. a failed login before any tenant is known) go to this chain. */
export const PLATFORM_CHAIN = '__platform__';

export interface AuditEventInput {
  /** Tenant id, or PLATFORM_CHAIN. */
  tenantId: string;
  actor: { type: ActorType; id: string | null };
  /** Dotted verb, e.g. `secret.revealed`, `auth.login.failed`, `key.tenant_rotated`. */
  action: string;
  resource: { type: string; id: string | null };
  outcome: AuditOutcome;
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
  /** Small, non-secret facts (version numbers, role names, counts). */
  details?: Record<string, unknown>;
}

/** The narrow door other modules use; the audit module implements it. */
export interface AuditSink {
  /** Appends events (batched per tenant); resolves once they are durably stored. */
  append(...events: AuditEventInput[]): Promise<void>;
}
