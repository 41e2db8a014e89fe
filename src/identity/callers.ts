import { unauthenticated } from '../errors.js';
import type { Caller, RequestInfo } from './caller.js';
import type { Role } from './roles.js';
import type { ApiKeyScope } from './scopes.js';
import type { Viewer } from './viewer.js';

/** Request info for work no HTTP request started (CLI commands, background jobs). */
export function internalRequest(requestId: string): RequestInfo {
  return { ip: null, userAgent: null, requestId };
}

/** A signed-in user, acting through their session. */
export function userCaller(viewer: Viewer, request: RequestInfo): Caller {
  return {
    actor: { type: 'USER', id: viewer.userId },
    tenantId: viewer.tenantId,
    role: viewer.role,
    sessionId: viewer.sessionId,
    platformAdmin: viewer.platformAdmin,
    prefixes: null,
    scopes: null,
    request,
  };
}

/** A machine API key of one tenant, with its role, name prefixes and scopes. */
export function apiKeyCaller(
  key: { id: string; tenantId: string; role: Role; prefixes: readonly string[] | null; scopes: readonly ApiKeyScope[] },
  request: RequestInfo,
): Caller {
  return { actor: { type: 'API_KEY', id: key.id }, tenantId: key.tenantId, role: key.role, sessionId: null, platformAdmin: false, prefixes: key.prefixes, scopes: key.scopes, request };
}

/** Coffer itself (a CLI command, a job), optionally acting in one tenant with a role. */
export function systemCaller(id: string, request: RequestInfo, tenant: { tenantId: string; role: Role } | null = null): Caller {
  return {
    actor: { type: 'SYSTEM', id },
    tenantId: tenant?.tenantId ?? null,
    role: tenant?.role ?? null,
    sessionId: null,
    platformAdmin: false,
    prefixes: null,
    scopes: null,
    request,
  };
}

/** Nobody signed in yet (sign-up, login, refresh, accepting an invitation). */
export function publicCaller(request: RequestInfo): Caller {
  return { actor: { type: 'PUBLIC', id: '' }, tenantId: null, role: null, sessionId: null, platformAdmin: false, prefixes: null, scopes: null, request };
}

/** The signed-in user behind a caller; UNAUTHENTICATED for any other kind of caller. */
export function userOf(caller: Caller): Viewer {
  if (caller.actor.type !== 'USER' || caller.sessionId === null) throw unauthenticated('This operation needs a signed-in user');
  return { userId: caller.actor.id, sessionId: caller.sessionId, tenantId: caller.tenantId, role: caller.role, platformAdmin: caller.platformAdmin };
}
