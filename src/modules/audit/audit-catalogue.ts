/**
 * The audit catalogue: every action Coffer records, what kind of resource it is
 * about, and the exact shape of its `details`. It is the single source of:
 * - the TypeScript types of the builder (audit-builder.ts): an unknown action, an
 *   undeclared detail key or a value of the wrong type does not compile;
 * - the builder's run-time guard (the same check, in case of casts);
 * - the GraphQL enums AuditAction and AuditResourceType (audit.types.ts);
 * - the table in README "The audit log" (test/audit-catalogue.test.ts keeps it current).
 *
 * Why so strict: the audit chain is immutable, so personal data that reaches it can
 * never be erased. Detail values are only ids, literals, counts, booleans, times and
 * names that tenants or operators give resources (audit-fields.ts); every `id` and
 * `name` field says below why it is not personal data. Never add a field holding an
 * email, a person's name, free text from a request, a secret value, a password or a token.
 *
 * Actions are stored exactly as written here (dotted); adding one is adding an entry.
 */
import { API_KEY_SCOPES } from '../../identity/scopes.js';
import { count, flag, id, isoTime, listOf, name, oneOf, optional, type DetailsOfSpec, type FieldSpec } from './audit-fields.js';

/** What an event may be about (stored as written), with the meaning of its resource id. */
export const AUDIT_RESOURCES = {
  SECRET: 'A secret; the id is the secret id (null when refused before it was looked up).',
  API_KEY: 'A machine API key; the id is the key id.',
  USER: 'A user or member; the id is the user id.',
  SESSION: 'A sign-in session; the id is the session id.',
  INVITATION: 'An invitation; the id is the invitation id.',
  TENANT: 'The tenant itself.',
  TENANT_KEYS: 'The tenant\'s data and audit keys (rotation, re-encryption, re-wrap).',
  OPERATION: 'An API operation that was refused by the permission rules.',
  DATA_SUBJECT: 'A data subject (privacy); the id is the subject id, also kept by its erasure tombstone (null when one operation read several).',
  DATA_SUBJECT_REQUEST: 'A data-subject request (GDPR Art. 15-21); the id is the request id.',
  CONSENT_PURPOSE: 'A consent purpose (consent); the id is the purpose id.',
  WEBHOOK: 'A webhook endpoint (webhooks); the id is the webhook id.',
} as const;
export type AuditResourceType = keyof typeof AUDIT_RESOURCES;

/** One action: what it means, what it may be about (the first type is the default), its details. */
export interface CatalogueEntry {
  readonly description: string;
  readonly resources: readonly [AuditResourceType, ...AuditResourceType[]];
  readonly details: FieldSpec;
}

/** Member roles, as recorded (members/roles.ts ROLES; test/audit-catalogue.test.ts checks they agree). */
const ROLE_VALUES = ['OWNER', 'ADMIN', 'MANAGER', 'USER'] as const;
const role = (why: string) => oneOf(ROLE_VALUES, why);
const SECRET_NAME = 'The secret\'s name: a path the tenant chose to identify a secret (e.g. prod/db/password), a tenant identifier, never its value.';
const secretName = () => name(SECRET_NAME);
const version = (why: string) => count(why);
const scopes = (why: string) => listOf(oneOf(API_KEY_SCOPES, why));

/**
 * Privacy vocabularies, as recorded. They are declared in the privacy module, which depends
 * on this one (privacy/subject.document.ts READABLE_FIELDS, privacy/erasure-receipt.ts
 * ERASURE_REASON_CODES); test/privacy/privacy-audit.test.ts checks they agree.
 */
const SUBJECT_FIELD_VALUES = ['externalId', 'email', 'phone', 'fullName', 'attributes', 'identities'] as const;
const ERASURE_REASON_VALUES = [
  'NO_LONGER_NECESSARY',
  'CONSENT_WITHDRAWN',
  'OBJECTION',
  'UNLAWFUL_PROCESSING',
  'LEGAL_OBLIGATION',
  'CHILD_INFORMATION_SOCIETY_SERVICE',
  'RETENTION_PERIOD_ENDED',
  'TENANT_DECISION',
] as const;
/** Data-subject request vocabularies (privacy/dsr-state.ts DSR_TYPES, DSR_STATUSES; test/privacy/dsr-api.test.ts checks they agree). */
const DSR_TYPE_VALUES = ['ACCESS', 'PORTABILITY', 'RECTIFICATION', 'ERASURE', 'RESTRICTION', 'OBJECTION'] as const;
const DSR_STATUS_VALUES = ['RECEIVED', 'IN_PROGRESS', 'COMPLETED', 'REJECTED'] as const;
const dsrSubject = () => id('The subject the request is about: a random id Coffer generated (kept by the tombstone after erasure).');
const dsrType = () => oneOf(DSR_TYPE_VALUES, 'The right exercised, a code from a fixed list.');
const retentionDays = (what: string) => optional(count(`${what} retention in days (absent: kept).`));
const subjectFields = (why: string) => listOf(oneOf(SUBJECT_FIELD_VALUES, `${why} Field names of Coffer's schema, never their values.`));
const erasureReason = () => oneOf(ERASURE_REASON_VALUES, 'The ground for erasure, a code from a fixed list (GDPR Art. 17(1) and two of Coffer\'s own).');

/**
 * Consent vocabularies, as recorded (declared in consent/consent-vocab.ts, which depends on this
 * module; test/consent/consent-audit.test.ts checks they agree).
 */
const CHANNEL_VALUES = ['EMAIL', 'SMS', 'WHATSAPP', 'PUSH', 'PHONE', 'POST'] as const;
const LEGAL_BASIS_VALUES = ['CONSENT', 'CONTRACT', 'LEGAL_OBLIGATION', 'VITAL_INTERESTS', 'PUBLIC_TASK', 'LEGITIMATE_INTERESTS'] as const;
const METHOD_VALUES = ['WEB_FORM', 'API', 'DOUBLE_OPT_IN', 'VERBAL', 'IMPORT', 'GPC'] as const;
const OPT_OUT_REASON_VALUES = ['UNSUBSCRIBE_LINK', 'ONE_CLICK', 'SUBJECT_REQUEST', 'COMPLAINT', 'BOUNCE', 'IMPORT', 'OTHER'] as const;
const OPT_OUT_SOURCE_VALUES = ['PUBLIC_PAGE', 'EMAIL_HEADER', 'APP', 'API', 'SUPPORT', 'IMPORT'] as const;
const purposeKey = () => name('The purpose\'s key, a machine name the tenant chose for a processing purpose (e.g. newsletter); a tenant identifier.');
const channel = () => oneOf(CHANNEL_VALUES, 'The contact channel.');
/** Webhook event types, as recorded (webhooks/webhook-events.ts WEBHOOK_EVENT_TYPES; test/webhooks/webhooks-api.test.ts checks they agree). */
const WEBHOOK_EVENT_VALUES = [
  'SECRET_ROTATION_DUE',
  'SECRET_EXPIRING',
  'SECRET_EXPIRED',
  'KEY_ROTATION_COMPLETED',
  'DSR_DUE_SOON',
  'DSR_OVERDUE',
  'REFRESH_TOKEN_REUSED',
  'ACCOUNT_LOCKED',
  'AUDIT_VERIFICATION_FAILED',
] as const;
const recordId = () => id('The consent ledger record (and receipt) id: a random id Coffer generated.');

export const AUDIT_CATALOGUE = {
  'auth.signup': { description: 'Someone signed up and created a tenant.', resources: ['TENANT'], details: {} },
  'auth.login.succeeded': { description: 'A user signed in.', resources: ['USER'], details: {} },
  'auth.login.failed': {
    description: 'A sign-in failed or was refused (platform chain; the resource id is the user id when the email is known).',
    resources: ['USER'],
    details: {
      reason: oneOf(['unknown_email', 'wrong_password', 'locked'], 'Why it failed.'),
      failures: optional(count('Consecutive failures of this email from this address.')),
    },
  },
  'auth.account.locked': {
    description: 'Legacy: an account was locked (no longer recorded; auth.login.locked replaced it). Kept so older events stay listable.',
    resources: ['USER'],
    details: { until: isoTime('When the lock ends.') },
  },
  'auth.login.locked': {
    description: 'Sign-ins to an email from one address were locked after repeated failures (platform chain).',
    resources: ['USER'],
    details: { until: isoTime('When the lock ends.') },
  },
  'auth.refresh_token.reused': {
    description: 'A refresh token was presented again after use (it may have been stolen): its session was revoked.',
    resources: ['SESSION'],
    details: { userId: id('The session\'s user: a random id Coffer generated.') },
  },
  'auth.session.revoked': {
    description: 'A session was ended.',
    resources: ['SESSION'],
    details: { reason: oneOf(['logout', 'revoked_by_user'], 'Signed out, or revoked from the session list.') },
  },
  'auth.password.changed': {
    description: 'A user changed their password.',
    resources: ['USER'],
    details: { revokedSessions: count('Other sessions revoked with it.') },
  },
  'member.invited': { description: 'A member invited someone.', resources: ['INVITATION'], details: { role: role('The role offered.') } },
  'member.joined': {
    description: 'An invitation was accepted.',
    resources: ['USER'],
    details: { role: role('The role taken.'), invitationId: id('The accepted invitation: a random id Coffer generated.') },
  },
  'member.role_changed': {
    description: 'A member\'s role was changed.',
    resources: ['USER'],
    details: { from: role('The role before.'), to: role('The role after.') },
  },
  'member.removed': {
    description: 'A member was removed from the tenant.',
    resources: ['USER'],
    details: { role: role('The role they had.'), apiKeysRevoked: count('API keys they had created, revoked with them.') },
  },
  'invitation.revoked': { description: 'An invitation was withdrawn.', resources: ['INVITATION'], details: {} },
  'tenant.provisioned': {
    description: 'An operator created a tenant and its first OWNER from the command line (create-tenant).',
    resources: ['TENANT'],
    details: {
      ownerId: id('The user made OWNER.'),
      newAccount: flag('Whether that user\'s account was created by this command.'),
    },
  },
  'tenant.suspended': { description: 'A platform administrator suspended the tenant.', resources: ['TENANT'], details: {} },
  'tenant.reactivated': { description: 'A platform administrator reactivated the tenant.', resources: ['TENANT'], details: {} },
  'tenant.deleted': {
    description: 'An OWNER deleted the tenant: its keys destroyed, its documents purged, a signed receipt made (platform chain: the tenant\'s own chain is gone with it).',
    resources: ['TENANT'],
    details: {
      receiptId: id('The deletion receipt: a random id Coffer generated.'),
      dekVersionsDestroyed: listOf(version('A data key version destroyed.')),
      wrappedKeysDestroyed: count('Wrapped keys under the data keys destroyed (subject keys, the blind-index key).'),
      collections: listOf(name('A collection purged: a name of Coffer\'s schema.')),
      documentsRemoved: listOf(count('Documents purged, per collection, in the order of collections.')),
    },
  },
  'account.exported': {
    description: 'A user exported their own account data (exportMyData; platform chain).',
    resources: ['USER'],
    details: {
      memberships: count('Memberships in the export.'),
      sessions: count('Sessions in the export.'),
      auditEvents: count('Audit events in the export.'),
    },
  },
  'account.deleted': {
    description: 'A user deleted their own account (deleteMyAccount; platform chain). Events keep the user id only; no chain holds the email.',
    resources: ['USER'],
    details: {
      tenantsLeft: count('Memberships removed with it.'),
      sessionsRevoked: count('Sessions revoked with it.'),
      apiKeysRevoked: count('API keys they had created, revoked with them.'),
    },
  },
  'apikey.created': {
    description: 'An API key was created.',
    resources: ['API_KEY'],
    details: {
      name: name('The key\'s label, chosen by the tenant to name a machine credential (e.g. ci-deploy); a tenant identifier.'),
      role: role('The key\'s role.'),
      prefixes: listOf(name('Secret-name prefixes the key is limited to: parts of tenant-chosen secret names.')),
      scopes: scopes('What the key may reach besides its role.'),
    },
  },
  'apikey.revoked': { description: 'An API key was revoked.', resources: ['API_KEY'], details: {} },
  'secret.created': { description: 'A secret was created.', resources: ['SECRET'], details: { name: secretName(), version: version('Its first version (1).') } },
  'secret.updated': {
    description: 'A secret was changed (a new value, or its settings).',
    resources: ['SECRET'],
    details: {
      name: secretName(),
      version: version('The current version after the change.'),
      revision: count('The secret\'s revision after the change.'),
      newVersion: flag('Whether a new value was added.'),
      fields: listOf(name('Names of the changed settings: field names of Coffer\'s schema (e.g. description, tags), never their values.')),
    },
  },
  'secret.revealed': { description: 'A secret\'s value was read.', resources: ['SECRET'], details: { name: secretName(), version: version('The version read.') } },
  'secret.deleted': {
    description: 'A secret was soft-deleted.',
    resources: ['SECRET'],
    details: { name: secretName(), purgeAfter: isoTime('When it is purged unless restored.') },
  },
  'secret.restored': { description: 'A soft-deleted secret was restored.', resources: ['SECRET'], details: { name: secretName() } },
  'secret.versions_destroyed': {
    description: 'Versions of a secret were destroyed (their ciphertext removed).',
    resources: ['SECRET'],
    details: {
      name: secretName(),
      versions: listOf(version('A destroyed version.')),
      reason: optional(oneOf(['retention', 'maxVersions'], 'Dropped beyond maxVersions by a new value, or by lowering maxVersions; absent when destroyed by name.')),
      maxVersions: optional(count('The secret\'s maxVersions afterwards.')),
    },
  },
  'secret.purged': {
    description: 'A deleted secret was removed for good.',
    resources: ['SECRET'],
    details: { name: secretName(), reason: optional(oneOf(['recovery window passed'], 'Set when the purge sweep removed it; absent when purged on request.')) },
  },
  'key.tenant_rotated': {
    description: 'The tenant\'s data key was rotated.',
    resources: ['TENANT_KEYS'],
    details: {
      fromVersion: version('The data key version before.'),
      toVersion: version('The new data key version.'),
      secretVersionsToReencrypt: count('Sealed values still on older data keys.'),
    },
  },
  'key.reencryption_completed': {
    description: 'Every value of the tenant was re-encrypted under its active data key.',
    resources: ['TENANT_KEYS'],
    details: {
      targetVersion: version('The data key version everything is on now.'),
      retiredVersions: listOf(version('A data key version retired (its key material removed).')),
      total: count('Values re-encrypted.'),
    },
  },
  'key.master_rewrapped': {
    description: 'The tenant\'s wrapped keys were re-wrapped under the active master key.',
    resources: ['TENANT_KEYS'],
    details: {
      masterKeyId: name('The active master key\'s id, an identifier the operator chose in VAULT_MASTER_KEYS (never key material).'),
      rewrapped: count('Wrapped keys re-wrapped.'),
    },
  },
  'key.platform_rewrapped': {
    description: 'The platform keys (the login-counter and TOTP secret keys) were re-wrapped under the active master key (recorded on the platform chain).',
    resources: ['TENANT_KEYS'],
    details: {
      masterKeyId: name('The active master key\'s id, an identifier the operator chose in VAULT_MASTER_KEYS (never key material).'),
      rewrapped: count('Platform keys re-wrapped.'),
      unreadable: count('Platform keys left as they were: their master key is missing from the ring.'),
    },
  },
  'permission.denied': {
    description: 'An operation was refused by the permission rules.',
    resources: ['OPERATION', 'SECRET', 'API_KEY', 'INVITATION'],
    details: {
      needed: oneOf(
        [...ROLE_VALUES, 'prefix', ...API_KEY_SCOPES],
        'The role it needed, prefix when an API key\'s name prefixes did not cover the secret, or the scope an API key lacked.',
      ),
      operation: optional(oneOf(['revokeApiKey', 'revokeInvitation', 'lower_max_versions'], 'The refused operation, when it was refused by a service rather than the rule tree.')),
      name: optional(secretName()),
      names: optional(listOf(name(`Refused secret names (at most 10). ${SECRET_NAME}`))),
      deniedCount: optional(count('How many names of one bulk call were refused.')),
      maxVersions: optional(count('The maxVersions that was asked for.')),
      versions: optional(listOf(version('A version that lowering maxVersions would have destroyed.'))),
    },
  },
  'subject.created': {
    description: 'A data subject was created (privacy).',
    resources: ['DATA_SUBJECT'],
    details: { fields: subjectFields('Names of the personal fields given.') },
  },
  'subject.updated': {
    description: 'A data subject was rectified.',
    resources: ['DATA_SUBJECT'],
    details: { fields: subjectFields('Names of the personal fields changed.') },
  },
  'subject.read': {
    description: 'Personal fields of data subjects were read (one event per operation; each read, with the purpose the caller gave, is in the subject\'s erasable data-access log: a free purpose label never enters the immutable chain).',
    resources: ['DATA_SUBJECT'],
    details: {
      fields: subjectFields('Names of the personal fields read.'),
      subjectIds: optional(listOf(id('The subjects read, when one operation read several (the resource id is then null): random ids Coffer generated.'))),
    },
  },
  'subject.restricted': { description: 'Processing of a data subject was restricted (GDPR Art. 18); the reason is sealed, never recorded here.', resources: ['DATA_SUBJECT'], details: {} },
  'subject.restriction_lifted': { description: 'A restriction of processing was lifted.', resources: ['DATA_SUBJECT'], details: {} },
  'subject.exported': {
    description: 'Everything held about a data subject was exported (GDPR Art. 15, 20).',
    resources: ['DATA_SUBJECT'],
    details: { fields: subjectFields('Names of the personal fields exported.') },
  },
  'subject.erasure_started': {
    description: 'The erasure of a data subject was requested and planned.',
    resources: ['DATA_SUBJECT'],
    details: { reasonCode: erasureReason() },
  },
  'subject.erased': {
    description: 'A data subject was erased by crypto-shredding; a tombstone and a signed receipt remain (actor SYSTEM when a resumed erasure finished).',
    resources: ['DATA_SUBJECT'],
    details: {
      reasonCode: erasureReason(),
      keyId: id('The destroyed subject key: a random id Coffer generated.'),
      subjectKeysRemoved: count('Wrapped subject keys deleted.'),
      subjectRecordsRemoved: count('Subject documents scrubbed down to the tombstone.'),
      accessLogEntriesRemoved: count('Data-access log entries deleted.'),
      blindIndexEntriesRemoved: count('Blind-index entries removed (including the external-id hash).'),
    },
  },
  'dsr.created': {
    description: 'A data-subject request was recorded; its notes are sealed under the subject key, never recorded here.',
    resources: ['DATA_SUBJECT_REQUEST'],
    details: { subjectId: dsrSubject(), type: dsrType(), dueAt: isoTime('The deadline: one GDPR month after receipt.') },
  },
  'dsr.started': { description: 'Work on a data-subject request started (RECEIVED to IN_PROGRESS).', resources: ['DATA_SUBJECT_REQUEST'], details: { subjectId: dsrSubject(), type: dsrType() } },
  'dsr.extended': {
    description: 'The deadline of a data-subject request was extended (Art. 12(3)); the reason is sealed, never recorded here.',
    resources: ['DATA_SUBJECT_REQUEST'],
    details: { subjectId: dsrSubject(), type: dsrType(), months: count('Further months granted (1 or 2).'), dueAt: isoTime('The extended deadline.') },
  },
  'dsr.completed': {
    description: 'A data-subject request was completed (an ACCESS or PORTABILITY export produced, an ERASURE run).',
    resources: ['DATA_SUBJECT_REQUEST'],
    details: {
      subjectId: dsrSubject(),
      type: dsrType(),
      exportProduced: flag('Whether an export was produced and handed out (never stored).'),
      erasureReceiptId: optional(id('The erasure receipt\'s id: a random id Coffer generated.')),
    },
  },
  'dsr.rejected': {
    description: 'A data-subject request was rejected (Art. 12(5)); the reason is sealed, never recorded here.',
    resources: ['DATA_SUBJECT_REQUEST'],
    details: { subjectId: dsrSubject(), type: dsrType(), from: oneOf(DSR_STATUS_VALUES, 'The status it was rejected from.') },
  },
  'retention.policy_set': {
    description: 'The tenant\'s retention policy was set.',
    resources: ['TENANT'],
    details: { subjectRetentionDays: retentionDays('Data-subject'), accessLogRetentionDays: retentionDays('Data-access log'), requestRetentionDays: retentionDays('Closed-request') },
  },
  'subject.retention_set': {
    description: 'A data subject\'s own retention date was set or cleared.',
    resources: ['DATA_SUBJECT'],
    details: { until: optional(isoTime('Kept until then (absent: cleared, the tenant policy applies).')) },
  },
  'retention.purged': {
    description: 'Data past its retention period was purged in the tenant (subjects erased with receipts, access-log entries and closed requests deleted); one event per run.',
    resources: ['TENANT'],
    details: {
      trigger: oneOf(['SWEEP', 'ON_DEMAND'], 'The scheduled sweep or purgeExpiredData.'),
      subjectsErased: count('Subjects erased (reason RETENTION_PERIOD_ENDED).'),
      accessLogEntriesDeleted: count('Data-access log entries deleted.'),
      requestsDeleted: count('Closed data-subject requests deleted.'),
    },
  },
  'consent.purpose_created': {
    description: 'A consent purpose was created with its first notice version.',
    resources: ['CONSENT_PURPOSE'],
    details: { purposeKey: purposeKey(), legalBasis: oneOf(LEGAL_BASIS_VALUES, 'The GDPR Art. 6(1) legal basis.'), noticeVersion: count('The notice version (1).'), honoursGpc: flag('Whether Global Privacy Control opts subjects out of it.') },
  },
  'consent.purpose_updated': {
    description: 'A consent purpose was changed; a changed notice text published a new notice version.',
    resources: ['CONSENT_PURPOSE'],
    details: {
      purposeKey: purposeKey(),
      fields: listOf(oneOf(['name', 'description', 'legalBasis', 'noticeText', 'honoursGpc'], 'Names of the changed settings, never their values.')),
      noticeVersion: count('The current notice version after the change.'),
    },
  },
  'consent.purpose_retired': {
    description: 'A consent purpose was retired (it takes no new consent; its records stay).',
    resources: ['CONSENT_PURPOSE'],
    details: { purposeKey: purposeKey(), records: count('Ledger records that refer to it.') },
  },
  'consent.recorded': {
    description: 'A consent decision was appended to the consent ledger (a grant, or a withdrawal); actor PUBLIC for a double opt-in confirmation. The proof is sealed under the subject key, never recorded here.',
    resources: ['DATA_SUBJECT'],
    details: {
      recordId: recordId(),
      purposeKey: purposeKey(),
      channel: channel(),
      granted: flag('Granted (true) or withdrawn (false).'),
      method: oneOf(METHOD_VALUES, 'How the decision was collected.'),
      noticeVersion: count('The notice version the decision was made under.'),
      gpc: flag('Whether the decision carried a Global Privacy Control signal.'),
    },
  },
  'consent.opted_out': {
    description: 'A data subject opted out of a channel (for one purpose, or all); actor PUBLIC for an unsubscribe link or one-click POST.',
    resources: ['DATA_SUBJECT'],
    details: {
      recordId: recordId(),
      channel: channel(),
      purposeKey: optional(purposeKey()),
      reason: oneOf(OPT_OUT_REASON_VALUES, 'Why, a code.'),
      source: oneOf(OPT_OUT_SOURCE_VALUES, 'Where it came from, a code.'),
      suppressionEntriesAdded: count('Suppression entries added (keyed hashes of the contact point; kept after erasure).'),
    },
  },
  'consent.opted_in': {
    description: 'A data subject opted in to a channel again (with proof); matching suppression entries were removed.',
    resources: ['DATA_SUBJECT'],
    details: { recordId: recordId(), channel: channel(), purposeKey: optional(purposeKey()), suppressionEntriesRemoved: count('Suppression entries removed.') },
  },
  'consent.gpc_signalled': {
    description: 'A Global Privacy Control signal was recorded for a data subject (from a contact check): purposes that honour GPC are withdrawn until a later affirmative grant.',
    resources: ['DATA_SUBJECT'],
    details: { recordId: recordId() },
  },
  'consent.confirmation_requested': {
    description: 'A double opt-in confirmation link was issued for a data subject.',
    resources: ['DATA_SUBJECT'],
    details: { purposeKey: purposeKey(), channel: channel() },
  },
  // Second factor (TOTP, auth/totp.service.ts): never a code, a recovery code or a secret in details.
  'auth.totp.enrolled': { description: 'A user started a TOTP enrolment (pending until confirmed).', resources: ['USER'], details: {} },
  'auth.totp.confirmed': {
    description: 'A user confirmed their TOTP enrolment with a code: the second factor is active.',
    resources: ['USER'],
    details: { recoveryCodes: count('Recovery codes issued with it.') },
  },
  'auth.totp.disabled': {
    description: 'A user turned their second factor off (password and a code checked).',
    resources: ['USER'],
    details: { method: oneOf(['totp', 'recovery_code'], 'What proved the second factor.') },
  },
  'auth.second_factor.failed': {
    description: 'A second-factor code or recovery code was refused (platform chain); failures count toward the sign-in lockout.',
    resources: ['USER'],
    details: {
      reason: oneOf(['wrong_code', 'replayed_code', 'wrong_recovery_code', 'malformed', 'locked'], 'Why it was refused.'),
      purpose: oneOf(['login', 'confirm', 'disable', 'change_password', 'delete_account'], 'What the code was for.'),
      failures: optional(count('Consecutive failures of this email from this address.')),
    },
  },
  'auth.recovery_code.used': {
    description: 'A one-time recovery code was used in place of a TOTP code.',
    resources: ['USER'],
    details: { remaining: count('Unused recovery codes left.'), purpose: oneOf(['login', 'disable', 'change_password', 'delete_account'], 'What it was used for.') },
  },
  'auth.login.challenge_refused': {
    description: 'A second-factor login challenge was refused: unknown (forged or already used), expired, presented by another client, or out of code attempts (platform chain).',
    resources: ['USER'],
    details: { reason: oneOf(['unknown', 'expired', 'other_client', 'used_up'], 'Why it was refused (used_up: no attempts left, or completed meanwhile).') },
  },
  'auth.login.challenge_exhausted': {
    description: 'A second-factor login challenge was used up by wrong codes (5): the client must log in again (platform chain).',
    resources: ['USER'],
    details: { attempts: count('Codes tried on the challenge.') },
  },
  'tenant.two_factor_policy_changed': {
    description: 'An OWNER changed which roles must use a second factor in the tenant.',
    resources: ['TENANT'],
    details: { roles: listOf(role('A role that must use a second factor.')) },
  },
  'audit.verification_failed': {
    description: 'A verification of the audit chain found a broken link (verifyAuditLog); recorded by the audit log itself.',
    resources: ['TENANT'],
    details: {
      firstInvalidSequence: optional(count('The first seq at which the chain cannot be trusted.')),
      checkedEvents: count('Events verified before the break.'),
    },
  },
  'webhook.created': {
    description: 'A webhook endpoint was registered (its URL is not recorded; its signing secret never is).',
    resources: ['WEBHOOK'],
    details: { events: listOf(oneOf(WEBHOOK_EVENT_VALUES, 'An event type it subscribes to, a code from a fixed list.')) },
  },
  'webhook.disabled': { description: 'A webhook was disabled: it receives nothing until enabled.', resources: ['WEBHOOK'], details: {} },
  'webhook.enabled': { description: 'A disabled webhook was enabled again.', resources: ['WEBHOOK'], details: {} },
  'webhook.deleted': { description: 'A webhook and its delivery log were deleted.', resources: ['WEBHOOK'], details: {} },
  'webhook.secret_rotated': {
    description: 'A webhook\'s signing secret was replaced; the previous one keeps signing until the grace period ends.',
    resources: ['WEBHOOK'],
    details: { previousValidUntil: isoTime('Until when deliveries also carry a signature under the previous secret.') },
  },
  'webhook.delivery_retried': {
    description: 'A given-up webhook delivery was queued again (retryWebhookDelivery); it goes out with the same webhook-id.',
    resources: ['WEBHOOK'],
    details: {
      deliveryId: id('The delivery id (msg_..., the webhook-id header): derived by Coffer from the event and the webhook.'),
      eventType: oneOf(WEBHOOK_EVENT_VALUES, 'The event type of the delivery, a code from a fixed list.'),
    },
  },
} as const satisfies Record<string, CatalogueEntry>;

/** Every action Coffer records. */
export type AuditAction = keyof typeof AUDIT_CATALOGUE;
/** Every action, in catalogue order. */
export const AUDIT_ACTIONS = Object.keys(AUDIT_CATALOGUE) as AuditAction[];
/** Every resource type. */
export const AUDIT_RESOURCE_TYPES = Object.keys(AUDIT_RESOURCES) as AuditResourceType[];

/** The resource types `A` may be about. */
export type ResourceTypeOf<A extends AuditAction> = (typeof AUDIT_CATALOGUE)[A]['resources'][number];
/** The details object action `A` takes: exactly its declared fields. */
export type DetailsOf<A extends AuditAction> = DetailsOfSpec<(typeof AUDIT_CATALOGUE)[A]['details']>;

/** The catalogue entry of `action`, or undefined for an unknown one. */
export function catalogueEntry(action: string): CatalogueEntry | undefined {
  return Object.hasOwn(AUDIT_CATALOGUE, action) ? (AUDIT_CATALOGUE as Record<string, CatalogueEntry>)[action] : undefined;
}

/** The GraphQL enum name of an action: dots cannot appear there, so secret.versions_destroyed is SECRET_VERSIONS_DESTROYED. */
export function actionEnumName(action: AuditAction): string {
  return action.toUpperCase().replace(/\./g, '_');
}
