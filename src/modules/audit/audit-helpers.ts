import type { RequestInfo } from '../../identity/caller.js';
import { PLATFORM_CHAIN, type AuditAction, type AuditEventInput, type AuditOutcome, type AuditResourceType } from './audit-event.js';

/** Builds an event for something a user (or an anonymous caller) did over a request. */
export function userEvent(
  tenantId: string | null,
  userId: string | null,
  action: AuditAction,
  resource: { type: AuditResourceType; id: string | null },
  request: RequestInfo | null,
  details: Record<string, unknown> = {},
  outcome: AuditOutcome = 'SUCCESS',
): AuditEventInput {
  return {
    tenantId: tenantId ?? PLATFORM_CHAIN,
    actor: userId ? { type: 'USER', id: userId } : { type: 'PUBLIC', id: null },
    action,
    resource,
    outcome,
    ip: request?.ip ?? null,
    userAgent: request?.userAgent ?? null,
    requestId: request?.requestId ?? null,
    details,
  };
}
