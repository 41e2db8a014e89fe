import type { CofferModule } from '../module.js';
import { API_KEYS_COLLECTION } from './api-key.repository.js';
import { ApiKeyResolver } from './api-key.resolver.js';

/** Machine API keys scoped to a tenant, a role and secret-name prefixes. */
export const apiKeysModule: CofferModule = {
  name: 'apikeys',
  resolvers: [ApiKeyResolver],
  collections: [{ name: API_KEYS_COLLECTION, indexes: [{ key: { tenantId: 1, createdAt: -1 }, name: 'tenant_created' }], tenantData: 'RECORDS' }],
};
