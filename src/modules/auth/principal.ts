import type { Role } from '../members/roles.js';
import type { RequestInfo } from './viewer.js';

/**
 * Whoever acts on tenant data: a signed-in member or a machine API key.
 * `prefixes` limits an API key to secret names under them (null = no limit).
 */
export interface Principal {
  tenantId: string;
  role: Role;
  actor: { type: 'USER' | 'API_KEY' | 'SYSTEM'; id: string };
  prefixes: readonly string[] | null;
  request: RequestInfo;
}
