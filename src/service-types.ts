/**
 * The services every request, CLI command and job reaches, by name: the type the GraphQL context
 * and the CLI hold. Built by createServices (src/services.ts); kept apart from it so the GraphQL
 * layer depends on service types only, never on the composition root (which reads the module list).
 */
import type { AccountService } from './modules/auth/account.service.js';
import type { AuthService } from './modules/auth/auth.service.js';
import type { MemberService } from './modules/members/member.service.js';
import type { TenantService } from './modules/tenants/tenant.service.js';
import type { TenantDeletionService } from './modules/tenants/tenant-deletion.service.js';
import type { AccountClosureService } from './modules/members/account-closure.service.js';
import type { ApiKeyService } from './modules/apikeys/api-key.service.js';
import type { AuditLog } from './modules/audit/audit-log.js';
import type { TenantKeyService } from './modules/keys/tenant-key.service.js';
import type { SecretLifecycleService } from './modules/secrets/secret-lifecycle.service.js';
import type { SecretQueryService } from './modules/secrets/secret-query.service.js';
import type { SecretWriteService } from './modules/secrets/secret.service.js';
import type { SubjectService } from './modules/privacy/subject.service.js';
import type { SubjectErasureService } from './modules/privacy/subject-erasure.service.js';
import type { DsrService } from './modules/privacy/dsr.service.js';
import type { RetentionService } from './modules/privacy/retention.service.js';
import type { ConsentLedgerService } from './modules/consent/consent-ledger.service.js';
import type { ConsentLinkService } from './modules/consent/consent-links.service.js';
import type { ContactDecisionService } from './modules/consent/contact-decision.service.js';
import type { OptOutService } from './modules/consent/opt-out.service.js';
import type { PurposeService } from './modules/consent/purpose.service.js';
import type { TotpService } from './modules/auth/totp.service.js';
import type { WebhookService } from './modules/webhooks/webhook.service.js';

export interface Services {
  auth: AuthService;
  account: AccountService;
  members: MemberService;
  tenants: TenantService;
  secretWrites: SecretWriteService;
  secretQueries: SecretQueryService;
  secretLifecycle: SecretLifecycleService;
  apiKeys: ApiKeyService;
  keys: TenantKeyService;
  audit: AuditLog;
  subjects: SubjectService;
  subjectErasure: SubjectErasureService;
  tenantDeletion: TenantDeletionService;
  accountClosure: AccountClosureService;
  dsr: DsrService;
  retention: RetentionService;
  consentPurposes: PurposeService;
  consentLedger: ConsentLedgerService;
  optOuts: OptOutService;
  contactDecisions: ContactDecisionService;
  consentLinks: ConsentLinkService;
  twoFactor: TotpService;
  webhooks: WebhookService;
}
