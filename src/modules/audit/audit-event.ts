/**
 * What every part of Coffer hands to the audit log. Never put a secret value,
 * password or token in here (details included): the log is for who/what/when.
 */
export type ActorType = 'USER' | 'API_KEY' | 'SYSTEM' | 'PUBLIC';
export type AuditOutcome = 'SUCCESS' | 'FAILURE' | 'DENIED';

/**
 * Every action Coffer records (stored exactly as written here). A closed set, so the
 * API can offer it as an enum and a filter can never silently miss by a typo; an
 * emitter of a new action must add it here (the compiler insists).
 */
export const AUDIT_ACTIONS = [
  'auth.signup',
  'auth.login.succeeded',
  'auth.login.failed',
  'auth.account.locked',
  'auth.login.locked',
  'auth.refresh_token.reused',
  'auth.session.revoked',
  'auth.password.changed',
  'member.invited',
  'member.joined',
  'member.role_changed',
  'member.removed',
  'invitation.revoked',
  'tenant.suspended',
  'tenant.reactivated',
  'apikey.created',
  'apikey.revoked',
  'secret.created',
  'secret.updated',
  'secret.revealed',
  'secret.deleted',
  'secret.restored',
  'secret.versions_destroyed',
  'secret.purged',
  'key.tenant_rotated',
  'key.reencryption_completed',
  'key.master_rewrapped',
  'permission.denied',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** What an event is about (stored as written here). */
export const AUDIT_RESOURCE_TYPES = ['SECRET', 'API_KEY', 'USER', 'SESSION', 'INVITATION', 'TENANT', 'TENANT_KEYS', 'OPERATION'] as const;
export type AuditResourceType = (typeof AUDIT_RESOURCE_TYPES)[number];

/** Events with no tenant (e.g. a failed login before any tenant is known) go to this chain. */
export const PLATFORM_CHAIN = '__platform__';

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
  /** Small, non-secret facts (version numbers, role names, counts). */
  details?: Record<string, unknown>;
}

/** The narrow door other modules use; the audit module implements it. */
export interface AuditSink {
  /** Appends events (batched per tenant); resolves once they are durably stored. */
  append(...events: AuditEventInput[]): Promise<void>;
}
