import { allow, chain, deny, rule, shield, type IRules } from 'graphql-shield';
import { ROLES, roleAtLeast, type Role } from '../identity/roles.js';
import type { ApiKeyScope } from '../identity/scopes.js';
import type { Context } from './context.js';
import { appError, forbidden, unauthenticated } from '../errors.js';
import { auditEvent } from '../modules/audit/audit-builder.js';

/**
 * Who may do what: the whole rule tree, readable top to bottom.
 * Anything not named here is denied (fallbackRule), and a denial is FORBIDDEN;
 * a missing or bad token is UNAUTHENTICATED.
 */

/** A signed-in user (API keys are for secret operations only). */
const isAuthenticated = rule({ cache: 'contextual' })((_parent, _args, ctx: Context) => {
  if (ctx.viewer) return true;
  if (ctx.apiKey) return forbidden('API keys can only be used for secret and data-subject operations');
  return unauthenticated(ctx.authError ?? 'Authentication required');
});

/** Records a refusal in the tenant's audit log (and the logs); the caller sees FORBIDDEN. */
async function denied(ctx: Context, needed: Role | ApiKeyScope, message: string) {
  const tenantId = ctx.apiKey?.tenantId ?? ctx.viewer?.tenantId;
  const actor = ctx.apiKey ? ctx.apiKey.actor : { type: 'USER' as const, id: ctx.viewer?.userId ?? null };
  ctx.logger.info({ event: 'permission.denied', actor, tenantId, needed }, 'permission denied');
  if (tenantId) {
    await ctx.services.audit.append(
      auditEvent('permission.denied', { caller: { tenantId, actor, request: ctx.request }, resource: { type: 'OPERATION', id: null }, outcome: 'DENIED', details: { needed } }),
    );
  }
  return forbidden(message);
}

const memberRules = new Map<string, ShieldRule>();
/**
 * A member with `minimum` role or higher in the current tenant, or an API key whose role
 * is that high and that holds `scope` (its prefixes are enforced by the secret services).
 */
const memberAtLeast = (minimum: Role, scope: ApiKeyScope): ShieldRule => {
  const name = `memberAtLeast${minimum}${scope}`;
  let r = memberRules.get(name);
  if (!r) {
    r = rule(name, { cache: 'contextual' })(async (_parent, _args, ctx: Context) => {
      const role = ctx.apiKey?.role ?? (ctx.viewer?.tenantId ? ctx.viewer.role : null);
      if (!ctx.apiKey && !ctx.viewer) return unauthenticated(ctx.authError ?? 'Authentication required');
      if (!ctx.apiKey && !ctx.viewer?.tenantId) return forbidden('This operation needs a token scoped to a tenant');
      if (ctx.apiKey && !ctx.apiKey.scopes?.includes(scope)) return denied(ctx, scope, `This API key lacks the ${scope} scope`);
      if (roleAtLeast(role, minimum)) return true;
      return denied(ctx, minimum, `Requires the ${minimum} role or higher`);
    });
    memberRules.set(name, r);
  }
  return r;
};

const contactCheckRules = new Map<string, ShieldRule>();
/** Contact decisions: a member with `minimum` role or higher, or an API key holding CONTACT_CHECK (any role). */
const contactCheck = (minimum: Role): ShieldRule => {
  let r = contactCheckRules.get(minimum);
  if (!r) {
    r = rule(`contactCheck${minimum}`, { cache: 'contextual' })(async (_parent, _args, ctx: Context) => {
      if (ctx.apiKey) return ctx.apiKey.scopes?.includes('CONTACT_CHECK') ? true : denied(ctx, 'CONTACT_CHECK', 'This API key lacks the CONTACT_CHECK scope');
      if (!ctx.viewer) return unauthenticated(ctx.authError ?? 'Authentication required');
      if (!ctx.viewer.tenantId) return forbidden('This operation needs a token scoped to a tenant');
      return roleAtLeast(ctx.viewer.role, minimum) ? true : denied(ctx, minimum, `Requires the ${minimum} role or higher`);
    });
    contactCheckRules.set(minimum, r);
  }
  return r;
};

const inTenant = rule({ cache: 'contextual' })((_parent, _args, ctx: Context) =>
  ctx.viewer?.tenantId ? true : forbidden('This operation needs a token scoped to a tenant'),
);

type ShieldRule = Parameters<typeof chain>[number];

function hasRole(minimum: Role) {
  return rule(`hasRole${minimum}`, { cache: 'contextual' })((_parent, _args, ctx: Context) =>
    roleAtLeast(ctx.viewer?.role, minimum) ? true : denied(ctx, minimum, `Requires the ${minimum} role or higher`),
  );
}

/** One rule per role (shield needs each named rule defined once). */
const roleRules = new Map<Role, ShieldRule>(ROLES.map((role) => [role, chain(isAuthenticated, inTenant, hasRole(role))]));

/** Signed in, scoped to a tenant, with a role of `minimum` or higher there. */
const atLeast = (minimum: Role): ShieldRule => roleRules.get(minimum)!;

const isPlatformAdmin = chain(
  isAuthenticated,
  rule({ cache: 'contextual' })((_parent, _args, ctx: Context) =>
    ctx.viewer?.platformAdmin ? true : forbidden('Requires a platform administrator'),
  ),
);

export const permissionRules: IRules = {
  Query: {
    me: isAuthenticated,
    sessions: isAuthenticated,
    members: atLeast('USER'),
    invitations: atLeast('ADMIN'),
    tenants: isPlatformAdmin,
    tenantDeletionReceipt: isPlatformAdmin,
    exportMyData: isAuthenticated,
    // Vault: members or API keys.
    secret: memberAtLeast('USER', 'SECRETS_READ'),
    secrets: memberAtLeast('USER', 'SECRETS_READ'),
    secretsDueForRotation: memberAtLeast('USER', 'SECRETS_READ'),
    // Keys, API keys and the audit log: signed-in members only.
    apiKeys: atLeast('ADMIN'),
    tenantKeyStatus: atLeast('ADMIN'),
    auditEvents: atLeast('ADMIN'),
    verifyAuditLog: atLeast('ADMIN'),
    masterKeyStatus: isPlatformAdmin,
    platformAuditEvents: isPlatformAdmin,
    verifyPlatformAuditLog: isPlatformAdmin,
    // Privacy (data subjects): reading personal data MANAGER+, receipts ADMIN+; API keys need SUBJECTS_READ.
    dataSubject: memberAtLeast('MANAGER', 'SUBJECTS_READ'),
    dataSubjects: memberAtLeast('MANAGER', 'SUBJECTS_READ'),
    dataAccessLog: memberAtLeast('MANAGER', 'SUBJECTS_READ'),
    erasureReceipt: memberAtLeast('ADMIN', 'SUBJECTS_READ'),
    // Privacy (requests and retention): ADMIN+; API keys need SUBJECTS_READ; the retention policy is members only.
    dataSubjectRequests: memberAtLeast('ADMIN', 'SUBJECTS_READ'),
    retentionPolicy: atLeast('ADMIN'),
    // Consent: reads MANAGER+ (API keys SUBJECTS_READ); contact decisions MANAGER+ or CONTACT_CHECK keys; ledger verification ADMIN+.
    consentPurposes: memberAtLeast('MANAGER', 'SUBJECTS_READ'),
    recordsOfProcessing: memberAtLeast('MANAGER', 'SUBJECTS_READ'),
    consentStatus: memberAtLeast('MANAGER', 'SUBJECTS_READ'),
    consentHistory: memberAtLeast('MANAGER', 'SUBJECTS_READ'),
    consentReceipt: memberAtLeast('MANAGER', 'SUBJECTS_READ'),
    optOutStatistics: memberAtLeast('MANAGER', 'SUBJECTS_READ'),
    unsubscribeLink: memberAtLeast('MANAGER', 'SUBJECTS_READ'),
    emailUnsubscribeHeaders: memberAtLeast('MANAGER', 'SUBJECTS_READ'),
    verifyConsentLedger: atLeast('ADMIN'),
    canContact: contactCheck('MANAGER'),
    canContactMany: contactCheck('MANAGER'),
    // Second factor: the caller's own.
    twoFactorStatus: isAuthenticated,
    webhooks: atLeast('ADMIN'),
    webhookDeliveries: atLeast('ADMIN'),
  },
  Mutation: {
    // Public: these establish identity.
    signUp: allow,
    login: allow,
    refreshToken: allow,
    acceptInvitation: allow,
    // The caller's own account and session.
    switchTenant: isAuthenticated,
    logout: isAuthenticated,
    changePassword: isAuthenticated,
    revokeSession: isAuthenticated,
    deleteMyAccount: isAuthenticated,
    // The tenant itself: only an OWNER deletes it (the slug must be typed out).
    deleteTenant: atLeast('OWNER'),
    // Members of the current tenant.
    inviteMember: atLeast('ADMIN'),
    revokeInvitation: atLeast('ADMIN'),
    updateMemberRole: atLeast('ADMIN'),
    removeMember: atLeast('ADMIN'),
    // Platform administration.
    suspendTenant: isPlatformAdmin,
    reactivateTenant: isPlatformAdmin,
    rewrapTenantKeys: isPlatformAdmin,
    // Vault writes: MANAGER creates and changes; ADMIN destroys and purges.
    createSecret: memberAtLeast('MANAGER', 'SECRETS_WRITE'),
    updateSecret: memberAtLeast('MANAGER', 'SECRETS_WRITE'),
    deleteSecret: memberAtLeast('MANAGER', 'SECRETS_WRITE'),
    restoreSecret: memberAtLeast('MANAGER', 'SECRETS_WRITE'),
    setSecrets: memberAtLeast('MANAGER', 'SECRETS_WRITE'),
    importSecrets: memberAtLeast('MANAGER', 'SECRETS_WRITE'),
    destroySecretVersions: memberAtLeast('ADMIN', 'SECRETS_WRITE'),
    purgeSecret: memberAtLeast('ADMIN', 'SECRETS_WRITE'),
    createApiKey: atLeast('ADMIN'),
    revokeApiKey: atLeast('ADMIN'),
    rotateTenantKey: atLeast('ADMIN'),
    // Privacy (data subjects): managing subjects MANAGER+; export, erasure and restriction ADMIN+.
    // API keys need SUBJECTS_WRITE (export: SUBJECTS_READ).
    createDataSubject: memberAtLeast('MANAGER', 'SUBJECTS_WRITE'),
    updateDataSubject: memberAtLeast('MANAGER', 'SUBJECTS_WRITE'),
    exportSubjectData: memberAtLeast('ADMIN', 'SUBJECTS_READ'),
    eraseSubject: memberAtLeast('ADMIN', 'SUBJECTS_WRITE'),
    restrictProcessing: memberAtLeast('ADMIN', 'SUBJECTS_WRITE'),
    liftRestriction: memberAtLeast('ADMIN', 'SUBJECTS_WRITE'),
    // Privacy (requests and retention): ADMIN+; API keys need SUBJECTS_WRITE; the retention policy and purging are members only.
    createDataSubjectRequest: memberAtLeast('ADMIN', 'SUBJECTS_WRITE'),
    startDataSubjectRequest: memberAtLeast('ADMIN', 'SUBJECTS_WRITE'),
    extendDataSubjectRequest: memberAtLeast('ADMIN', 'SUBJECTS_WRITE'),
    completeDataSubjectRequest: memberAtLeast('ADMIN', 'SUBJECTS_WRITE'),
    rejectDataSubjectRequest: memberAtLeast('ADMIN', 'SUBJECTS_WRITE'),
    setSubjectRetention: memberAtLeast('ADMIN', 'SUBJECTS_WRITE'),
    setRetentionPolicy: atLeast('ADMIN'),
    purgeExpiredData: atLeast('ADMIN'),
    // Consent: purposes ADMIN+; consent and opt-out writes MANAGER+ (API keys SUBJECTS_WRITE); unsubscribe is public (the token is the credential).
    createConsentPurpose: atLeast('ADMIN'),
    updateConsentPurpose: atLeast('ADMIN'),
    retireConsentPurpose: atLeast('ADMIN'),
    recordConsent: memberAtLeast('MANAGER', 'SUBJECTS_WRITE'),
    withdrawConsent: memberAtLeast('MANAGER', 'SUBJECTS_WRITE'),
    optOut: memberAtLeast('MANAGER', 'SUBJECTS_WRITE'),
    optIn: memberAtLeast('MANAGER', 'SUBJECTS_WRITE'),
    requestConsentConfirmation: memberAtLeast('MANAGER', 'SUBJECTS_WRITE'),
    unsubscribe: allow,
    // Second factor: completing a login is public (the challenge is the credential); the rest is the caller's own account.
    completeLogin: allow,
    enrollTotp: isAuthenticated,
    confirmTotp: isAuthenticated,
    disableTotp: isAuthenticated,
    updateTwoFactorPolicy: atLeast('OWNER'),
    createWebhook: atLeast('ADMIN'),
    disableWebhook: atLeast('ADMIN'),
    enableWebhook: atLeast('ADMIN'),
    deleteWebhook: atLeast('ADMIN'),
    rotateWebhookSecret: atLeast('ADMIN'),
    retryWebhookDelivery: atLeast('ADMIN'),
  },
  // Object types: reaching one already passed the rule of the operation that returned it.
  AuthPayload: allow,
  Viewer: allow,
  User: allow,
  Tenant: allow,
  Membership: allow,
  Member: allow,
  Invitation: allow,
  Session: allow,
  AccountExport: allow,
  TenantDeletion: allow,
  CollectionCount: allow,
  // The only path to a plaintext value has its own rule.
  Secret: { '*': allow, value: memberAtLeast('USER', 'SECRETS_READ') },
  SecretVersion: allow,
  RotationStatus: allow,
  SecretEdge: allow,
  SecretConnection: allow,
  PageInfo: allow,
  SetSecretResult: allow,
  ApiKey: allow,
  CreatedApiKey: allow,
  TenantKeyStatus: allow,
  TenantKeyVersion: allow,
  ReencryptionStatus: allow,
  MasterKeyStatus: allow,
  MasterKeyUsage: allow,
  RewrapResult: allow,
  AuditEvent: allow,
  AuditActor: allow,
  AuditResource: allow,
  AuditEventEdge: allow,
  AuditEventConnection: allow,
  AuditVerification: allow,
  // Privacy (data subjects): reaching these passed the operation's rule.
  DataSubject: allow,
  SubjectIdentity: allow,
  DataSubjectEdge: allow,
  DataSubjectConnection: allow,
  DataSubjectUpdate: allow,
  ProcessingRestriction: allow,
  DataAccessEntry: allow,
  DataAccessEntryEdge: allow,
  DataAccessEntryConnection: allow,
  SubjectExport: allow,
  SubjectErasure: allow,
  DataSubjectRequest: allow,
  DataSubjectRequestExtension: allow,
  DataSubjectRequestEdge: allow,
  DataSubjectRequestConnection: allow,
  DataSubjectRequestCompletion: allow,
  RetentionPolicy: allow,
  SubjectRetention: allow,
  RetentionPurge: allow,
  // Consent: reaching these passed the operation's rule.
  NoticeVersion: allow,
  ConsentPurpose: allow,
  ProcessingRecord: allow,
  ProcessingRetention: allow,
  ConsentRecord: allow,
  ConsentRecordEdge: allow,
  ConsentRecordConnection: allow,
  ConsentStatusEntry: allow,
  ChannelOptOutState: allow,
  ConsentStatus: allow,
  ConsentReceipt: allow,
  ConsentLedgerFinding: allow,
  ConsentLedgerVerification: allow,
  ContactDecision: allow,
  OptOutCount: allow,
  OptOutStatistics: allow,
  SignedLink: allow,
  EmailUnsubscribeHeaders: allow,
  PublicLinkResult: allow,
  // Second factor: reaching these passed the operation's rule.
  TwoFactorChallenge: allow,
  TotpEnrolment: allow,
  TotpConfirmation: allow,
  TwoFactorStatus: allow,
  Webhook: allow,
  WebhookWithSecret: allow,
  WebhookEdge: allow,
  WebhookConnection: allow,
  WebhookDelivery: allow,
  WebhookDeliveryEdge: allow,
  WebhookDeliveryConnection: allow,
};

/**
 * The tenant's second-factor policy (requireTwoFactorFor), for every operation at once: a
 * signed-in member whose role must use a second factor and whose session has not used one
 * (the session guard sets Viewer.twoFactorRequired) is refused with TWO_FACTOR_REQUIRED,
 * except for what they need to enrol and to manage their own session and account.
 * API keys and anonymous callers pass on to the operation's own rule.
 */
export const TWO_FACTOR_EXEMPT: ReadonlySet<string> = new Set([
  'me',
  'sessions',
  'twoFactorStatus',
  'enrollTotp',
  'confirmTotp',
  'logout',
  'revokeSession',
  'refreshToken',
  'switchTenant',
  'exportMyData',
  'deleteMyAccount',
  // Public: they establish identity.
  'signUp',
  'login',
  'completeLogin',
  'acceptInvitation',
  'unsubscribe',
]);

const twoFactorSatisfied = rule({ cache: 'contextual' })((_parent, _args, ctx: Context) =>
  ctx.viewer?.twoFactorRequired
    ? appError('TWO_FACTOR_REQUIRED', 'Your role in this tenant requires a second factor: enrol with enrollTotp and confirmTotp, or log in again with your code')
    : true,
);

type FieldRules = Record<string, ShieldRule>;

function withTwoFactor(fields: FieldRules): FieldRules {
  return Object.fromEntries(
    Object.entries(fields).map(([name, r]) => [name, TWO_FACTOR_EXEMPT.has(name) ? r : chain(twoFactorSatisfied, r)]),
  );
}

const enforcedRules: IRules = {
  ...permissionRules,
  Query: withTwoFactor((permissionRules as Record<string, FieldRules>).Query!),
  Mutation: withTwoFactor((permissionRules as Record<string, FieldRules>).Mutation!),
};

export const permissions = shield(enforcedRules, {
  fallbackRule: deny,
  fallbackError: () => forbidden('Not allowed'),
  allowExternalErrors: true,
  debug: false,
});
