import type { IndexDescription } from 'mongodb';
import type { SealedDataKind } from './keys/sealed-data.js';

/** A class whose decorated methods type-graphql turns into schema fields. */
export type ResolverClass = abstract new (...args: never[]) => object;

/** A collection a module owns, with the indexes created for it at start (no TTL, no partial indexes). */
export interface CollectionSpec {
  name: string;
  indexes: readonly IndexDescription[];
  /**
   * What deleteTenant does with the collection's documents of the deleted tenant (they carry
   * `tenantId`): KEYS (wrapped key material) are destroyed first, with the tenant's DEKs and
   * audit key (crypto-shredding); RECORDS are purged afterwards; GLOBAL: not per-tenant data
   * (users, sessions, platform keys...) that deleteTenant does not touch. Required, so a new
   * collection cannot be forgotten by tenant deletion: its module must say which it is.
   */
  tenantData: 'KEYS' | 'RECORDS' | 'GLOBAL';
}

/**
 * What one module contributes to Coffer, read by the schema, index creation and the key
 * registry through the one list in modules/index.ts (docs/ARCHITECTURE.md §9). Its
 * services are built from explicit dependencies in the composition root (src/services.ts).
 */
export interface CofferModule {
  name: string;
  /** Its GraphQL face (*.resolver.ts). */
  resolvers: readonly ResolverClass[];
  collections: readonly CollectionSpec[];
  /** Data it seals under tenant DEKs, so key rotation re-seals it. */
  sealedData?: readonly SealedDataKind[];
}
