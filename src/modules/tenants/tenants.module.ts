import { Collections } from '../../db/collections.js';
import type { CofferModule } from '../module.js';
import { TenantAdminResolver } from './tenant.resolver.js';
import { TwoFactorPolicyResolver } from './two-factor-policy.resolver.js';

/** Tenants and who belongs to them (memberships). */
export const tenantsModule: CofferModule = {
  name: 'tenants',
  resolvers: [TenantAdminResolver, TwoFactorPolicyResolver],
  collections: [
    // The tenant document itself stays as the deletion tombstone (its slug reserved).
    {
      name: Collections.tenants,
      // status: the webhook delivery job's read of suspended tenants (TenantRepository.suspendedIds), every pass.
      indexes: [{ key: { slug: 1 }, name: 'slug_unique', unique: true }, { key: { status: 1 }, name: 'status' }],
      tenantData: 'GLOBAL',
    },
    {
      name: Collections.memberships,
      indexes: [
        { key: { tenantId: 1, userId: 1 }, name: 'tenant_user_unique', unique: true },
        { key: { tenantId: 1, role: 1 }, name: 'tenant_role' },
        // A user's tenants are looked up at login, before any tenant is known.
        { key: { userId: 1 }, name: 'user' },
      ],
      tenantData: 'RECORDS',
    },
  ],
};
