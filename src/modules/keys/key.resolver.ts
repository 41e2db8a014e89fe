import { Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { viewerOf, type Context } from '../../graphql/context.js';
import { forbidden } from '../../graphql/errors.js';
import type { Viewer } from '../auth/viewer.js';
import { MasterKeyStatus, RewrapResult, TenantKeyStatus, toMasterKeyStatus, toRewrapResult, toTenantKeyStatus } from './key.types.js';
import type { TenantKeyService } from './tenant-key.service.js';

/** What these resolvers need of the context: `keys` in Services (src/graphql/context.ts). */
type KeysContext = Context & { services: { keys: TenantKeyService } };

function tenantOf(viewer: Viewer): string {
  if (!viewer.tenantId) throw forbidden('This operation needs a token scoped to a tenant');
  return viewer.tenantId;
}

const actorOf = (viewer: Viewer) => ({ type: 'USER' as const, id: viewer.userId });

/** Tenant data-encryption keys (ADMIN and above) and the master keyring (platform administrators). */
@Resolver()
export class KeyResolver {
  @Query(() => TenantKeyStatus, { description: 'ADMIN and above: the current tenant\'s key versions and re-encryption progress.' })
  async tenantKeyStatus(@Ctx() ctx: KeysContext) {
    return toTenantKeyStatus(await ctx.services.keys.status(tenantOf(viewerOf(ctx))));
  }

  @Mutation(() => TenantKeyStatus, {
    description:
      'ADMIN and above: create a new key version for new secret values and re-encrypt existing ones with it in the background. CONFLICT while a re-encryption is still running.',
  })
  async rotateTenantKey(@Ctx() ctx: KeysContext) {
    const viewer = viewerOf(ctx);
    return toTenantKeyStatus(await ctx.services.keys.rotate(tenantOf(viewer), actorOf(viewer)));
  }

  @Mutation(() => RewrapResult, {
    description: 'Platform administrators only: re-wrap every tenant\'s keys under the active master key (after adding a new one). Safe to repeat.',
  })
  async rewrapTenantKeys(@Ctx() ctx: KeysContext) {
    return toRewrapResult(await ctx.services.keys.rewrapAll(actorOf(viewerOf(ctx))));
  }

  @Query(() => MasterKeyStatus, { description: 'Platform administrators only: how many stored keys each master key protects, to know when an old one can go.' })
  async masterKeyStatus(@Ctx() ctx: KeysContext) {
    return toMasterKeyStatus(await ctx.services.keys.masterKeyStatus());
  }
}
