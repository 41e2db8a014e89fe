import { createHash, randomUUID } from 'node:crypto';
import { Binary } from 'mongodb';
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import { randomToken, sha256Hex } from '../../crypto/random.js';
import { AppError, appError, badInput, conflict, notFoundBecause, unauthenticated } from '../../errors.js';
import type { Caller, RequestInfo } from '../../identity/caller.js';
import { userOf } from '../../identity/callers.js';
import type { Logger } from '../../logger.js';
import { auditEvent, userActor } from '../audit/audit-builder.js';
import type { AuditSink } from '../audit/audit-event.js';
import type { FailureSubjects, LoginFailures } from './login-failures.js';
import type { SessionGuard } from './session-guard.js';
import type { SessionRepository } from './session.repository.js';
import type { TotpSecretCipher } from './totp-key.js';
import type { LoginChallengeRepository, TotpDoc, TotpRepository } from './totp.repository.js';
import type { UserDoc, UserRepository } from './user.repository.js';

/** RFC 6238 parameters every authenticator app understands. */
const ISSUER = 'Coffer';
const PERIOD_SECONDS = 30;
const DIGITS = 6;
/** Codes of the previous and next step are accepted too (clock drift), each once. */
const WINDOW = 1;
const SECRET_BYTES = 20;
export const RECOVERY_CODE_COUNT = 10;
/** 10 random bytes: 80 bits, shown as 16 base32 characters in groups of four. */
const RECOVERY_CODE_BYTES = 10;
/** How long a login challenge lives. */
export const CHALLENGE_TTL_MS = 5 * 60_000;
/** Codes one login challenge may be tried with; the last wrong one uses it up (log in again). */
export const CHALLENGE_MAX_ATTEMPTS = 5;

/** Authentication methods of a session (RFC 8176 names), stored on it and carried in access tokens as `amr`. */
export const PASSWORD_ONLY = ['pwd'] as const;
export const PASSWORD_AND_OTP = ['pwd', 'otp'] as const;

/** What a code is checked for: login, confirming the enrolment, disabling it, or a step-up for an account change. */
export type SecondFactorPurpose = 'login' | 'confirm' | 'disable' | 'change_password' | 'delete_account';
/** The account changes that need a current code (or a recovery code) from a user with a second factor. */
export type StepUpPurpose = Extract<SecondFactorPurpose, 'change_password' | 'delete_account'>;

/** The longest code text accepted anywhere (a recovery code with spaces or hyphens fits easily). */
export const MAX_CODE_LENGTH = 64;

/** BAD_USER_INPUT for an account change by a user with a second factor that came without a code. */
export const secondFactorCodeMissing = (field: string) =>
  badInput(field, 'is required: this account has a second factor; give a current code from the authenticator app or an unused recovery code');

export interface TotpEnrolment {
  /** Base32 secret, for typing into an authenticator by hand. */
  secret: string;
  /** otpauth:// URI (issuer Coffer, label the account's email). */
  uri: string;
  /** The URI as a QR code: an SVG data URL. */
  qrCodeDataUrl: string;
}

export interface TwoFactorStatusData {
  enabled: boolean;
  pending: boolean;
  recoveryCodesLeft: number;
}

interface TotpServiceDeps {
  totp: TotpRepository;
  challenges: LoginChallengeRepository;
  cipher: TotpSecretCipher;
  users: UserRepository;
  sessions: SessionRepository;
  guard: Pick<SessionGuard, 'forget'>;
  /** The sign-in failure counters (AuthService.failureCounters): refused codes count toward the same lockout. */
  loginFailures: () => LoginFailures;
  /** The password check of sign-in (counted toward the same lockout): AuthService.verifyCredentials. */
  verifyPassword: (email: string, password: string, request: RequestInfo) => Promise<UserDoc>;
  audit: AuditSink;
  logger: Logger;
  /** The clock of codes and challenges (tests move it). */
  now: () => Date;
}

const INVALID_CODE = 'Invalid second-factor code';
const INVALID_CHALLENGE = 'Invalid or expired login challenge: log in again';
const CHALLENGE_EXHAUSTED = 'Too many wrong codes for this login challenge: log in again';

const locked = (until: Date) =>
  appError('ACCOUNT_LOCKED', 'Too many failed logins for this email from your address; try again later', { lockedUntil: until.toISOString() });

function totpFor(secret: Buffer, label: string): TOTP {
  return new TOTP({ issuer: ISSUER, label, algorithm: 'SHA1', digits: DIGITS, period: PERIOD_SECONDS, secret: new Secret({ buffer: Uint8Array.from(secret).buffer }) });
}

/** What a typed code looks like once spaces and hyphens are gone. */
function classify(code: string): { kind: 'totp'; value: string } | { kind: 'recovery'; value: string } | null {
  const compact = code.replace(/[\s-]/g, '').toUpperCase();
  if (/^\d{6}$/.test(compact)) return { kind: 'totp', value: compact };
  if (/^[A-Z2-7]{16}$/.test(compact)) return { kind: 'recovery', value: compact };
  return null;
}

/** Recovery codes are 80 random bits, so a fast hash bound to the user suffices (like refresh tokens). */
function recoveryHash(userId: string, normalised: string): string {
  return sha256Hex(`coffer:recovery-code:v1:${userId}:${normalised}`);
}

function newRecoveryCode(): string {
  const base32 = new Secret({ size: RECOVERY_CODE_BYTES }).base32.toLowerCase();
  return base32.match(/.{4}/g)!.join('-');
}

/** The client a challenge is bound to: its address and user agent, hashed. */
function clientHash(request: RequestInfo): string {
  return createHash('sha256').update(JSON.stringify([request.ip ?? '', request.userAgent ?? '']), 'utf8').digest('hex');
}

/**
 * The second factor: TOTP enrolment (pending until confirmed with a code), recovery codes,
 * login challenges, and the check of a code with replay protection and lockout.
 */
export class TotpService {
  constructor(private readonly deps: TotpServiceDeps) {}

  /** Starts (or restarts) a pending enrolment; CONFLICT while one is active. */
  async enroll(caller: Caller): Promise<TotpEnrolment> {
    const viewer = userOf(caller);
    const user = await this.userOrFail(viewer.userId);
    const existing = await this.deps.totp.find(user._id);
    if (existing?.state === 'ACTIVE') throw conflict('A second factor is already active: disable it (disableTotp) before enrolling again');
    const secret = new Secret({ size: SECRET_BYTES });
    const bytes = Buffer.from(secret.bytes);
    const enrolmentId = randomUUID();
    const doc: TotpDoc = {
      _id: user._id,
      state: 'PENDING',
      enrolmentId,
      sealedSecret: new Binary(await this.deps.cipher.seal(user._id, enrolmentId, bytes)),
      lastUsedStep: -1,
      recoveryCodes: {},
      createdAt: this.deps.now(),
      confirmedAt: null,
    };
    if (!(await this.deps.totp.startPending(doc))) throw conflict('A second factor is already active: disable it (disableTotp) before enrolling again');
    const uri = totpFor(bytes, user.email).toString();
    const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    this.deps.logger.info({ event: 'auth.totp_enrolled', userId: user._id, requestId: caller.request.requestId }, 'TOTP enrolment started');
    await this.deps.audit.append(auditEvent('auth.totp.enrolled', { caller: { tenantId: viewer.tenantId, actor: userActor(user._id), request: caller.request }, resource: { id: user._id } }));
    return { secret: secret.base32, uri, qrCodeDataUrl: `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}` };
  }

  /**
   * Activates the pending enrolment with the account password (counted like a login, so a
   * stolen access token alone cannot put a second factor on an account and lock its owner out)
   * and a current code; returns the recovery codes (shown once; only their hashes are kept).
   * The current session counts as having used the second factor from now on.
   */
  async confirm(caller: Caller, code: string, password: string): Promise<string[]> {
    const { viewer, user } = await this.withPassword(caller, password);
    const doc = await this.deps.totp.find(user._id);
    if (!doc || doc.state !== 'PENDING') throw notFoundBecause('No pending TOTP enrolment: call enrollTotp first');
    const step = await this.check(user, doc, code, caller.request, 'confirm', { allowRecovery: false });
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    const hashes = Object.fromEntries(codes.map((c) => [recoveryHash(user._id, c.replace(/-/g, '').toUpperCase()), true]));
    if (!(await this.deps.totp.activate(user._id, doc.enrolmentId, step.step ?? -1, hashes, this.deps.now()))) {
      throw conflict('The enrolment changed meanwhile (enrolled again elsewhere): confirm the newest one');
    }
    await this.deps.sessions.setAmr(viewer.sessionId, [...PASSWORD_AND_OTP]);
    this.deps.guard.forget({ sessionId: viewer.sessionId });
    this.deps.logger.info({ event: 'auth.totp_confirmed', userId: user._id, requestId: caller.request.requestId }, 'TOTP second factor active');
    await this.deps.audit.append(
      auditEvent('auth.totp.confirmed', { caller: { tenantId: viewer.tenantId, actor: userActor(user._id), request: caller.request }, resource: { id: user._id }, details: { recoveryCodes: codes.length } }),
    );
    return codes;
  }

  /** Turns the second factor off: the password (counted like a login) and a code or recovery code. */
  async disable(caller: Caller, password: string, code: string): Promise<boolean> {
    const { viewer, user } = await this.withPassword(caller, password);
    const doc = await this.deps.totp.find(user._id);
    if (!doc || doc.state !== 'ACTIVE') throw notFoundBecause('No active second factor to disable');
    const used = await this.check(user, doc, code, caller.request, 'disable', { allowRecovery: true });
    await this.removeAll(user._id);
    this.deps.logger.info({ event: 'auth.totp_disabled', userId: user._id, requestId: caller.request.requestId }, 'TOTP second factor disabled');
    await this.deps.audit.append(
      auditEvent('auth.totp.disabled', {
        caller: { tenantId: viewer.tenantId, actor: userActor(user._id), request: caller.request },
        resource: { id: user._id },
        details: { method: used.kind === 'recovery' ? 'recovery_code' : 'totp' },
      }),
    );
    return true;
  }

  async status(userId: string): Promise<TwoFactorStatusData> {
    const doc = await this.deps.totp.find(userId);
    return {
      enabled: doc?.state === 'ACTIVE',
      pending: doc?.state === 'PENDING',
      recoveryCodesLeft: doc?.state === 'ACTIVE' ? Object.values(doc.recoveryCodes).filter(Boolean).length : 0,
    };
  }

  /** Whether logging in needs a second factor. */
  async enabled(userId: string): Promise<boolean> {
    return (await this.deps.totp.find(userId))?.state === 'ACTIVE';
  }

  /** After a correct password: a single-use challenge bound to the user and this client (only its hash is stored). */
  async issueChallenge(user: UserDoc, tenantId: string | null, request: RequestInfo): Promise<{ token: string; expiresAt: Date }> {
    const token = randomToken(32);
    const now = this.deps.now();
    const expiresAt = new Date(now.getTime() + CHALLENGE_TTL_MS);
    await this.deps.challenges.create({ _id: sha256Hex(token), userId: user._id, tenantId, clientHash: clientHash(request), createdAt: now, expiresAt, attempts: 0 });
    return { token, expiresAt };
  }

  /**
   * Checks a challenge and its code; on success uses the challenge up and returns the user
   * and the tenant the login asked for. Refusals are UNAUTHENTICATED (a wrong code also
   * counts toward the lockout; a locked client gets ACCOUNT_LOCKED).
   */
  async completeChallenge(token: string, code: string, request: RequestInfo): Promise<{ user: UserDoc; tenantId: string | null }> {
    const id = /^[A-Za-z0-9_-]{43}$/.test(token) ? sha256Hex(token) : null;
    const challenge = id ? await this.deps.challenges.find(id) : null;
    const now = this.deps.now();
    const refuse = async (reason: 'unknown' | 'expired' | 'other_client' | 'used_up', userId: string | null) => {
      await this.deps.audit.append(
        auditEvent('auth.login.challenge_refused', { caller: { tenantId: null, actor: userActor(null), request }, resource: { id: userId }, details: { reason }, outcome: 'DENIED' }),
      );
      return unauthenticated(INVALID_CHALLENGE);
    };
    if (!id || !challenge) throw await refuse('unknown', null);
    if (challenge.expiresAt <= now) throw await refuse('expired', challenge.userId);
    if (challenge.clientHash !== clientHash(request)) throw await refuse('other_client', challenge.userId);
    const user = await this.deps.users.findById(challenge.userId);
    const doc = user ? await this.deps.totp.find(user._id) : null;
    if (!user || doc?.state !== 'ACTIVE') throw await refuse('unknown', challenge.userId);
    // Each try reserves an attempt before its code is judged: concurrent guesses cannot exceed the cap.
    const attempt = await this.deps.challenges.reserveAttempt(id, now, CHALLENGE_MAX_ATTEMPTS);
    if (attempt === null) throw await refuse('used_up', user._id);
    try {
      await this.check(user, doc, code, request, 'login', { allowRecovery: true });
    } catch (error) {
      if (!(error instanceof AppError) || error.code !== 'UNAUTHENTICATED') {
        // No code was judged (ACCOUNT_LOCKED, or a fault): the attempt is given back (the original error still wins).
        await this.deps.challenges.releaseAttempt(id).catch((releaseError: unknown) => {
          this.deps.logger.warn({ err: releaseError, userId: user._id, requestId: request.requestId }, 'could not give a login-challenge attempt back');
        });
        throw error;
      }
      if (attempt < CHALLENGE_MAX_ATTEMPTS) throw error;
      // The last attempt was wrong: the challenge is used up (no other try can reserve one any more).
      await this.deps.challenges.delete(id);
      this.deps.logger.info({ event: 'auth.login_challenge_exhausted', userId: user._id, attempts: attempt, requestId: request.requestId }, 'login challenge used up by wrong codes');
      await this.deps.audit.append(
        auditEvent('auth.login.challenge_exhausted', {
          caller: { tenantId: null, actor: userActor(null), request },
          resource: { id: user._id },
          details: { attempts: attempt },
          outcome: 'DENIED',
        }),
      );
      throw unauthenticated(CHALLENGE_EXHAUSTED);
    }
    if (!(await this.deps.challenges.consume(id, now))) throw await refuse('unknown', user._id);
    return { user, tenantId: challenge.tenantId };
  }

  /**
   * Step-up for an account change (changePassword, deleteMyAccount), after its password check:
   * for a user with an active second factor, a current TOTP code (each step accepted once, as
   * at login) or an unused recovery code (consumed). Missing: BAD_USER_INPUT on `field`; wrong:
   * UNAUTHENTICATED, counted toward the login lockout (then ACCOUNT_LOCKED). Users without an
   * active second factor pass unchanged (a code they send is ignored).
   */
  async stepUp(user: UserDoc, code: string | null | undefined, request: RequestInfo, purpose: StepUpPurpose, field: string): Promise<void> {
    const doc = await this.deps.totp.find(user._id);
    if (doc?.state !== 'ACTIVE') return;
    if (!code) throw secondFactorCodeMissing(field);
    await this.check(user, doc, code, request, purpose, { allowRecovery: true });
  }

  /** A password change: pending login challenges (password steps passed with the old password) end. */
  async endChallenges(userId: string): Promise<void> {
    await this.deps.challenges.deleteAllOfUser(userId);
  }

  /** Account closure: the enrolment and any pending challenges go with the account. */
  async removeAll(userId: string): Promise<void> {
    await this.deps.totp.delete(userId);
    await this.deps.challenges.deleteAllOfUser(userId);
    await this.deps.sessions.setAmrOfUser(userId, [...PASSWORD_ONLY]);
    this.deps.guard.forget({ userId });
  }

  /**
   * Checks a TOTP code (each time step accepted once: a conditional update on the last used
   * step) or, where allowed, a recovery code (each once). Refused codes count toward the
   * same lockout as passwords, per (email, client address), and wait the same account-wide backoff.
   */
  private async check(
    user: UserDoc,
    doc: TotpDoc,
    code: string,
    request: RequestInfo,
    purpose: SecondFactorPurpose,
    options: { allowRecovery: boolean },
  ): Promise<{ kind: 'totp' | 'recovery'; step: number | null }> {
    const failures = this.deps.loginFailures();
    const subjects = await failures.subjects(user.email, request.ip);
    // Codes (and passwords) of one (email, address) pair are judged one at a time, the lockout read
    // inside the turn: concurrent guesses (over several challenges, or step-ups) cannot all pass it.
    return failures.judgeInTurn(subjects, () => this.judge(user, doc, code, request, purpose, options, failures, subjects));
  }

  private async judge(
    user: UserDoc,
    doc: TotpDoc,
    code: string,
    request: RequestInfo,
    purpose: SecondFactorPurpose,
    options: { allowRecovery: boolean },
    failures: LoginFailures,
    subjects: FailureSubjects,
  ): Promise<{ kind: 'totp' | 'recovery'; step: number | null }> {
    const state = await failures.state(subjects);
    const caller = { tenantId: null, actor: userActor(user._id), request };
    if (state.lockedUntil) {
      await this.deps.audit.append(auditEvent('auth.second_factor.failed', { caller, resource: { id: user._id }, details: { reason: 'locked', purpose }, outcome: 'DENIED' }));
      throw locked(state.lockedUntil);
    }
    const parsed = classify(code);
    let refused: 'wrong_code' | 'replayed_code' | 'wrong_recovery_code' | 'malformed' | null = null;
    let step: number | null = null;
    if (!parsed || (parsed.kind === 'recovery' && !options.allowRecovery)) {
      refused = 'malformed';
    } else if (parsed.kind === 'totp') {
      const secret = await this.deps.cipher.open(user._id, doc.enrolmentId, Buffer.from(doc.sealedSecret.buffer));
      const now = this.deps.now().getTime();
      const delta = totpFor(secret, user.email).validate({ token: parsed.value, timestamp: now, window: WINDOW });
      secret.fill(0);
      if (delta === null) refused = 'wrong_code';
      else {
        step = Math.floor(now / 1000 / PERIOD_SECONDS) + delta;
        // Pending enrolments are activated with this step (the activation itself is the compare-and-set).
        if (doc.state === 'ACTIVE' && !(await this.deps.totp.useStep(user._id, doc.enrolmentId, step))) refused = 'replayed_code';
      }
    } else if (!(await this.deps.totp.useRecoveryCode(user._id, recoveryHash(user._id, parsed.value)))) {
      refused = 'wrong_recovery_code';
    }
    if (refused) {
      const { pairFailures, lockedUntil } = await failures.recordFailure(subjects);
      this.deps.logger.info({ event: 'auth.second_factor_failed', userId: user._id, reason: refused, purpose, failures: pairFailures, requestId: request.requestId }, 'second-factor code refused');
      await this.deps.audit.append(
        auditEvent('auth.second_factor.failed', { caller, resource: { id: user._id }, details: { reason: refused, purpose, failures: pairFailures }, outcome: 'FAILURE' }),
      );
      if (lockedUntil) {
        await this.deps.audit.append(auditEvent('auth.login.locked', { caller: { ...caller, actor: userActor(null) }, resource: { id: user._id }, details: { until: lockedUntil.toISOString() }, outcome: 'DENIED' }));
      }
      throw unauthenticated(INVALID_CODE);
    }
    if (state.pairFailures > 0) await failures.clearPair(subjects);
    if (parsed!.kind === 'recovery') {
      const remaining = Object.values((await this.deps.totp.find(user._id))?.recoveryCodes ?? {}).filter(Boolean).length;
      this.deps.logger.warn({ event: 'auth.recovery_code_used', userId: user._id, remaining, requestId: request.requestId }, 'recovery code used');
      const usedFor = purpose === 'confirm' ? 'login' : purpose; // confirm never takes a recovery code
      await this.deps.audit.append(auditEvent('auth.recovery_code.used', { caller, resource: { id: user._id }, details: { remaining, purpose: usedFor } }));
    }
    return { kind: parsed!.kind, step };
  }

  /** The signed-in user, after their account password (counted like a login: UNAUTHENTICATED, then ACCOUNT_LOCKED). */
  private async withPassword(caller: Caller, password: string): Promise<{ viewer: ReturnType<typeof userOf>; user: UserDoc }> {
    const viewer = userOf(caller);
    const current = await this.userOrFail(viewer.userId);
    return { viewer, user: await this.deps.verifyPassword(current.email, password, caller.request) };
  }

  private async userOrFail(userId: string): Promise<UserDoc> {
    const user = await this.deps.users.findById(userId);
    if (!user) throw unauthenticated();
    return user;
  }
}
