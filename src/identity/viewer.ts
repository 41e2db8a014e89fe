import type { Role } from './roles.js';

/** A signed-in user, as the session guard establishes it from a verified access token and a live session. */
export interface Viewer {
  userId: string;
  sessionId: string;
  tenantId: string | null;
  role: Role | null;
  platformAdmin: boolean;
  /**
   * The tenant requires a second factor of this role (requireTwoFactorFor) and this session has
   * not used one: everything but enrolling and the own session is refused (TWO_FACTOR_REQUIRED).
   */
  twoFactorRequired?: boolean;
}
