import type { Request } from 'express';
import type { Logger } from '../logger.js';
import type { ApiKeyService } from '../modules/apikeys/api-key.service.js';
import { looksLikeApiKey } from '../modules/apikeys/api-key.service.js';
import type { AuditLog } from '../modules/audit/audit-log.js';
import type { AccountService } from '../modules/auth/account.service.js';
import type { Principal } from '../modules/auth/principal.js';
import type { TenantKeyService } from '../modules/keys/tenant-key.service.js';
import type { SecretLifecycleService } from '../modules/secrets/secret-lifecycle.service.js';
import { RevealBatch, type SecretQueryService } from '../modules/secrets/secret-query.service.js';
import type { SecretWriteService } from '../modules/secrets/secret.service.js';
import type { AuthService } from '../modules/auth/auth.service.js';
import type { SessionGuard } from '../modules/auth/session-guard.js';
import type { TokenService } from '../modules/auth/tokens.js';
import type { RequestInfo, Viewer } from '../modules/auth/viewer.js';
import type { MemberService } from '../modules/members/member.service.js';
import type { TenantService } from '../modules/tenants/tenant.service.js';
import { forbidden, unauthenticated } from '../errors.js';

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
}

export interface Context {
  request: RequestInfo;
  /** The verified signed-in user, or null (anonymous, bad token, or an API key). */
  viewer: Viewer | null;
  /** The verified machine API key, or null. */
  apiKey: Principal | null;
  /** Reveals of this request, audited in one batch. */
  revealBatch: RevealBatch;
  /** Why a presented token was refused; permission rules report it as UNAUTHENTICATED. */
  authError: string | null;
  services: Services;
  logger: Logger;
}

export interface ContextDeps {
  tokens: TokenService;
  guard: SessionGuard;
  services: Services;
  logger: Logger;
}

export function requestInfo(req: Request): RequestInfo {
  return {
    ip: req.ip ?? null,
    userAgent: req.get('user-agent') ?? null,
    requestId: String(req.res?.locals.requestId ?? ''),
  };
}

/** Request → Context: verifies a Bearer access token (and its session) or an API key. */
export async function buildContext(req: Request, deps: ContextDeps): Promise<Context> {
  const request = requestInfo(req);
  const base = {
    request,
    services: deps.services,
    logger: deps.logger.child({ requestId: request.requestId }),
    apiKey: null,
    revealBatch: new RevealBatch(deps.services.audit),
  };
  const header = req.get('authorization');
  if (!header) return { ...base, viewer: null, authError: null };
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) return { ...base, viewer: null, authError: 'Authorization header must be "Bearer <token>"' };
  if (looksLikeApiKey(match[1]!)) {
    const apiKey = await deps.services.apiKeys.authenticate(match[1]!, request);
    return apiKey ? { ...base, viewer: null, apiKey, authError: null } : { ...base, viewer: null, authError: 'Invalid, expired or revoked API key' };
  }
  const refused = { ...base, viewer: null, authError: 'Invalid, expired or revoked access token' };
  let claims;
  try {
    claims = await deps.tokens.verify(match[1]!);
  } catch {
    return refused;
  }
  const viewer = await deps.guard.viewerFor(claims);
  return viewer
    ? { ...base, viewer, authError: null }
    : refused;
}

/** For resolvers behind an authentication rule. */
export function viewerOf(ctx: Context): Viewer {
  if (!ctx.viewer) throw unauthenticated(ctx.authError ?? undefined);
  return ctx.viewer;
}

/** Whoever acts on the tenant's data: the API key, or the signed-in member with their current role. */
export function principalOf(ctx: Context): Principal {
  if (ctx.apiKey) return ctx.apiKey;
  const viewer = viewerOf(ctx);
  if (!viewer.tenantId || !viewer.role) throw forbidden('This operation needs a token scoped to a tenant');
  return { tenantId: viewer.tenantId, role: viewer.role, actor: { type: 'USER', id: viewer.userId }, prefixes: null, request: ctx.request };
}
