import type { LRUCache } from 'lru-cache';
import { forgetWhere, shortLivedCache } from '../../cache.js';
import type { MembershipDirectory } from '../tenants/membership.repository.js';
import type { TenantRepository } from '../tenants/tenant.repository.js';
import type { SessionRepository } from './session.repository.js';
import type { AccessTokenClaims } from './tokens.js';
import type { UserRepository } from './user.repository.js';
import type { Viewer } from '../../identity/viewer.js';

interface GuardDeps {
  sessions: SessionRepository;
  users: UserRepository;
  tenants: TenantRepository;
  memberships: MembershipDirectory;
  /** How long a looked-up session state may be reused (≤ 5 s): the revocation delay. */
  cacheSeconds: number;
}

type SessionState = { ok: false } | { ok: true; viewer: Viewer };

/** What a cached entry is about, so changes made by this process can drop it at once. */
export interface CacheScope {
  sessionId?: string;
  userId?: string;
  tenantId?: string | null;
}

const MAX_ENTRIES = 10_000;

/**
 * Turns verified token claims into a Viewer, checking that the session is live,
 * the tenant active and the membership current. Results are cached for a few
 * seconds per (session, tenant, switch count), so a revoked session or removed member stops
 * working within that delay without a database read on every request.
 */
export class SessionGuard {
  private readonly cache: LRUCache<string, { state: SessionState; claims: CacheScope }> | null;

  constructor(private readonly deps: GuardDeps) {
    this.cache = shortLivedCache(deps.cacheSeconds, MAX_ENTRIES);
  }

  async viewerFor(claims: AccessTokenClaims): Promise<Viewer | null> {
    const key = `${claims.sessionId}|${claims.tenantId ?? ''}|${claims.userId}|${claims.switchCount}`;
    const cached = this.cache?.get(key);
    if (cached) return cached.state.ok ? cached.state.viewer : null;
    const state = await this.load(claims);
    this.cache?.set(key, { state, claims: { sessionId: claims.sessionId, userId: claims.userId, tenantId: claims.tenantId } });
    return state.ok ? state.viewer : null;
  }

  /**
   * Drops cached state matching every given field, for changes made by this
   * process (logout, role change, removal, suspension): they apply at once here,
   * and within the cache interval on other instances.
   */
  forget(scope: CacheScope): void {
    forgetWhere(this.cache, ({ claims: c }) =>
      (scope.sessionId === undefined || c.sessionId === scope.sessionId) &&
      (scope.userId === undefined || c.userId === scope.userId) &&
      (scope.tenantId === undefined || c.tenantId === scope.tenantId),
    );
  }

  private async load(claims: AccessTokenClaims): Promise<SessionState> {
    const [session, user] = await Promise.all([
      this.deps.sessions.findById(claims.sessionId),
      this.deps.users.findById(claims.userId),
    ]);
    if (!session || !user || session.userId !== user._id) return { ok: false };
    if (session.revokedAt || session.expiresAt <= new Date()) return { ok: false };
    if ((session.tenantId ?? null) !== claims.tenantId) return { ok: false };
    // Same tenant is not enough: a token issued before a later switch (A → B → A) is stale.
    if ((session.switchCount ?? 0) !== claims.switchCount) return { ok: false };
    if (!claims.tenantId) {
      return user.platformAdmin
        ? { ok: true, viewer: { userId: user._id, sessionId: session._id, tenantId: null, role: null, platformAdmin: true } }
        : { ok: false };
    }
    const [tenant, membership] = await Promise.all([
      this.deps.tenants.findById(claims.tenantId),
      this.deps.memberships.find(claims.tenantId, user._id),
    ]);
    if (!tenant || tenant.status !== 'ACTIVE' || !membership) return { ok: false };
    // The tenant's second-factor policy: this role must have used one in this session.
    const twoFactorRequired = (tenant.requireTwoFactorFor ?? []).includes(membership.role) && !(session.amr ?? []).includes('otp');
    return {
      ok: true,
      viewer: {
        userId: user._id,
        sessionId: session._id,
        tenantId: tenant._id,
        role: membership.role,
        platformAdmin: user.platformAdmin,
        twoFactorRequired,
      },
    };
  }
}
