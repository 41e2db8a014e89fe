/**
 * The consent module's vocabularies, declared once (GraphQL enums are derived from them with
 * enumOf; the audit catalogue repeats the ones it records and test/consent/consent-vocab.test.ts
 * checks they agree).
 */

/** GDPR Art. 6(1) legal bases of a processing purpose. Only CONSENT needs a consent record to contact someone. */
export const LEGAL_BASES = ['CONSENT', 'CONTRACT', 'LEGAL_OBLIGATION', 'VITAL_INTERESTS', 'PUBLIC_TASK', 'LEGITIMATE_INTERESTS'] as const;
export type LegalBasis = (typeof LEGAL_BASES)[number];

/** How a consent decision was collected. */
export const CONSENT_METHODS = ['WEB_FORM', 'API', 'DOUBLE_OPT_IN', 'VERBAL', 'IMPORT', 'GPC'] as const;
export type ConsentMethod = (typeof CONSENT_METHODS)[number];

/** Channels a subject can be contacted on. */
export const CHANNELS = ['EMAIL', 'SMS', 'WHATSAPP', 'PUSH', 'PHONE', 'POST'] as const;
export type Channel = (typeof CHANNELS)[number];

/** The contact point an opt-out on a channel is suppressed by (none for PUSH and POST: Coffer holds no device token or address). */
export function contactKindOf(channel: Channel): 'email' | 'phone' | null {
  if (channel === 'EMAIL') return 'email';
  if (channel === 'SMS' || channel === 'WHATSAPP' || channel === 'PHONE') return 'phone';
  return null;
}

/** Why a subject opted out (a code, so statistics and the audit log never hold free text). */
export const OPT_OUT_REASONS = ['UNSUBSCRIBE_LINK', 'ONE_CLICK', 'SUBJECT_REQUEST', 'COMPLAINT', 'BOUNCE', 'IMPORT', 'OTHER'] as const;
export type OptOutReason = (typeof OPT_OUT_REASONS)[number];

/** Where an opt-out or opt-in came from. */
export const OPT_OUT_SOURCES = ['PUBLIC_PAGE', 'EMAIL_HEADER', 'APP', 'API', 'SUPPORT', 'IMPORT'] as const;
export type OptOutSource = (typeof OPT_OUT_SOURCES)[number];

/** Kinds of ledger records: a consent decision, a channel opt-out or opt-in, a Global Privacy Control signal. */
export const LEDGER_KINDS = ['CONSENT', 'OPT_OUT', 'OPT_IN', 'GPC'] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

/** Why a contact is not allowed (ContactDecision.reasons). */
export const CONTACT_REASONS = [
  'OPTED_OUT',
  'SUPPRESSED',
  'NO_CONSENT',
  'CONSENT_WITHDRAWN',
  'NOTICE_OUTDATED',
  'GPC',
  'RESTRICTED',
  'ERASED',
  'UNKNOWN_SUBJECT',
] as const;
export type ContactReason = (typeof CONTACT_REASONS)[number];

/** Problems verifyConsentLedger reports. */
export const LEDGER_PROBLEMS = ['EDITED', 'DELETED', 'INSERTED'] as const;
export type LedgerProblem = (typeof LEDGER_PROBLEMS)[number];
