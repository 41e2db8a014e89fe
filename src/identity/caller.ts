import { forbidden } from '../errors.js';
import type { Role } from './roles.js';
import type { ApiKeyScope } from './scopes.js';

/** Where a request came from; recorded on sessions, in audit events and in logs. */
export interface RequestInfo {
  ip: string | null;
  userAgent: string | null;
  requestId: string;
}

/** Kinds of callers: a signed-in user, a machine API key, Coffer itself (jobs, the CLI), or nobody yet (public operations). */
export const ACTOR_TYPES = ['USER', 'API_KEY', 'SYSTEM', 'PUBLIC'] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

/**
 * Who is calling a service, whatever authenticated them: a user session (from an access
 * token), a machine API key, the system (CLI, jobs) or an anonymous public caller. Every
 * service method that acts for someone takes one; resolvers, the CLI and jobs build it the
 * same way (see identity/callers.ts).
 */
export interface Caller {
  actor: { type: ActorType; id: string };
  /** The tenant the caller acts in, or null (a platform-wide token, an anonymous caller). */
  tenantId: string | null;
  /** The caller's role in that tenant (null without a tenant). */
  role: Role | null;
  /** The user session behind a USER caller; null otherwise. */
  sessionId: string | null;
  platformAdmin: boolean;
  /** Limits an API key to secret names under these prefixes (null = no limit). */
  prefixes: readonly string[] | null;
  /** What an API key may reach besides its role (identity/scopes.ts); null for every other caller, whose role decides. */
  scopes: readonly ApiKeyScope[] | null;
  request: RequestInfo;
}

/** A caller acting inside one tenant with a role: what services on tenant data take. */
export interface TenantCaller extends Caller {
  tenantId: string;
  role: Role;
}

/** The caller narrowed to its tenant; FORBIDDEN for a caller without one. */
export function inTenant(caller: Caller): TenantCaller {
  if (caller.tenantId === null || caller.role === null) throw forbidden('This operation needs a token scoped to a tenant');
  return { ...caller, tenantId: caller.tenantId, role: caller.role };
}

/** The tenant the caller acts in; FORBIDDEN for a caller without one. */
export function tenantIdOf(caller: Caller): string {
  return inTenant(caller).tenantId;
}
