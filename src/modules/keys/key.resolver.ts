import { Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { viewerOf, type Context } from '../../graphql/context.js';
import { tenantIdOf, type Viewer } from '../auth/viewer.js';
import { MasterKeyStatus, RewrapResult, TenantKeyStatus, toMasterKeyStatus, toRewrapResult, toTenantKeyStatus } from './key.types.js';

const actorOf = (viewer: Viewer) => ({ type: 'USER' as const, id: viewer.userId });

/** Tenant data-encryption keys (ADMIN and above) and the master keyring (platform administrators). */
@Resolver()
export class KeyResolver {
  @Query(() => TenantKeyStatus, { description: 'ADMIN and above: the current tenant\'s key versions and re-encryption progress.' })
  async tenantKeyStatus(@Ctx() ctx: Context) {
    return toTenantKeyStatus(await ctx.services.keys.status(tenantIdOf(viewerOf(ctx))));
  }

  @Mutation(() => TenantKeyStatus, {
    description:
      'ADMIN and above: create a new key version for new secret values and re-encrypt existing ones with it in the background. CONFLICT while a re-encryption is still running.',
  })
  async rotateTenantKey(@Ctx() ctx: Context) {
    const viewer = viewerOf(ctx);
    return toTenantKeyStatus(await ctx.services.keys.rotate(tenantIdOf(viewer), actorOf(viewer)));
  }

  @Mutation(() => RewrapResult, {
    description: 'Platform administrators only: re-wrap every tenant\'s keys under the active master key (after adding a new one). Safe to repeat.',
  })
  async rewrapTenantKeys(@Ctx() ctx: Context) {
    return toRewrapResult(await ctx.services.keys.rewrapAll(actorOf(viewerOf(ctx))));
  }

  @Query(() => MasterKeyStatus, { description: 'Platform administrators only: how many stored keys each master key protects, to know when an old one can go.' })
  async masterKeyStatus(@Ctx() ctx: Context) {
    return toMasterKeyStatus(await ctx.services.keys.masterKeyStatus());
  }
}
