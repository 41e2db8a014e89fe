// Resolver classes below carry decorator metadata: the polyfill loads before any of them.
import 'reflect-metadata';
import type { Db } from 'mongodb';
import { createIndexesOneByOne } from '../db/indexes.js';
import { apiKeysModule } from './apikeys/apikeys.module.js';
import { auditModule } from './audit/audit.module.js';
import { authModule } from './auth/auth.module.js';
import { keysModule } from './keys/keys.module.js';
import type { SealedDataKind } from './keys/sealed-data.js';
import { membersModule } from './members/members.module.js';
import type { CofferModule } from './module.js';
import { privacyModule } from './privacy/privacy.module.js';
import { consentModule } from './consent/consent.module.js';
import { secretsModule } from './secrets/secrets.module.js';
import { tenantsModule } from './tenants/tenants.module.js';
import { limitsModule } from './limits/limits.module.js';
import { webhooksModule } from './webhooks/webhooks.module.js';

/**
 * Every module, in schema order: the one list the schema, index creation and the sealed-data
 * registry read. Adding a module adds one line here (docs/ARCHITECTURE.md §9).
 */
export const MODULES: readonly CofferModule[] = [
  authModule,
  membersModule,
  tenantsModule,
  secretsModule,
  apiKeysModule,
  keysModule,
  auditModule,
  privacyModule,
  consentModule,
  limitsModule,
  webhooksModule,
];

/** The resolver classes of every module, for the schema. */
export const moduleResolvers = () => MODULES.flatMap((m) => m.resolvers);

/** Every module's sealed data, in module order (secrets first). */
export const moduleSealedData = (): SealedDataKind[] => MODULES.flatMap((m) => m.sealedData ?? []);

/** Every collection holding tenant documents, with what deleteTenant does with them (module.ts CollectionSpec.tenantData). */
export const tenantCollections = (): { name: string; tenantData: 'KEYS' | 'RECORDS' }[] =>
  MODULES.flatMap((m) => m.collections.flatMap(({ name, tenantData }) => (tenantData === 'GLOBAL' ? [] : [{ name, tenantData }])));

/**
 * Creates every module's indexes; safe to run at each start (createIndexes is idempotent).
 * One index per command: FerretDB v1 crashes the connection when a single createIndexes
 * names several indexes that all exist already.
 */
export async function ensureIndexes(db: Db): Promise<void> {
  for (const module of MODULES) {
    for (const { name, indexes } of module.collections) await createIndexesOneByOne(db, name, indexes);
  }
}
