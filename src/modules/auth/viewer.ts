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
