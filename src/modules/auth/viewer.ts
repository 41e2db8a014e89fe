import { forbidden } from '../../errors.js';
import type { Role } from '../members/roles.js';

/** Who is calling, as established from a verified access token and a live session. */
export interface Viewer {
  userId: string;
  sessionId: string;
  tenantId: string | null;
  role: Role | null;
  platformAdmin: boolean;
}

/** Where a request came from; recorded on sessions and in logs. */
export interface RequestInfo {
  ip: string | null;
  userAgent: string | null;
  requestId: string;
}

/** The tenant the viewer's token is scoped to; FORBIDDEN for a token without one. */
export function tenantIdOf(viewer: Viewer): string {
  if (!viewer.tenantId) throw forbidden('This operation needs a token scoped to a tenant');
  return viewer.tenantId;
}
