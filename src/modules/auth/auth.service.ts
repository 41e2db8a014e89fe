import type { Logger } from '../../logger.js';
import type { AuditSink } from '../audit/audit-event.js';
import { auditEvent, userActor } from '../audit/audit-builder.js';
import { appError, badInput, conflict, forbidden, notFound, unauthenticated } from '../../errors.js';
import type { MembershipDirectory, MembershipDoc } from '../tenants/membership.repository.js';
import type { Role } from '../../identity/roles.js';
import type { TenantService } from '../tenants/tenant.service.js';
import type { TenantDoc, TenantRepository } from '../tenants/tenant.repository.js';
import { normaliseEmail, passwordProblem } from './password-policy.js';
import type { PasswordHasher } from './passwords.js';
import type { SessionGuard } from './session-guard.js';
import type { SessionRepository } from './session.repository.js';
import type { AuthPayloadData, SessionService } from './session.service.js';
import type { Throttle } from './throttle.js';
import type { FailureSubjects, LoginFailures } from './login-failures.js';
import type { SignUpMode } from '../../config.js';
import { isDuplicateKey } from '../../db/mongo-errors.js';
import type { UserDoc, UserRepository } from './user.repository.js';
import type { Caller, RequestInfo } from '../../identity/caller.js';
import { userOf } from '../../identity/callers.js';
import { clientBucket } from './client-bucket.js';
import { MAX_CODE_LENGTH, secondFactorCodeMissing, type StepUpPurpose } from './totp.service.js';

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
  loginFailures: LoginFailures;
  /** `invite-only` closes signUp; accounts are then only made by accepting an invitation. */
  signUpMode: SignUpMode;
  /** The second factor (totp.service.ts): enrolled users get a challenge from login instead of tokens. */
  twoFactor: SecondFactorLogin;
}

/** What login needs of the second factor (TotpService). */
export interface SecondFactorLogin {
  enabled(userId: string): Promise<boolean>;
  issueChallenge(user: UserDoc, tenantId: string | null, request: RequestInfo): Promise<{ token: string; expiresAt: Date }>;
  completeChallenge(token: string, code: string, request: RequestInfo): Promise<{ user: UserDoc; tenantId: string | null }>;
  /** Deletes the user's enrolment and challenges (account closure). */
  removeAll(userId: string): Promise<void>;
  /** Deletes the user's pending login challenges (a password change ends them with the sessions). */
  endChallenges(userId: string): Promise<void>;
  /** Step-up for an account change: checks a code of a user with an active second factor (TotpService.stepUp). */
  stepUp(user: UserDoc, code: string | null | undefined, request: RequestInfo, purpose: StepUpPurpose, field: string): Promise<void>;
}

/** login's answer for a user with a second factor: no tokens, a challenge for completeLogin. */
export interface TwoFactorChallengeData {
  twoFactorChallenge: { token: string; expiresAt: Date };
  user: UserDoc;
}

const BAD_CREDENTIALS = 'Invalid email or password';

const locked = (until: Date) =>
  appError('ACCOUNT_LOCKED', 'Too many failed logins for this email from your address; try again later', { lockedUntil: until.toISOString() });

/** Sign-up, login, refresh, tenant switching and logout. */
export class AuthService {
  constructor(private readonly deps: AuthDeps) {}

  async signUp(input: { email: string; password: string; tenantName: string }, caller: Caller): Promise<AuthPayloadData> {
    const { request } = caller;
    await this.deps.throttle.consume(`signup:${clientBucket(request.ip)}`);
    // Checked before anything else, so a closed sign-up reveals nothing about the email.
    if (this.deps.signUpMode === 'invite-only') throw forbidden('Sign-up is closed on this server: ask an administrator of your organisation for an invitation');
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
      await this.deps.audit.append(auditEvent('auth.signup', { caller: { tenantId: tenant._id, actor: userActor(user._id), request }, resource: { id: tenant._id } }));
      return await this.deps.sessionService.start(user, tenant, 'OWNER', request);
    } catch (error) {
      // No half-made account or tenant left behind; each undo runs even if another fails.
      const undo = await Promise.allSettled([tenant ? this.deps.tenantService.removeNew(tenant._id, user._id) : null, this.deps.users.delete(user._id)]);
      for (const step of undo) if (step.status === 'rejected') this.deps.logger.error({ err: step.reason, userId: user._id }, 'sign-up undo step failed');
      throw error;
    }
  }

  /**
   * Creates a tenant with its first OWNER for an operator (the CLI's create-tenant), which
   * is how organisations come to exist when SIGNUP_MODE is invite-only. An existing account
   * becomes the OWNER as it is; otherwise an account is created with `password`. Only the
   * system may call it: no API operation reaches it.
   */
  async provisionTenant(
    caller: Caller,
    input: { email: string; tenantName: string; password: () => Promise<string> },
  ): Promise<{ tenant: TenantDoc; user: UserDoc; newAccount: boolean }> {
    if (caller.actor.type !== 'SYSTEM') throw forbidden('Only an operator can provision a tenant');
    const email = normaliseEmail(input.email);
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw badInput('ownerEmail', 'must be an email address');
    const tenantName = this.deps.tenantService.validName(input.tenantName);
    let user = await this.deps.users.findByEmail(email);
    let newAccount = false;
    if (!user) {
      const password = await input.password();
      const problem = passwordProblem(password, email);
      if (problem) throw badInput('password', problem);
      try {
        user = await this.deps.users.create(email, await this.deps.passwords.hash(password));
        newAccount = true;
      } catch (error) {
        if (isDuplicateKey(error)) throw conflict('That email was registered meanwhile; run the command again to make it the owner');
        throw error;
      }
    }
    let tenant: TenantDoc | undefined;
    try {
      ({ tenant } = await this.deps.tenantService.createWithOwner(tenantName, user._id));
      this.deps.logger.info({ event: 'tenant.provisioned', userId: user._id, tenantId: tenant._id, newAccount }, 'tenant provisioned');
      await this.deps.audit.append(
        auditEvent('tenant.provisioned', { caller: { tenantId: tenant._id, actor: caller.actor, request: caller.request }, resource: { id: tenant._id }, details: { ownerId: user._id, newAccount } }),
      );
      return { tenant, user, newAccount };
    } catch (error) {
      const created = user;
      const undo = await Promise.allSettled([tenant ? this.deps.tenantService.removeNew(tenant._id, created._id) : null, newAccount ? this.deps.users.delete(created._id) : null]);
      for (const step of undo) if (step.status === 'rejected') this.deps.logger.error({ err: step.reason, userId: created._id }, 'provisioning undo step failed');
      throw error;
    }
  }

  async login(input: { email: string; password: string; tenantId?: string | null }, caller: Caller): Promise<AuthPayloadData | TwoFactorChallengeData> {
    const { request } = caller;
    await this.deps.throttle.consume(`login:${clientBucket(request.ip)}`);
    const user = await this.verifyCredentials(normaliseEmail(input.email), input.password, request);
    const { tenant, role } = await this.chooseTenant(user, input.tenantId ?? null);
    if (await this.deps.twoFactor.enabled(user._id)) {
      // The password was right; the tokens wait for the second factor (completeLogin).
      const challenge = await this.deps.twoFactor.issueChallenge(user, tenant?._id ?? null, request);
      this.deps.logger.info({ event: 'auth.login_challenged', userId: user._id, requestId: request.requestId }, 'password accepted; second factor required');
      return { twoFactorChallenge: challenge, user };
    }
    this.deps.logger.info({ event: 'auth.login', userId: user._id, tenantId: tenant?._id, requestId: request.requestId }, 'login succeeded');
    await this.deps.audit.append(auditEvent('auth.login.succeeded', { caller: { tenantId: tenant?._id ?? null, actor: userActor(user._id), request }, resource: { id: user._id } }));
    return this.deps.sessionService.start(user, tenant, role, request);
  }

  /**
   * Second step of a login with a second factor: a challenge from login and a TOTP code or a
   * recovery code. Tokens for the tenant the login chose; the session records ["pwd", "otp"].
   */
  async completeLogin(input: { challenge: string; code: string }, caller: Caller): Promise<AuthPayloadData> {
    const { request } = caller;
    await this.deps.throttle.consume(`login:${clientBucket(request.ip)}`);
    const { user, tenantId } = await this.deps.twoFactor.completeChallenge(input.challenge, input.code, request);
    const { tenant, role } = await this.chooseTenant(user, tenantId);
    this.deps.logger.info({ event: 'auth.login', userId: user._id, tenantId: tenant?._id, secondFactor: true, requestId: request.requestId }, 'login succeeded');
    await this.deps.audit.append(auditEvent('auth.login.succeeded', { caller: { tenantId: tenant?._id ?? null, actor: userActor(user._id), request }, resource: { id: user._id } }));
    return this.deps.sessionService.start(user, tenant, role, request, ['pwd', 'otp']);
  }

  /** Whether the user has an active second factor (exportMyData; acceptInvitation refuses password-only proof then). */
  secondFactorEnabled(userId: string): Promise<boolean> {
    return this.deps.twoFactor.enabled(userId);
  }

  /**
   * First half of the step-up of an account change (changePassword, deleteMyAccount), before
   * the password is checked: BAD_USER_INPUT on `field` when the code is too long, or missing
   * while the user has an active second factor (nothing is counted or written then).
   */
  async requireStepUpCode(userId: string, code: string | null | undefined, field: string): Promise<void> {
    if (code && code.length > MAX_CODE_LENGTH) throw badInput(field, `must be at most ${MAX_CODE_LENGTH} characters`);
    if (!code && (await this.deps.twoFactor.enabled(userId))) throw secondFactorCodeMissing(field);
  }

  /**
   * Second half, after the password was accepted: the code of a user with an active second
   * factor (each TOTP step accepted once, as at login; a recovery code is consumed). Wrong:
   * UNAUTHENTICATED, counted toward the login lockout. Without a second factor: nothing.
   */
  confirmStepUp(user: UserDoc, code: string | null | undefined, request: RequestInfo, purpose: StepUpPurpose, field: string): Promise<void> {
    return this.deps.twoFactor.stepUp(user, code, request, purpose, field);
  }

  /**
   * After a password change: pending login challenges proved only the old password, so they
   * end like the other sessions (a code must not complete a login started with the old one).
   */
  endLoginChallenges(userId: string): Promise<void> {
    return this.deps.twoFactor.endChallenges(userId);
  }

  /** Account closure: the second factor's data goes with the account. */
  removeSecondFactor(userId: string): Promise<void> {
    return this.deps.twoFactor.removeAll(userId);
  }

  /** The failed-login counters, shared with the second factor (its refused codes count toward the same lockout). */
  get failureCounters(): LoginFailures {
    return this.deps.loginFailures;
  }

  /**
   * Checks an email and password. Failures are counted per email (known or not, by an
   * HMAC of it) and per (email, client address) pair, in MongoDB:
   *   - a pair with `maxFailures` failures in a row is locked for `lockMinutes`
   *     (ACCOUNT_LOCKED), so a stranger locks only their own address out, never the owner;
   *   - past `maxFailures` failures from anywhere, every attempt at that email waits a
   *     delay that doubles per failure up to a cap, slowing distributed guessing equally
   *     for everyone without refusing anyone.
   * A known and an unknown email get the same answers and cost the same: one password
   * verification (a dummy hash for unknown emails) and the same database reads and writes.
   */
  async verifyCredentials(email: string, password: string, request: RequestInfo): Promise<UserDoc> {
    const failures = this.deps.loginFailures;
    const subjects = await failures.subjects(email, request.ip);
    // One check per (email, address) at a time, the counters read inside the turn: tries fired at
    // once cannot all pass the lock check before any recorded its failure.
    return failures.judgeInTurn(subjects, () => this.verifyInTurn(email, password, request, failures, subjects));
  }

  private async verifyInTurn(email: string, password: string, request: RequestInfo, failures: LoginFailures, subjects: FailureSubjects): Promise<UserDoc> {
    const state = await failures.state(subjects);
    const user = await this.deps.users.findByEmail(email);
    const valid = user ? await this.deps.passwords.verify(user.passwordHash, password) : await this.deps.passwords.verifyDummy(password);
    const resource = { type: 'USER' as const, id: user?._id ?? null };
    if (state.lockedUntil) {
      await this.deps.audit.append(auditEvent('auth.login.failed', { caller: { tenantId: null, actor: userActor(null), request }, resource, details: { reason: 'locked' }, outcome: 'DENIED' }));
      throw locked(state.lockedUntil);
    }
    if (!user || !valid) {
      await this.recordFailure(subjects, user, request);
      throw unauthenticated(BAD_CREDENTIALS);
    }
    // With a second factor, refused codes count toward the same pair: a right password alone must
    // not clear them (logging in again between guesses would reset the lockout). The right code does.
    if (state.pairFailures > 0 && !(await this.deps.twoFactor.enabled(user._id))) await failures.clearPair(subjects);
    return user;
  }

  private async recordFailure(subjects: FailureSubjects, user: UserDoc | null, request: RequestInfo): Promise<void> {
    const { maxFailures } = this.deps.loginFailures.settings;
    const { pairFailures, lockedUntil } = await this.deps.loginFailures.recordFailure(subjects);
    const resource = { type: 'USER' as const, id: user?._id ?? null };
    const reason = user ? 'wrong_password' : 'unknown_email';
    this.deps.logger.info({ event: 'auth.login_failed', userId: user?._id, failures: pairFailures, ip: request.ip, requestId: request.requestId }, 'login failed');
    await this.deps.audit.append(auditEvent('auth.login.failed', { caller: { tenantId: null, actor: userActor(null), request }, resource, details: { reason, failures: pairFailures }, outcome: 'FAILURE' }));
    if (!lockedUntil) return;
    this.deps.logger.warn(
      { event: 'auth.login_locked', userId: user?._id, until: lockedUntil.toISOString(), ip: request.ip, requestId: request.requestId },
      `logins to this email from this address locked after ${maxFailures} consecutive failures`,
    );
    await this.deps.audit.append(auditEvent('auth.login.locked', { caller: { tenantId: null, actor: userActor(null), request }, resource, details: { until: lockedUntil.toISOString() }, outcome: 'DENIED' }));
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

  async refresh(refreshToken: string, caller: Caller): Promise<AuthPayloadData> {
    const { request } = caller;
    await this.deps.throttle.consume(`refresh:${clientBucket(request.ip)}`);
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

  async switchTenant(caller: Caller, tenantId: string): Promise<AuthPayloadData> {
    const viewer = userOf(caller);
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

  async logout(caller: Caller): Promise<boolean> {
    const viewer = userOf(caller);
    const { request } = caller;
    await this.deps.sessions.revoke(viewer.sessionId, 'logout');
    this.deps.guard.forget({ sessionId: viewer.sessionId });
    await this.deps.audit.append(auditEvent('auth.session.revoked', { caller: { tenantId: viewer.tenantId, actor: userActor(viewer.userId), request }, resource: { id: viewer.sessionId }, details: { reason: 'logout' } }));
    return true;
  }
}
