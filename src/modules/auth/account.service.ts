import type { Logger } from '../../logger.js';
import type { AuditSink } from '../audit/audit-event.js';
import { auditEvent, userActor } from '../audit/audit-builder.js';
import { AppError, badInput, notFound, unauthenticated } from '../../errors.js';
import { passwordProblem } from './password-policy.js';
import type { PasswordHasher } from './passwords.js';
import type { SessionGuard } from './session-guard.js';
import type { SessionDoc, SessionRepository } from './session.repository.js';
import type { Throttle } from './throttle.js';
import type { MembershipDirectory } from '../tenants/membership.repository.js';
import type { Role } from '../../identity/roles.js';
import type { TenantDoc, TenantRepository } from '../tenants/tenant.repository.js';
import type { UserDoc, UserRepository } from './user.repository.js';
import type { AuthService } from './auth.service.js';
import type { Caller } from '../../identity/caller.js';
import { userOf } from '../../identity/callers.js';
import { PLATFORM_CHAIN } from '../audit/audit-event.js';
import type { AuditEventDoc } from '../audit/audit.document.js';
import {
  ACCOUNT_EXPORT_AUDIT_LIMIT,
  ACCOUNT_EXPORT_FORMAT,
  ACCOUNT_EXPORT_SESSION_LIMIT,
  ACCOUNT_EXPORT_VERSION,
  type AccountExportDocument,
} from './account-export.js';

interface AccountDeps {
  users: UserRepository;
  tenants: TenantRepository;
  memberships: MembershipDirectory;
  sessions: SessionRepository;
  auth: AuthService;
  guard: SessionGuard;
  passwords: PasswordHasher;
  throttle: Throttle;
  logger: Logger;
  audit: AuditSink;
  /** Up to `limit` events of one audit chain whose actor is the user, newest first (AuditLog.byActor). */
  auditTrail: (chainId: string, actorId: string, limit: number) => Promise<AuditEventDoc[]>;
}

export interface Profile {
  user: UserDoc;
  /** The tenant of the current token, if any. */
  tenant: TenantDoc | null;
  memberships: { tenant: TenantDoc; role: Role; joinedAt: Date }[];
}

/** What a signed-in user does to their own account: profile, password and sessions. */
export class AccountService {
  constructor(private readonly deps: AccountDeps) {}

  /** The user, the current tenant and every membership (with its tenant). */
  async profile(caller: Caller): Promise<Profile> {
    const viewer = userOf(caller);
    // The user and their memberships at once, then their tenants: two round trips, not three.
    const [user, memberships] = await Promise.all([this.deps.users.findById(viewer.userId), this.deps.memberships.ofUser(viewer.userId)]);
    if (!user) throw unauthenticated();
    const tenants = new Map((await this.deps.tenants.findManyByIds(memberships.map((m) => m.tenantId))).map((t) => [t._id, t]));
    return {
      user,
      tenant: (viewer.tenantId && tenants.get(viewer.tenantId)) || null,
      memberships: memberships.flatMap((m) => {
        const tenant = tenants.get(m.tenantId);
        return tenant ? [{ tenant, role: m.role, joinedAt: m.joinedAt }] : [];
      }),
    };
  }

  /**
   * Changes the password and revokes every other session of the user, and ends their pending
   * login challenges (password steps passed with the old password). A user with an active
   * second factor must also give a current TOTP code or an unused recovery code (`totpCode`):
   * missing → BAD_USER_INPUT, wrong → UNAUTHENTICATED (counted toward the login lockout).
   */
  async changePassword(caller: Caller, input: { currentPassword: string; newPassword: string; totpCode?: string | null }): Promise<boolean> {
    const viewer = userOf(caller);
    const { request } = caller;
    await this.deps.throttle.consume(`password:${viewer.userId}`);
    const user = await this.deps.users.findById(viewer.userId);
    if (!user) throw unauthenticated();
    const problem = passwordProblem(input.newPassword, user.email);
    if (problem) throw badInput('newPassword', problem);
    await this.deps.auth.requireStepUpCode(user._id, input.totpCode, 'totpCode');
    try {
      await this.deps.auth.verifyCredentials(user.email, input.currentPassword, request);
    } catch (error) {
      if (error instanceof AppError && error.code === 'UNAUTHENTICATED') {
        throw badInput('currentPassword', 'is not correct');
      }
      throw error; // ACCOUNT_LOCKED and the like pass through unchanged
    }
    await this.deps.auth.confirmStepUp(user, input.totpCode, request, 'change_password', 'totpCode');
    await this.deps.users.setPasswordHash(user._id, await this.deps.passwords.hash(input.newPassword));
    // Challenges first: a login completing meanwhile then starts its session before the revocation below.
    await this.deps.auth.endLoginChallenges(user._id);
    const revoked = await this.deps.sessions.revokeAllOfUser(user._id, 'password_changed', viewer.sessionId);
    this.deps.guard.forget({ userId: user._id });
    this.deps.logger.info({ event: 'auth.password_changed', userId: user._id, revokedSessions: revoked, requestId: request.requestId }, 'password changed');
    await this.deps.audit.append(auditEvent('auth.password.changed', { caller: { tenantId: viewer.tenantId, actor: userActor(user._id), request }, resource: { id: user._id }, details: { revokedSessions: revoked } }));
    return true;
  }

  /**
   * exportMyData: the caller's own account as one JSON document (format coffer.account-export,
   * docs/account-export-format.md): the account (never the password hash), memberships with
   * tenant names and roles, sessions, and the newest 1,000 audit events where the user is the
   * actor, across their tenants' chains and the platform chain. Audited (platform chain).
   */
  async exportMyData(caller: Caller): Promise<AccountExportDocument> {
    const viewer = userOf(caller);
    const { request } = caller;
    await this.deps.throttle.consume(`export:${viewer.userId}`);
    // The user and their memberships at once, then their tenants: two round trips, not three.
    const [user, memberships] = await Promise.all([this.deps.users.findById(viewer.userId), this.deps.memberships.ofUser(viewer.userId)]);
    if (!user) throw unauthenticated();
    const tenants = new Map((await this.deps.tenants.findManyByIds(memberships.map((m) => m.tenantId))).map((t) => [t._id, t]));
    const sessions = await this.deps.sessions.listAllOfUser(user._id, ACCOUNT_EXPORT_SESSION_LIMIT);
    const chains = [...new Set(memberships.map((m) => m.tenantId)), PLATFORM_CHAIN];
    const perChain = await Promise.all(chains.map((chain) => this.deps.auditTrail(chain, user._id, ACCOUNT_EXPORT_AUDIT_LIMIT + 1)));
    const events = perChain.flat().sort((a, b) => b.time.getTime() - a.time.getTime() || (a._id < b._id ? -1 : 1));
    const trail = events.slice(0, ACCOUNT_EXPORT_AUDIT_LIMIT);
    const document: AccountExportDocument = {
      format: ACCOUNT_EXPORT_FORMAT,
      version: ACCOUNT_EXPORT_VERSION,
      generatedAt: new Date().toISOString(),
      account: { id: user._id, email: user.email, createdAt: user.createdAt.toISOString(), updatedAt: user.updatedAt.toISOString(), platformAdmin: user.platformAdmin, twoFactorEnabled: await this.deps.auth.secondFactorEnabled(user._id) },
      memberships: memberships.map((m) => {
        const tenant = tenants.get(m.tenantId);
        return { tenantId: m.tenantId, tenantName: tenant?.name ?? null, tenantSlug: tenant?.slug ?? null, tenantStatus: tenant?.status ?? null, role: m.role, joinedAt: m.joinedAt.toISOString() };
      }),
      sessions: sessions.map((s) => ({
        id: s._id,
        tenantId: s.tenantId,
        createdAt: s.createdAt.toISOString(),
        lastUsedAt: s.lastUsedAt.toISOString(),
        expiresAt: s.expiresAt.toISOString(),
        ip: s.ip,
        userAgent: s.userAgent,
        revoked: s.revokedAt !== null,
        revokedAt: s.revokedAt?.toISOString() ?? null,
        revokedReason: s.revokedReason,
      })),
      auditTrail: {
        limit: ACCOUNT_EXPORT_AUDIT_LIMIT,
        truncated: events.length > ACCOUNT_EXPORT_AUDIT_LIMIT,
        chains: chains.map((c) => (c === PLATFORM_CHAIN ? 'platform' : c)),
        events: trail.map((e) => ({
          id: e._id,
          chain: e.tenantId === PLATFORM_CHAIN ? 'platform' : e.tenantId,
          seq: e.seq,
          time: e.time.toISOString(),
          action: e.action,
          resource: { type: e.resource.type, id: e.resource.id },
          outcome: e.outcome,
          ip: e.ip,
          userAgent: e.userAgent,
          requestId: e.requestId,
          details: e.details,
        })),
      },
    };
    this.deps.logger.info({ event: 'account.exported', userId: user._id, requestId: request.requestId }, 'account data exported');
    await this.deps.audit.append(
      auditEvent('account.exported', {
        caller: { tenantId: null, actor: userActor(user._id), request },
        resource: { id: user._id },
        details: { memberships: document.memberships.length, sessions: document.sessions.length, auditEvents: trail.length },
      }),
    );
    return document;
  }

  listSessions(caller: Caller): Promise<SessionDoc[]> {
    const viewer = userOf(caller);
    return this.deps.sessions.listActive(viewer.userId, new Date());
  }

  /** Revokes one of the caller's own sessions; anyone else's is NOT_FOUND. */
  async revokeSession(caller: Caller, sessionId: string): Promise<boolean> {
    const viewer = userOf(caller);
    const { request } = caller;
    const session = await this.deps.sessions.findById(sessionId);
    if (!session || session.userId !== viewer.userId || session.revokedAt) throw notFound('Session');
    await this.deps.sessions.revoke(sessionId, 'revoked_by_user');
    this.deps.guard.forget({ sessionId: sessionId });
    await this.deps.audit.append(auditEvent('auth.session.revoked', { caller: { tenantId: viewer.tenantId, actor: userActor(viewer.userId), request }, resource: { id: sessionId }, details: { reason: 'revoked_by_user' } }));
    return true;
  }
}
