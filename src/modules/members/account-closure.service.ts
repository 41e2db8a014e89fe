import type { Logger } from '../../logger.js';
import { badInput, conflict, unauthenticated } from '../../errors.js';
import type { Caller } from '../../identity/caller.js';
import { userOf } from '../../identity/callers.js';
import { auditEvent, userActor } from '../audit/audit-builder.js';
import type { AuditSink } from '../audit/audit-event.js';
import type { AuthService } from '../auth/auth.service.js';
import type { SessionGuard } from '../auth/session-guard.js';
import type { SessionRepository } from '../auth/session.repository.js';
import type { Throttle } from '../auth/throttle.js';
import type { UserRepository } from '../auth/user.repository.js';
import type { MembershipDirectory } from '../tenants/membership.repository.js';
import type { TenantRepository } from '../tenants/tenant.repository.js';
import type { MemberService } from './member.service.js';

interface AccountClosureDeps {
  users: UserRepository;
  tenants: TenantRepository;
  memberships: MembershipDirectory;
  sessions: SessionRepository;
  members: MemberService;
  auth: AuthService;
  guard: SessionGuard;
  throttle: Throttle;
  logger: Logger;
  audit: AuditSink;
}

/**
 * deleteMyAccount: a user deletes their own account. It lives beside the members module
 * because leaving each tenant goes through the member-removal path (MemberService.leave).
 */
export class AccountClosureService {
  constructor(private readonly deps: AccountClosureDeps) {}

  /**
   * Re-verifies the password (counted like a login: wrong → UNAUTHENTICATED) and, for a user
   * with an active second factor, a TOTP or recovery code (`totpCode`: missing → BAD_USER_INPUT,
   * wrong → UNAUTHENTICATED, counted the same; checked after the CONFLICT below), refuses with
   * CONFLICT while the user is the only OWNER of a tenant, then leaves every tenant (their
   * API keys revoked), revokes and removes every session (forgotten at once on this
   * instance), and deletes the user document. Audit events keep the user id only.
   */
  async deleteMyAccount(caller: Caller, password: string, totpCode?: string | null): Promise<boolean> {
    const viewer = userOf(caller);
    const { request } = caller;
    if (password.length > 256) throw badInput('password', 'must be at most 256 characters');
    await this.deps.throttle.consume(`account-delete:${viewer.userId}`);
    const user = await this.deps.users.findById(viewer.userId);
    if (!user) throw unauthenticated();
    await this.deps.auth.requireStepUpCode(user._id, totpCode, 'totpCode');
    await this.deps.auth.verifyCredentials(user.email, password, request);

    const memberships = await this.deps.memberships.ofUser(user._id);
    const tenants = new Map((await this.deps.tenants.findManyByIds(memberships.map((m) => m.tenantId))).map((t) => [t._id, t]));
    const soleOwned = memberships.filter((m) => m.role === 'OWNER' && (tenants.get(m.tenantId)?.ownerCount ?? 0) <= 1);
    if (soleOwned.length) {
      const slugs = soleOwned.map((m) => tenants.get(m.tenantId)?.slug ?? m.tenantId).join(', ');
      throw conflict(
        `You are the only OWNER of ${soleOwned.length === 1 ? 'tenant' : 'tenants'} ${slugs}: hand over or delete the tenant first (updateMemberRole to make another member OWNER, or deleteTenant), then delete your account`,
      );
    }
    // The second factor last, so a recovery code is not spent on a refusal above.
    await this.deps.auth.confirmStepUp(user, totpCode, request, 'delete_account', 'totpCode');

    // Every live session ends: leaving a tenant revokes those scoped to it, the rest are revoked after.
    const sessionsRevoked = (await this.deps.sessions.listActive(user._id, new Date())).length;
    let apiKeysRevoked = 0;
    for (const membership of memberships) apiKeysRevoked += await this.deps.members.leave(caller, membership.tenantId);
    await this.deps.sessions.revokeAllOfUser(user._id, 'account_deleted');
    this.deps.guard.forget({ userId: user._id });
    await this.deps.users.delete(user._id);
    await this.deps.auth.removeSecondFactor(user._id); // the sealed TOTP secret, recovery code hashes and challenges
    // Sessions hold IP addresses and user agents: they go with the account (after the revocation above).
    await this.deps.sessions.deleteAllOfUser(user._id);
    this.deps.guard.forget({ userId: user._id });
    this.deps.logger.warn({ event: 'account.deleted', userId: user._id, tenantsLeft: memberships.length, sessionsRevoked, requestId: request.requestId }, 'account deleted');
    await this.deps.audit.append(
      auditEvent('account.deleted', {
        caller: { tenantId: null, actor: userActor(user._id), request },
        resource: { id: user._id },
        details: { tenantsLeft: memberships.length, sessionsRevoked, apiKeysRevoked },
      }),
    );
    return true;
  }
}
