import { Collections } from '../../db/collections.js';
import type { CofferModule } from '../module.js';
import { MemberResolver } from './member.resolver.js';

/** Managing a tenant's members: invitations, roles, removal. */
export const membersModule: CofferModule = {
  name: 'members',
  resolvers: [MemberResolver],
  collections: [{ name: Collections.invitations, indexes: [{ key: { tenantId: 1, createdAt: -1 }, name: 'tenant_created' }], tenantData: 'RECORDS' }],
};
