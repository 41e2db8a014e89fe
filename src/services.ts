import { createHmac } from 'node:crypto';
import type { Db } from 'mongodb';
import type { Config } from './config.js';
import { learnIdLookupShape, TenantScope } from './db/tenant-scope.js';
import type { Logger } from './logger.js';
import { AccountService } from './modules/auth/account.service.js';
import { AuthService } from './modules/auth/auth.service.js';
import { PasswordHasher } from './modules/auth/passwords.js';
import { SessionGuard } from './modules/auth/session-guard.js';
import { SessionRepository } from './modules/auth/session.repository.js';
import { SessionService } from './modules/auth/session.service.js';
import { Throttle } from './modules/auth/throttle.js';
import { LOGIN_FAILURE_KEY_ID, LoginFailureKey } from './modules/auth/login-failure-key.js';
import { LoginFailures } from './modules/auth/login-failures.js';
import { LoginFailureRepository } from './modules/auth/login-failure.repository.js';
import { PlatformKeyRepository } from './modules/keys/platform-key.repository.js';
import { TokenService } from './modules/auth/tokens.js';
import { UserRepository } from './modules/auth/user.repository.js';
import { InvitationDirectory, InvitationRepository } from './modules/members/invitation.repository.js';
import { MemberService } from './modules/members/member.service.js';
import { MembershipDirectory, MembershipRepository } from './modules/tenants/membership.repository.js';
import { TenantRepository } from './modules/tenants/tenant.repository.js';
import { TenantService } from './modules/tenants/tenant.service.js';
import { TenantDeletionService, type TenantDeletionStepHook } from './modules/tenants/tenant-deletion.service.js';
import { AccountClosureService } from './modules/members/account-closure.service.js';
import { ApiKeyDirectory, ApiKeyRepository } from './modules/apikeys/api-key.repository.js';
import { ApiKeyService } from './modules/apikeys/api-key.service.js';
import type { AuditSink } from './modules/audit/audit-event.js';
import { AuditLog } from './modules/audit/audit-log.js';
import { MasterKeyring } from './modules/keys/keyring.js';
import { ReencryptionJob } from './modules/keys/reencryption.job.js';
import { SealedDataRegistry, type SealedDataKind } from './modules/keys/sealed-data.js';
import { TenantCipher } from './modules/keys/tenant-cipher.js';
import { TenantKeyService } from './modules/keys/tenant-key.service.js';
import { SecretSealer } from './modules/secrets/secret-sealer.js';
import { moduleSealedData, tenantCollections } from './modules/index.js';
import { SecretLifecycleService } from './modules/secrets/secret-lifecycle.service.js';
import { SecretQueryService } from './modules/secrets/secret-query.service.js';
import { SecretRepository } from './modules/secrets/secret.repository.js';
import { SecretWriteService } from './modules/secrets/secret.service.js';
import { HousekeepingJob } from './jobs/housekeeping.job.js';
import { RateLimitSweepJob } from './jobs/rate-limit-sweep.job.js';
import { SecretPurgeJob } from './jobs/secret-purge.job.js';
import { JobLeaseRepository } from './jobs/job-lease.repository.js';
import { SubjectKeyStore } from './modules/privacy/subject-keys.js';
import { SubjectErasureDirectory, SubjectRepository } from './modules/privacy/subject.repository.js';
import { SubjectService } from './modules/privacy/subject.service.js';
import { SubjectErasureService, type ErasureStepHook } from './modules/privacy/subject-erasure.service.js';
import { DsrService } from './modules/privacy/dsr.service.js';
import { DsrRepository, RetentionDirectory } from './modules/privacy/dsr.repository.js';
import { RetentionService } from './modules/privacy/retention.service.js';
import { RetentionSweepJob } from './jobs/retention-sweep.job.js';
import { ConsentRepository } from './modules/consent/consent.repository.js';
import { ConsentLedgerService } from './modules/consent/consent-ledger.service.js';
import { ConsentLinkService } from './modules/consent/consent-links.service.js';
import { SuppressionHashes } from './modules/consent/consent-suppression.js';
import { ConsentTenantKeys } from './modules/consent/consent-tenant-keys.js';
import { ContactDecisionService } from './modules/consent/contact-decision.service.js';
import { OptOutService } from './modules/consent/opt-out.service.js';
import { PurposeService } from './modules/consent/purpose.service.js';
import { TotpService } from './modules/auth/totp.service.js';
import { LoginChallengeRepository, TotpRepository } from './modules/auth/totp.repository.js';
import { TotpSecretCipher } from './modules/auth/totp-key.js';
import type { CofferMetrics } from './observability/metrics.js';
import { auditMetricsObserver } from './observability/audit-metrics.js';
import { createWebhooks, type WebhookOptions } from './modules/webhooks/webhook-wiring.js';


/** Privacy options: a hook after each erasure step (tests stop an erasure there), the subject-key cache lifetime. */
export interface PrivacyOptions {
  afterErasureStep?: ErasureStepHook;
  subjectKeyCacheMs?: number;
  /** A hook after each tenant-deletion step (tests stop a deletion there). */
  afterTenantDeletionStep?: TenantDeletionStepHook;
  /** The clock of data-subject requests and retention (tests pin it to exercise deadlines). */
  now?: () => Date;
}

/** What createServices needs. */
export interface ServiceOptions {
  config: Config;
  db: Db;
  logger: Logger;
  /**
   * Kinds of sealed data registered after Coffer's own (secrets first, then these), so key
   * rotation re-seals them and keeps their DEKs until they have moved (tests use it).
   */
  sealedData?: readonly SealedDataKind[];
  privacy?: PrivacyOptions;
  /** Webhook options (tests: a resolver, delivery metrics). */
  webhooks?: WebhookOptions;
  /** Metrics fed by stored audit events and chain verifications (README "Monitoring"). */
  metrics?: CofferMetrics;
  /** Second-factor options: the clock of TOTP codes and login challenges (tests move it). */
  twoFactor?: TwoFactorOptions;
}

/** Second-factor options (tests only). */
export interface TwoFactorOptions {
  now?: () => Date;
}

import type { Services } from './service-types.js';

export type { Services };

/** The composition root: every service gets its dependencies here, explicitly. */
export async function createServices({ config, db, logger, sealedData = [], privacy = {}, twoFactor: twoFactorOptions = {}, metrics, webhooks: webhookOptions = {} }: ServiceOptions) {
  // findOneById's filter for this engine: `{ _id }` on FerretDB v1, `{ _id, tenantId }` on MongoDB.
  const idLookups = await learnIdLookupShape(db);
  logger.debug({ idLookups }, 'tenant-scoped lookups by id');
  const users = new UserRepository(db);
  const tenantRepository = new TenantRepository(db);
  const sessions = new SessionRepository(db);
  const membershipDirectory = new MembershipDirectory(db);
  const invitationDirectory = new InvitationDirectory(db);
  const membershipsOf = (tenantId: string) => new MembershipRepository(new TenantScope(db, tenantId));
  const invitationsOf = (tenantId: string) => new InvitationRepository(new TenantScope(db, tenantId));

  // Keys and the audit log need each other: the audit chain's MAC key is wrapped by the
  // keyring, and key operations are audited. The sink forwards to the log built next.
  let auditLog: AuditLog | undefined;
  const audit: AuditSink = { append: (...events) => auditLog!.append(...events) };
  const keyring = MasterKeyring.fromConfig(config.vault);
  // Everything sealed under tenant DEKs: the modules' kinds (secrets first), then extra ones.
  const sealed = new SealedDataRegistry([...moduleSealedData(), ...sealedData]);
  const keys = new TenantKeyService({ db, keyring, logger, audit, sealedData: sealed, replaceablePlatformKeyIds: [LOGIN_FAILURE_KEY_ID] });
  auditLog = new AuditLog({ db, macKeyFor: (chainId) => keys.auditKey(chainId), logger });
  if (metrics) {
    auditLog.observe(auditMetricsObserver(metrics));
  }
  const reencryption = new ReencryptionJob({
    db,
    keys,
    logger,
    audit,
    batchSize: config.keys.reencryptionBatchSize,
    leaseMs: config.keys.reencryptionLeaseSeconds * 1000,
    retireGraceMs: config.keys.retireGraceSeconds * 1000,
  });
  keys.useReencryption(reencryption);

  const tokens = await TokenService.create(config.jwt);
  const passwords = new PasswordHasher(config.passwords);
  // One platform HMAC key names every abuse counter: login failures and the shared rate-limit
  // budgets (client addresses and user ids never stored in plaintext).
  const counterKey = new LoginFailureKey({ platformKeys: new PlatformKeyRepository(db), keyring, logger });
  const counterKeyHash = async (key: string) => createHmac('sha256', await counterKey.key()).update(`rate-limit|${key}`).digest('base64url');
  const throttle = new Throttle({ db, name: 'auth', points: config.rateLimit.authAttemptsPerMinute, logger, keyHash: counterKeyHash });
  const guard = new SessionGuard({
    sessions,
    users,
    tenants: tenantRepository,
    memberships: membershipDirectory,
    cacheSeconds: config.sessions.revocationCheckSeconds,
  });
  const sessionService = new SessionService({
    sessions,
    tokens,
    logger,
    audit,
    guard,
    refreshTokenTtlDays: config.sessions.refreshTokenTtlDays,
  });
  const apiKeys = new ApiKeyService({
    keysOf: (tenantId) => new ApiKeyRepository(new TenantScope(db, tenantId)),
    directory: new ApiKeyDirectory(db),
    tenants: tenantRepository,
    memberships: membershipDirectory,
    audit,
    logger,
    cacheSeconds: config.sessions.revocationCheckSeconds,
  });
  const tenants = new TenantService({
    tenants: tenantRepository,
    membershipsOf,
    forgetSessionsOfTenant: (tenantId) => guard.forget({ tenantId }),
    forgetKeysOfTenant: (tenantId) => apiKeys.forgetScope(tenantId),
    logger,
    audit,
  });
  // The second factor: TOTP secrets sealed under a platform key; refused codes count on auth's failure counters.
  const twoFactor: TotpService = new TotpService({
    totp: new TotpRepository(db),
    challenges: new LoginChallengeRepository(db),
    cipher: new TotpSecretCipher({ platformKeys: new PlatformKeyRepository(db), keyring }),
    users,
    sessions,
    guard,
    loginFailures: () => auth.failureCounters,
    verifyPassword: (email, password, request) => auth.verifyCredentials(email, password, request),
    audit,
    logger,
    now: twoFactorOptions.now ?? (() => new Date()),
  });
  const auth: AuthService = new AuthService({
    users,
    tenants: tenantRepository,
    tenantService: tenants,
    memberships: membershipDirectory,
    sessions,
    sessionService,
    guard,
    passwords,
    throttle,
    logger,
    audit,
    loginFailures: new LoginFailures({
      counters: new LoginFailureRepository(db),
      key: counterKey,
      logger,
      ...config.lockout,
      backoffMaxMs: config.loginBackoffMaxMs,
    }),
    signUpMode: config.signUpMode,
    twoFactor,
  });
  const account = new AccountService({
    users,
    tenants: tenantRepository,
    memberships: membershipDirectory,
    sessions,
    auth,
    guard,
    passwords,
    throttle,
    logger,
    audit,
    auditTrail: (chainId, actorId, limit) => auditLog!.byActor(chainId, actorId, limit),
  });
  const members = new MemberService({
    membershipsOf,
    invitationsOf,
    invitationDirectory,
    users,
    tenants: tenantRepository,
    sessions,
    sessionService,
    auth,
    guard,
    forgetKeysOf: (tenantId, userId) => apiKeys.forgetScope(tenantId, userId),
    revokeKeysOf: (tenantId, userId) => apiKeys.revokeAllBy(tenantId, userId),
    passwords,
    throttle,
    logger,
    audit,
    invitationTtlHours: config.invitationTtlHours,
  });

  const secretsOf = (tenantId: string) => new SecretRepository(new TenantScope(db, tenantId));
  const cipher = new SecretSealer(new TenantCipher(keys));

  // Privacy: subject keys and the blind-index key are wrapped by tenant DEKs (registered as sealed data by privacy.module.ts).
  const subjectsOf = (tenantId: string) => new SubjectRepository(new TenantScope(db, tenantId));
  const subjectKeys = new SubjectKeyStore({ keys, cipher: new TenantCipher(keys), cacheTtlMs: privacy.subjectKeyCacheMs });
  const tenantName = async (tenantId: string) => (await tenantRepository.findById(tenantId))?.name ?? '';
  // Consent: depends on privacy (subjects, their keys); privacy's export and erasure reach it through callbacks.
  // Its ledger and suppression keys are its own random keys, wrapped under the tenant DEK (never derived from another key).
  const consentOf = (tenantId: string) => new ConsentRepository(new TenantScope(db, tenantId));
  const consentKeys = new ConsentTenantKeys({ consentOf, cipher: new TenantCipher(keys) });
  const suppression = new SuppressionHashes({ subjectsOf, keyStore: subjectKeys, keys: consentKeys });
  // The record of processing states the tenant's retention policy (privacy's), read through this callback.
  const consentPurposes = new PurposeService({ consentOf, audit, retentionOf: (tenantId) => retention.policyOf(tenantId) });
  const consentLedger = new ConsentLedgerService({
    consentOf,
    subjectsOf,
    keyStore: subjectKeys,
    keys: consentKeys,
    audit,
    signer: () => tokens.signingKey(),
    tenantName,
  });
  const optOuts = new OptOutService({ consentOf, subjectsOf, audit, ledger: consentLedger, suppression });
  const contactDecisions = new ContactDecisionService({ consentOf, subjectsOf, keyStore: subjectKeys, keys: consentKeys, suppression, ledger: consentLedger, audit });
  const consentLinks = new ConsentLinkService({
    consentOf,
    subjectsOf,
    audit,
    signer: () => tokens.signingKey(),
    jwks: () => tokens.jwks(),
    issuer: config.jwt.issuer,
    tenantName,
    publicBaseUrl: config.unsubscribeBaseUrl,
    ledger: consentLedger,
    optOuts,
  });
  const subjects: SubjectService = new SubjectService({
    subjectsOf,
    keyStore: subjectKeys,
    audit,
    logger,
    tenantName,
    requestsOf: (tenantId, subject) => dsr.forExport(tenantId, subject),
    consentFacts: (tenantId, subjectId) => consentLedger.exportFacts(tenantId, subjectId),
  });
  const subjectErasure = new SubjectErasureService({
    subjectsOf,
    keyStore: subjectKeys,
    audit,
    logger,
    signer: () => tokens.signingKey(),
    tenantsWithErasures: () => new SubjectErasureDirectory(db).tenantsWithErasures(),
    afterStep: privacy.afterErasureStep ?? erasureStepDelay(config.faults.erasureStepDelayMs),
    suppressionEntriesKept: (tenantId, subjectId) => optOuts.suppressionEntriesKept(tenantId, subjectId),
  });
  // Data-subject requests and retention (privacy): same keys, the export and the erasure above.
  const dsrOf = (tenantId: string) => new DsrRepository(new TenantScope(db, tenantId));
  const clock = privacy.now ?? (() => new Date());
  const dsr: DsrService = new DsrService({ dsrOf, subjectsOf, keyStore: subjectKeys, subjects, erasure: subjectErasure, audit, logger, now: clock });
  const retention: RetentionService = new RetentionService({ dsrOf, subjectsOf, erasure: subjectErasure, directory: new RetentionDirectory(db), audit, logger, now: clock });

  // Webhooks: the API, the outbox fed by a scan and by stored audit events, the delivery job.
  const webhooks = createWebhooks({
    db,
    config: config.webhooks,
    cipher: new TenantCipher(keys),
    audit,
    logger,
    leases: new JobLeaseRepository(db),
    tenantsOfUser: async (userId) => (await membershipDirectory.ofUser(userId)).map((m) => m.tenantId),
    auditTrail: async (chainId, action, since) => (await auditLog!.list(chainId, { action, from: since }, 200)).edges.map((edge) => edge.node),
    suspendedTenants: () => tenantRepository.suspendedIds(),
    options: webhookOptions,
  });
  auditLog.observe(webhooks.auditSource.observe);

  const services: Services = {
    auth,
    account,
    members,
    tenants,
    secretWrites: new SecretWriteService({ secretsOf, cipher, audit, logger }),
    secretQueries: new SecretQueryService({ secretsOf, cipher, audit, logger }),
    secretLifecycle: new SecretLifecycleService({ secretsOf, audit, recoveryDays: config.secrets.recoveryDays }),
    apiKeys,
    keys,
    audit: auditLog,
    subjects,
    subjectErasure,
    // Account and tenant deletion (issue "Privacy I" §2): leaving goes through the member-removal path.
    tenantDeletion: new TenantDeletionService({
      db,
      tenants: tenantRepository,
      keys,
      collections: tenantCollections(),
      detachSessionsOfTenant: (tenantId) => sessions.detachTenant(tenantId, 'tenant_deleted'),
      forgetSessionsOfTenant: (tenantId) => guard.forget({ tenantId }),
      forgetKeysOfTenant: (tenantId) => apiKeys.forgetScope(tenantId),
      signer: () => tokens.signingKey(),
      audit,
      logger,
      afterStep: privacy.afterTenantDeletionStep,
    }),
    accountClosure: new AccountClosureService({ users, tenants: tenantRepository, memberships: membershipDirectory, sessions, members, auth, guard, throttle, logger, audit }),
    dsr,
    retention,
    consentPurposes,
    consentLedger,
    optOuts,
    contactDecisions,
    consentLinks,
    twoFactor,
    webhooks: webhooks.service,
  };
  // Periodic jobs share one skeleton (jobs/interval-job.ts) and a lease, so one instance sweeps at a time.
  const leases = new JobLeaseRepository(db);
  const secretPurge = new SecretPurgeJob({ db, audit, logger, recoveryDays: config.secrets.recoveryDays, leases, intervalMs: config.secrets.purgeIntervalSeconds * 1000 });
  const housekeeping = new HousekeepingJob({ db, logger, leases });
  const retentionSweep = new RetentionSweepJob({ retention, logger, leases, intervalMs: config.retention.sweepIntervalMinutes * 60_000 });
  const rateLimitSweep = new RateLimitSweepJob({ db, logger, leases });
  return { services, tokens, guard, passwords, reencryption, secretPurge, housekeeping, retentionSweep, rateLimitSweep, counterKeyHash, webhookJobs: webhooks.jobs };
}

/** FAULT_ERASURE_STEP_DELAY_MS (tests only; refused in production): a pause after each erasure step. */
function erasureStepDelay(ms: number): ErasureStepHook | undefined {
  if (ms <= 0) return undefined;
  return () => new Promise<void>((resolve) => setTimeout(resolve, ms));
}
