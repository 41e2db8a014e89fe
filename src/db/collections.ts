import type { Db, IndexDescription } from 'mongodb';
import { AUDIT_COLLECTION, AUDIT_INDEXES } from '../modules/audit/audit.document.js';

/** Collection names in one place, so indexes and repositories agree. */
export const Collections = {
  users: 'users',
  tenants: 'tenants',
  memberships: 'memberships',
  invitations: 'invitations',
  sessions: 'sessions',
} as const;

/**
 * Index definitions. Tenant collections lead with tenantId (also the shard key
 * prefix). No TTL or partial indexes: FerretDB v1 has neither, so expiry lives
 * in queries and sweeps (DESIGN.md §5).
 */
const INDEXES: Record<string, IndexDescription[]> = {
  [Collections.users]: [{ key: { email: 1 }, name: 'email_unique', unique: true }],
  [Collections.tenants]: [{ key: { slug: 1 }, name: 'slug_unique', unique: true }],
  [Collections.memberships]: [
    { key: { tenantId: 1, userId: 1 }, name: 'tenant_user_unique', unique: true },
    { key: { tenantId: 1, role: 1 }, name: 'tenant_role' },
    // A user's tenants are looked up at login, before any tenant is known.
    { key: { userId: 1 }, name: 'user' },
  ],
  [Collections.invitations]: [{ key: { tenantId: 1, createdAt: -1 }, name: 'tenant_created' }],
  [Collections.sessions]: [{ key: { userId: 1, createdAt: -1 }, name: 'user_created' }],
  secrets: [
    { key: { tenantId: 1, name: 1 }, name: 'tenant_name_unique', unique: true },
    { key: { tenantId: 1, rotationDueAt: 1 }, name: 'tenant_rotation_due' },
    { key: { tenantId: 1, deletedAt: 1 }, name: 'tenant_deleted' },
    { key: { tenantId: 1, _id: 1 }, name: 'tenant_id' },
  ],
  api_keys: [{ key: { tenantId: 1, createdAt: -1 }, name: 'tenant_created' }],
  [AUDIT_COLLECTION]: [...AUDIT_INDEXES],
};

/**
 * Creates every index; safe to run at each start (createIndexes is idempotent).
 * One index per command: FerretDB v1 crashes the connection when a single
 * createIndexes names several indexes that all exist already.
 */
export async function ensureIndexes(db: Db): Promise<void> {
  for (const [collection, indexes] of Object.entries(INDEXES)) {
    for (const index of indexes) await db.collection(collection).createIndexes([index]);
  }
}
