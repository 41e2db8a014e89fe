import type { UnchainedEvent } from '../modules/audit/audit-chain.js';
import { PLATFORM_CHAIN } from '../modules/audit/audit-event.js';
import { CONSENT_CHANNELS, LOGIN_FAILURE_REASONS, type CofferMetrics, type ConsentEvent } from './metrics.js';

/**
 * Domain counters from the one seam every audited action passes: the audit log's observer
 * (AuditLog.observe), told about events once they are stored. Only the catalogue's action,
 * the outcome, the actor type and fixed-vocabulary detail codes (a login failure's reason, a
 * consent channel) reach a label; never an id, a name or a purpose key.
 */
export function auditMetricsObserver(metrics: CofferMetrics): (events: readonly UnchainedEvent[]) => void {
  return (events) => {
    for (const event of events) countEvent(metrics, event);
  };
}

function countEvent(metrics: CofferMetrics, event: UnchainedEvent): void {
  metrics.auditEvent(event.action, event.outcome);
  switch (event.action) {
    case 'permission.denied':
      // Only refusals by the permission rules and services' own checks: other DENIED events
      // (a locked sign-in, a reused refresh token) have counters of their own.
      metrics.accessDeniedTo(event.actor.type);
      break;
    case 'auth.login.failed': {
      const reason = event.details.reason;
      const known = LOGIN_FAILURE_REASONS.find((r) => r === reason);
      if (known) metrics.loginFailure(known);
      break;
    }
    case 'auth.login.locked':
      metrics.lockout();
      break;
    case 'auth.refresh_token.reused':
      metrics.refreshTokenReuse();
      break;
    case 'secret.revealed':
      if (event.outcome === 'SUCCESS') metrics.secretRevealed(event.actor.type);
      break;
    case 'key.tenant_rotated':
      metrics.keyRotated('tenant_key');
      break;
    case 'key.master_rewrapped':
      metrics.keyRotated('master_rewrap');
      break;
    case 'key.reencryption_completed':
      metrics.reencryptionCompleted();
      break;
    case 'audit.verification_failed':
      // Recorded by AuditLog.verify itself when a chain is broken (a platform-chain event has no tenant).
      metrics.chainVerificationFailed(event.tenantId === PLATFORM_CHAIN ? 'platform' : 'tenant');
      break;
    case 'consent.recorded':
      consent(metrics, event.details.granted === true ? 'granted' : 'withdrawn', event.details.channel);
      break;
    case 'consent.opted_out':
      consent(metrics, 'opted_out', event.details.channel);
      break;
    case 'consent.opted_in':
      consent(metrics, 'opted_in', event.details.channel);
      break;
    case 'consent.gpc_signalled':
      consent(metrics, 'gpc_signalled', undefined);
      break;
    case 'consent.confirmation_requested':
      consent(metrics, 'confirmation_requested', event.details.channel);
      break;
    default:
      break;
  }
}

function consent(metrics: CofferMetrics, event: ConsentEvent, channel: unknown): void {
  metrics.consentEvent(event, CONSENT_CHANNELS.find((c) => c === channel && c !== 'none') ?? 'none');
}
