import { Collections } from '../../db/collections.js';
import type { CofferModule } from '../module.js';
import { AuthResolver } from './auth.resolver.js';
import { TotpResolver } from './totp.resolver.js';
import { LOGIN_CHALLENGES_COLLECTION, TOTP_COLLECTION } from './totp.repository.js';
import { LOGIN_FAILURES_COLLECTION } from './login-failure.repository.js';

/** Users, sessions, sign-up, login and tokens. */
export const authModule: CofferModule = {
  name: 'auth',
  resolvers: [AuthResolver, TotpResolver],
  collections: [
    { name: Collections.users, indexes: [{ key: { email: 1 }, name: 'email_unique', unique: true }], tenantData: 'GLOBAL' },
    { name: Collections.sessions, indexes: [{ key: { userId: 1, createdAt: -1 }, name: 'user_created' }], tenantData: 'GLOBAL' },
    // The second factor: one document per user (_id = user id; the secret sealed), and pending login challenges.
    { name: TOTP_COLLECTION, indexes: [], tenantData: 'GLOBAL' },
    // `expires` serves the hourly housekeeping sweep of expired challenges (jobs/housekeeping.job.ts).
    {
      name: LOGIN_CHALLENGES_COLLECTION,
      indexes: [
        { key: { userId: 1 }, name: 'user' },
        { key: { expiresAt: 1 }, name: 'expires' },
      ],
      tenantData: 'GLOBAL',
    },
    // Failed-login counters (HMAC ids; login-failures.ts): the sweep deletes by expiry.
    { name: LOGIN_FAILURES_COLLECTION, indexes: [{ key: { expiresAt: 1 }, name: 'expires' }], tenantData: 'GLOBAL' },
  ],
};
