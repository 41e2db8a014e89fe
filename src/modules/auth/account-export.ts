import type { Role } from '../../identity/roles.js';
import type { AuditDetails } from '../audit/audit.document.js';

/**
 * The format of exportMyData (GDPR Art. 15 and 20 for a Coffer user's own account), documented
 * in docs/account-export-format.md. Bump ACCOUNT_EXPORT_VERSION on any incompatible change.
 */
export const ACCOUNT_EXPORT_FORMAT = 'coffer.account-export';
export const ACCOUNT_EXPORT_VERSION = 1;
/** The audit trail holds the newest events where the user is the actor, at most this many. */
export const ACCOUNT_EXPORT_AUDIT_LIMIT = 1000;
/** Sessions kept (live and ended; ended ones are swept after 30 days by the housekeeping job), newest first. */
export const ACCOUNT_EXPORT_SESSION_LIMIT = 1000;

/** All times are ISO 8601 UTC strings; ids are Coffer's. */
export interface AccountExportDocument {
  format: typeof ACCOUNT_EXPORT_FORMAT;
  version: typeof ACCOUNT_EXPORT_VERSION;
  generatedAt: string;
  /** The account; never the password hash. */
  account: { id: string; email: string; createdAt: string; updatedAt: string; platformAdmin: boolean; /** Whether a TOTP second factor is active; never its secret or recovery codes. */ twoFactorEnabled: boolean };
  memberships: { tenantId: string; tenantName: string | null; tenantSlug: string | null; tenantStatus: string | null; role: Role; joinedAt: string }[];
  sessions: {
    id: string;
    tenantId: string | null;
    createdAt: string;
    lastUsedAt: string;
    expiresAt: string;
    ip: string | null;
    userAgent: string | null;
    revoked: boolean;
    revokedAt: string | null;
    revokedReason: string | null;
  }[];
  auditTrail: {
    limit: number;
    /** True when more events exist than `limit`: only the newest are here. */
    truncated: boolean;
    /** The chains searched: the user's tenants (ids) and `platform`. */
    chains: string[];
    events: {
      id: string;
      chain: string;
      seq: number;
      time: string;
      action: string;
      resource: { type: string; id: string | null };
      outcome: string;
      ip: string | null;
      userAgent: string | null;
      requestId: string | null;
      details: AuditDetails;
    }[];
  };
}
