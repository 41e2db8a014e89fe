import type { Logger } from '../../logger.js';
import type { AuditSink } from '../audit/audit-event.js';
import { userEvent } from '../audit/audit-helpers.js';
import { appError, badInput, conflict, forbidden, notFound, unauthenticated } from '../../errors.js';
import type { MembershipDirectory, MembershipDoc } from '../members/membership.repository.js';
import type { Role } from '../members/roles.js';
import type { TenantService } from '../tenants/tenant.service.js';
import type { TenantDoc, TenantRepository } from '../tenants/tenant.repository.js';
import { normaliseEmail, passwordProblem } from './password-policy.js';
import type { PasswordHasher } from './passwords.js';
import type { SessionGuard } from './session-guard.js';
import type { SessionRepository } from './session.repository.js';
import type { AuthPayloadData, SessionService } from './session.service.js';
import type { Throttle } from './throttle.js';
import { isDuplicateKey } from '../../db/mongo-errors.js';
import type { UserDoc, UserRepository } from './user.repository.js';
import type { RequestInfo, Viewer } from './viewer.js';

export interface AuthDeps {
  users: UserRepository;
  tenants: TenantRepository;
  tenantService: TenantService;
  memberships: MembershipDirectory;
  sessions: SessionRepository;
  sessionService: SessionService;
  guard: SessionGuard;
  passwords: PasswordHasher;
  throttle: Throttle;
  logger: Logger;
  audit: AuditSink;
  lockout: { maxFailures: number; lockMinutes: number };
}

const BAD_CREDENTIALS = 'Invalid email or password';

/** Sign-up, login, refresh, tenant switching and logout. */
export class AuthService {
  constructor(private readonly deps: AuthDeps) {}

  async signUp(input: { email: string; password: string; tenantName: string }, request: RequestInfo): Promise<AuthPayloadData> {
    await this.deps.throttle.consume(`signup:${request.ip}`);
    const email = normaliseEmail(input.email);
    const problem = passwordProblem(input.password, email);
    if (problem) throw badInput('password', problem);
    const tenantName = this.deps.tenantService.validName(input.tenantName);

    const passwordHash = await this.deps.passwords.hash(input.password);
    let user: UserDoc;
    try {
      user = await this.deps.users.create(email, passwordHash);
    } catch (error) {
      if (isDuplicateKey(error)) throw conflict('An account with this email already exists; log in instead');
      throw error;
    }
    let tenant: TenantDoc | undefined;
    try {
      ({ tenant } = await this.deps.tenantService.createWithOwner(tenantName, user._id));
      this.deps.logger.info({ event: 'auth.sign_up', userId: user._id, tenantId: tenant._id, requestId: request.requestId }, 'user signed up');
      await this.deps.audit.append(userEvent(tenant._id, user._id, 'auth.signup', { type: 'TENANT', id: tenant._id }, request));
      return await this.deps.sessionService.start(user, tenant, 'OWNER', request);
    } catch (error) {
      // No half-made account or tenant left behind; each undo runs even if another fails.
      const undo = await Promise.allSettled([tenant ? this.deps.tenantService.removeNew(tenant._id, user._id) : null, this.deps.users.delete(user._id)]);
      for (const step of undo) if (step.status === 'rejected') this.deps.logger.error({ err: step.reason, userId: user._id }, 'sign-up undo step failed');
      throw error;
    }
  }

  async login(input: { email: string; password: string; tenantId?: string | null }, request: RequestInfo): Promise<AuthPayloadData> {
    await this.deps.throttle.consume(`login:${request.ip}`);
    const user = await this.verifyCredentials(normaliseEmail(input.email), input.password, request);
    const { tenant, role } = await this.chooseTenant(user, input.tenantId ?? null);
    this.deps.logger.info({ event: 'auth.login', userId: user._id, tenantId: tenant?._id, requestId: request.requestId }, 'login succeeded');
    await this.deps.audit.append(userEvent(tenant?._id ?? null, user._id, 'auth.login.succeeded', { type: 'USER', id: user._id }, request));
    return this.deps.sessionService.start(user, tenant, role, request);
  }

  /**
   * Checks an email and password with lockout. Unknown email and wrong password
   * give the same message and cost the same (a dummy hash is verified).
   */
  async verifyCredentials(email: string, password: string, request: RequestInfo): Promise<UserDoc> {
    const user = await this.deps.users.findByEmail(email);
    if (!user) {
      await this.deps.passwords.verifyDummy(password);
      await this.deps.audit.append(userEvent(null, null, 'auth.login.failed', { type: 'USER', id: null }, request, { reason: 'unknown_email' }, 'FAILURE'));
      throw unauthenticated(BAD_CREDENTIALS);
    }
    const valid = await this.deps.passwords.verify(user.passwordHash, password);
    if (user.lockedUntil && user.lockedUntil > new Date()) {
      await this.deps.audit.append(userEvent(null, null, 'auth.login.failed', { type: 'USER', id: user._id }, request, { reason: 'locked' }, 'DENIED'));
      throw appError('ACCOUNT_LOCKED', 'Account temporarily locked after repeated failed logins; try again later', {
        lockedUntil: user.lockedUntil.toISOString(),
      });
    }
    if (!valid) {
      await this.recordFailure(user, request);
      throw unauthenticated(BAD_CREDENTIALS);
    }
    if (user.failedLogins > 0 || user.lockedUntil) await this.deps.users.recordSuccessfulLogin(user._id);
    return user;
  }

  private async recordFailure(user: UserDoc, request: RequestInfo): Promise<void> {
    const { maxFailures, lockMinutes } = this.deps.lockout;
    const failures = await this.deps.users.recordFailedLogin(user._id);
    this.deps.logger.info({ event: 'auth.login_failed', userId: user._id, failures, ip: request.ip, requestId: request.requestId }, 'login failed');
    await this.deps.audit.append(userEvent(null, null, 'auth.login.failed', { type: 'USER', id: user._id }, request, { reason: 'wrong_password', failures }, 'FAILURE'));
    if (failures < maxFailures) return;
    const until = new Date(Date.now() + lockMinutes * 60_000);
    if (await this.deps.users.lock(user._id, maxFailures, until)) {
      this.deps.logger.warn(
        { event: 'auth.account_locked', userId: user._id, until: until.toISOString(), ip: request.ip, requestId: request.requestId },
        `account locked after ${maxFailures} consecutive failed logins`,
      );
      await this.deps.audit.append(userEvent(null, null, 'auth.account.locked', { type: 'USER', id: user._id }, request, { until: until.toISOString() }, 'DENIED'));
    }
  }

  /** The tenant a login lands in: the one asked for, else the first active membership. */
  private async chooseTenant(user: UserDoc, tenantId: string | null): Promise<{ tenant: TenantDoc | null; role: Role | null }> {
    const memberships = await this.deps.memberships.ofUser(user._id);
    const candidates: MembershipDoc[] = tenantId ? memberships.filter((m) => m.tenantId === tenantId) : memberships;
    if (tenantId && !candidates.length) throw forbidden('You are not a member of that tenant');
    const tenants = await this.deps.tenants.findManyByIds(candidates.map((m) => m.tenantId));
    for (const membership of candidates) {
      const tenant = tenants.find((t) => t._id === membership.tenantId);
      if (tenant?.status === 'ACTIVE') return { tenant, role: membership.role };
    }
    if (tenantId) throw forbidden('That tenant is suspended');
    if (user.platformAdmin) return { tenant: null, role: null };
    throw forbidden('You have no active tenant');
  }

  async refresh(refreshToken: string, request: RequestInfo): Promise<AuthPayloadData> {
    await this.deps.throttle.consume(`refresh:${request.ip}`);
    const session = await this.deps.sessionService.authenticateRefresh(refreshToken, request);
    const user = await this.deps.users.findById(session.userId);
    if (!user) throw unauthenticated('Invalid or expired refresh token');
    let tenant: TenantDoc | null = null;
    let role: Role | null = null;
    if (session.tenantId) {
      const membership = await this.deps.memberships.find(session.tenantId, user._id);
      tenant = await this.deps.tenants.findById(session.tenantId);
      if (!membership || tenant?.status !== 'ACTIVE') {
        await this.deps.sessions.revoke(session._id, 'membership_or_tenant_gone');
        throw unauthenticated('Invalid or expired refresh token');
      }
      role = membership.role;
    } else if (!user.platformAdmin) {
      throw unauthenticated('Invalid or expired refresh token');
    }
    return this.deps.sessionService.rotate(session, user, tenant, role);
  }

  async switchTenant(viewer: Viewer, tenantId: string): Promise<AuthPayloadData> {
    const [user, membership, tenant, session] = await Promise.all([
      this.deps.users.findById(viewer.userId),
      this.deps.memberships.find(tenantId, viewer.userId),
      this.deps.tenants.findById(tenantId),
      this.deps.sessions.findById(viewer.sessionId),
    ]);
    if (!user || !session) throw unauthenticated();
    if (!membership || !tenant) throw notFound('Tenant');
    if (tenant.status !== 'ACTIVE') throw forbidden('That tenant is suspended');
    this.deps.guard.forget({ sessionId: session._id });
    return this.deps.sessionService.rotate(session, user, tenant, membership.role);
  }

  async logout(viewer: Viewer, request: RequestInfo): Promise<boolean> {
    await this.deps.sessions.revoke(viewer.sessionId, 'logout');
    this.deps.guard.forget({ sessionId: viewer.sessionId });
    await this.deps.audit.append(userEvent(viewer.tenantId, viewer.userId, 'auth.session.revoked', { type: 'SESSION', id: viewer.sessionId }, request, { reason: 'logout' }));
    return true;
  }
}
