import { Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { callerOf, type Context } from '../../graphql/context.js';
import { tenantIdOf, type Caller } from '../../identity/caller.js';
import { MasterKeyStatus, RewrapResult, TenantKeyStatus, toMasterKeyStatus, toRewrapResult, toTenantKeyStatus } from './key.types.js';

/** The audit actor of a signed-in user (key operations are for users, never API keys). */
const actorOf = (caller: Caller) => ({ type: 'USER' as const, id: caller.actor.id });

/** Tenant data-encryption keys (ADMIN and above) and the master keyring (platform administrators). */
@Resolver()
export class KeyResolver {
  @Query(() => TenantKeyStatus, { description: 'ADMIN and above: the current tenant\'s key versions and re-encryption progress.' })
  async tenantKeyStatus(@Ctx() ctx: Context) {
    return toTenantKeyStatus(await ctx.services.keys.status(tenantIdOf(callerOf(ctx))));
  }

  @Mutation(() => TenantKeyStatus, {
    description:
      'ADMIN and above: create a new key version for new secret values and re-encrypt existing ones with it in the background. CONFLICT while a re-encryption is still running.',
  })
  async rotateTenantKey(@Ctx() ctx: Context) {
    const caller = callerOf(ctx);
    return toTenantKeyStatus(await ctx.services.keys.rotate(tenantIdOf(caller), actorOf(caller)));
  }

  @Mutation(() => RewrapResult, {
    description:
      'Platform administrators only: re-wrap every tenant\'s keys, and the platform keys (login-counter and TOTP keys), under the active master key (after adding a new one). Safe to repeat.',
  })
  async rewrapTenantKeys(@Ctx() ctx: Context) {
    const result = await ctx.services.keys.rewrapUnderActiveKey(actorOf(callerOf(ctx)));
    return toRewrapResult({ tenants: result.tenants, rewrapped: result.rewrapped + result.platformKeys.rewrapped });
  }

  @Query(() => MasterKeyStatus, { description: 'Platform administrators only: how many stored keys each master key protects, to know when an old one can go.' })
  async masterKeyStatus(@Ctx() ctx: Context) {
    return toMasterKeyStatus(await ctx.services.keys.masterKeyStatus());
  }
}
