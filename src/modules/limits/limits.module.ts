import type { CofferModule } from '../module.js';
import { RATE_LIMITS_COLLECTION } from './rate-limit.repository.js';

/**
 * Request and attempt budgets shared by every instance through MongoDB (`rate_limits`,
 * rate-limiter-flexible's RateLimiterMongo, used by auth/throttle.ts). No GraphQL face.
 */
export const limitsModule: CofferModule = {
  name: 'limits',
  resolvers: [],
  collections: [
    {
      name: RATE_LIMITS_COLLECTION,
      indexes: [
        // The library finds a window by `key`; unique, so a second upsert of a key whose old window
        // has ended fails and is turned into an overwrite (no TTL index: see rate-limit.repository.ts).
        { key: { key: 1 }, name: 'key_unique', unique: true },
        { key: { expire: 1 }, name: 'expire' },
      ],
      tenantData: 'GLOBAL',
    },
  ],
};
