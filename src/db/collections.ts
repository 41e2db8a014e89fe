/**
 * Names of the platform's first collections, shared by their repositories and their module's
 * index list (*.module.ts). Newer modules name their collections in their own folder.
 */
export const Collections = {
  users: 'users',
  tenants: 'tenants',
  memberships: 'memberships',
  invitations: 'invitations',
  sessions: 'sessions',
} as const;
