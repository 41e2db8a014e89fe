import type { CofferModule } from '../module.js';
import { KeyResolver } from './key.resolver.js';

/** The master keyring, tenant DEKs, platform keys and re-encryption (their collections index themselves). */
export const keysModule: CofferModule = {
  name: 'keys',
  resolvers: [KeyResolver],
  collections: [],
};
