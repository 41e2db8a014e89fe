import type { Request } from 'express';
import type { Logger } from '../logger.js';
import type { AccountService } from '../modules/auth/account.service.js';
import type { AuthService } from '../modules/auth/auth.service.js';
import type { SessionGuard } from '../modules/auth/session-guard.js';
import type { TokenService } from '../modules/auth/tokens.js';
import type { UserRepository } from '../modules/auth/user.repository.js';
import type { RequestInfo, Viewer } from '../modules/auth/viewer.js';
import type { MembershipDirectory } from '../modules/members/membership.repository.js';
import type { MemberService } from '../modules/members/member.service.js';
import type { TenantRepository } from '../modules/tenants/tenant.repository.js';
import type { TenantService } from '../modules/tenants/tenant.service.js';
import { unauthenticated } from './errors.js';

export interface Services {
  auth: AuthService;
  account: AccountService;
  members: MemberService;
  tenants: TenantService;
  users: UserRepository;
  tenantRepository: TenantRepository;
  membershipDirectory: MembershipDirectory;
}

export interface Context {
  request: RequestInfo;
  /** The verified caller, or null for anonymous requests and bad tokens. */
  viewer: Viewer | null;
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

/** Request → Context: verifies a Bearer access token and checks its session. */
export async function buildContext(req: Request, deps: ContextDeps): Promise<Context> {
  const request = requestInfo(req);
  const base = { request, services: deps.services, logger: deps.logger.child({ requestId: request.requestId }) };
  const header = req.get('authorization');
  if (!header) return { ...base, viewer: null, authError: null };
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) return { ...base, viewer: null, authError: 'Authorization header must be "Bearer <token>"' };
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
