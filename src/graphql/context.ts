import type { Request } from 'express';
import type { Logger } from '../logger.js';
import { looksLikeApiKey } from '../modules/apikeys/api-key.service.js';
import { inTenant, type Caller, type RequestInfo, type TenantCaller } from '../identity/caller.js';
import { publicCaller, userCaller } from '../identity/callers.js';
import type { Viewer } from '../identity/viewer.js';
import type { Services } from '../service-types.js';
import { RevealBatch } from '../modules/secrets/secret-query.service.js';
import type { SessionGuard } from '../modules/auth/session-guard.js';
import type { TokenService } from '../modules/auth/tokens.js';
import { unauthenticated } from '../errors.js';

export interface Context {
  request: RequestInfo;
  /** The verified signed-in user, or null (anonymous, bad token, or an API key). */
  viewer: Viewer | null;
  /** The verified machine API key (as the caller it makes), or null. */
  apiKey: Caller | null;
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

/** The signed-in user as a service caller (for resolvers behind an authentication rule). */
export function callerOf(ctx: Context): Caller {
  return userCaller(viewerOf(ctx), ctx.request);
}

/** The signed-in user if any, else an anonymous caller (public operations). */
export function optionalCallerOf(ctx: Context): Caller {
  return ctx.viewer ? userCaller(ctx.viewer, ctx.request) : publicCaller(ctx.request);
}

/** Whoever acts on the tenant's data: the API key, or the signed-in member with their current role. */
export function tenantCallerOf(ctx: Context): TenantCaller {
  return inTenant(ctx.apiKey ?? callerOf(ctx));
}
