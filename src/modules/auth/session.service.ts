import { randomUUID } from 'node:crypto';
import type { Logger } from '../../logger.js';
import type { AuditSink } from '../audit/audit-event.js';
import { auditEvent, userActor } from '../audit/audit-builder.js';
import { digestsEqual, randomToken, sha256Hex } from '../../crypto/random.js';
import { unauthenticated } from '../../errors.js';
import type { TenantDoc } from '../tenants/tenant.repository.js';
import type { Role } from '../../identity/roles.js';
import type { SessionGuard } from './session-guard.js';
import type { SessionDoc, SessionRepository } from './session.repository.js';
import type { TokenService } from './tokens.js';
import type { UserDoc } from './user.repository.js';
import type { RequestInfo } from '../../identity/caller.js';

export interface AuthPayloadData {
  accessToken: string;
  refreshToken: string;
  accessTokenExpiresAt: Date;
  user: UserDoc;
  tenant: TenantDoc | null;
  role: Role | null;
}

interface SessionDeps {
  sessions: SessionRepository;
  tokens: TokenService;
  logger: Logger;
  audit: AuditSink;
  /** Cached session checks of this process, dropped at once when reuse revokes a session. */
  guard: Pick<SessionGuard, 'forget'>;
  refreshTokenTtlDays: number;
}

/** Refresh tokens are `<session id>.<256 random bits>`; only the hash of the secret is stored. */
export function parseRefreshToken(token: string): { sessionId: string; secretHash: string } | null {
  const match = /^([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!match) return null;
  return { sessionId: match[1]!, secretHash: sha256Hex(match[2]!) };
}

/** Creates sessions, rotates their refresh tokens and detects reuse of rotated ones. */
export class SessionService {
  constructor(private readonly deps: SessionDeps) {}

  /** `amr`: how the user proved who they are (["pwd"], or ["pwd", "otp"] after a second factor). */
  async start(user: UserDoc, tenant: TenantDoc | null, role: Role | null, request: RequestInfo, amr: readonly string[] = ['pwd']): Promise<AuthPayloadData> {
    const now = new Date();
    const secret = randomToken(32);
    const session: SessionDoc = {
      _id: randomUUID(),
      userId: user._id,
      tenantId: tenant?._id ?? null,
      switchCount: 0,
      refreshTokenHash: sha256Hex(secret),
      previousRefreshTokenHashes: [],
      createdAt: now,
      lastUsedAt: now,
      expiresAt: new Date(now.getTime() + this.deps.refreshTokenTtlDays * 86_400_000),
      revokedAt: null,
      revokedReason: null,
      ip: request.ip,
      userAgent: request.userAgent?.slice(0, 512) ?? null,
      amr: [...amr],
    };
    await this.deps.sessions.create(session);
    return this.payload(session._id, 0, secret, user, tenant, role, session.amr);
  }

  /**
   * Validates a presented refresh token and returns its session. A token that was
   * already rotated away is reuse: the whole session is revoked and the attempt logged.
   */
  async authenticateRefresh(token: string, request: RequestInfo): Promise<SessionDoc> {
    const parsed = parseRefreshToken(token);
    const invalid = () => unauthenticated('Invalid or expired refresh token');
    if (!parsed) throw invalid();
    const session = await this.deps.sessions.findById(parsed.sessionId);
    if (!session) throw invalid();
    if (session.previousRefreshTokenHashes.some((h) => digestsEqual(h, parsed.secretHash))) {
      await this.revokeForReuse(session);
      this.deps.logger.warn(
        { event: 'auth.refresh_token_reuse', sessionId: session._id, userId: session.userId, ip: request.ip, requestId: request.requestId },
        'refresh token reuse detected: a rotated token was presented again; session revoked',
      );
      await this.reuseEvent(session, request);
      throw invalid();
    }
    if (!digestsEqual(session.refreshTokenHash, parsed.secretHash)) throw invalid();
    if (session.revokedAt || session.expiresAt <= new Date()) throw invalid();
    return session;
  }

  /** Revokes a session whose refresh token was reused; its access tokens stop working here at once. */
  private async revokeForReuse(session: SessionDoc): Promise<void> {
    await this.deps.sessions.revoke(session._id, 'refresh_token_reuse');
    this.deps.guard.forget({ sessionId: session._id });
  }

  private reuseEvent(session: SessionDoc, request: RequestInfo | null): Promise<void> {
    return this.deps.audit.append(
      auditEvent('auth.refresh_token.reused', { caller: { tenantId: session.tenantId, actor: userActor(null), request }, resource: { id: session._id }, details: { userId: session.userId }, outcome: 'DENIED' }),
    );
  }

  /** Issues a new refresh token for the session (optionally moving it to another tenant). */
  async rotate(
    session: SessionDoc,
    user: UserDoc,
    tenant: TenantDoc | null,
    role: Role | null,
  ): Promise<AuthPayloadData> {
    const secret = randomToken(32);
    const tenantId = tenant?._id ?? null;
    // A tenant change bumps the counter, so every access token issued before it dies;
    // a plain refresh keeps it, so earlier access tokens live out their lifetime.
    const previousCount = session.switchCount ?? 0;
    const switchCount = (session.tenantId ?? null) === tenantId ? previousCount : previousCount + 1;
    const rotated = await this.deps.sessions.rotate(session, sha256Hex(secret), { tenantId, switchCount }, new Date());
    // Lost a race with a concurrent use of the same token: that is reuse as well.
    if (!rotated) {
      await this.revokeForReuse(session);
      this.deps.logger.warn(
        { event: 'auth.refresh_token_reuse', sessionId: session._id, userId: session.userId },
        'refresh token presented twice concurrently; session revoked',
      );
      await this.reuseEvent(session, null);
      throw unauthenticated('Invalid or expired refresh token');
    }
    return this.payload(session._id, switchCount, secret, user, tenant, role, session.amr);
  }

  private async payload(
    sessionId: string,
    switchCount: number,
    secret: string,
    user: UserDoc,
    tenant: TenantDoc | null,
    role: Role | null,
    amr: readonly string[] = ['pwd'],
  ): Promise<AuthPayloadData> {
    const access = await this.deps.tokens.sign({
      userId: user._id,
      tenantId: tenant?._id ?? null,
      role,
      sessionId,
      platformAdmin: user.platformAdmin,
      switchCount,
      amr,
    });
    return {
      accessToken: access.token,
      refreshToken: `${sessionId}.${secret}`,
      accessTokenExpiresAt: access.expiresAt,
      user,
      tenant,
      role,
    };
  }
}
