import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { callerOf, type Context } from '../../graphql/context.js';
import { Tenant, TenantDeletion, toTenant, toTenantDeletion } from './tenant.types.js';

/** Platform administration of tenants (not a tenant role). */
@Resolver()
export class TenantAdminResolver {
  @Query(() => [Tenant], { description: 'Platform administrators only: every tenant, newest first.' })
  async tenants(@Ctx() ctx: Context) {
    return (await ctx.services.tenants.list()).map(toTenant);
  }

  @Mutation(() => Tenant, { description: 'Platform administrators only: suspend a tenant. Its tokens stop working within seconds.' })
  async suspendTenant(@Arg('id', () => ID, { description: 'Tenant id.' }) id: string, @Ctx() ctx: Context) {
    return toTenant(await ctx.services.tenants.setStatus(callerOf(ctx), id, 'SUSPENDED'));
  }

  @Mutation(() => Tenant, { description: 'Platform administrators only: make a suspended tenant active again.' })
  async reactivateTenant(@Arg('id', () => ID, { description: 'Tenant id.' }) id: string, @Ctx() ctx: Context) {
    return toTenant(await ctx.services.tenants.setStatus(callerOf(ctx), id, 'ACTIVE'));
  }

  @Mutation(() => TenantDeletion, {
    description:
      'OWNER only: delete the current tenant for good. Destroys every key of the tenant first (crypto-shredding: its data keys, audit key, subject keys and blind-index key, so every copy of its data, backups included, is unreadable), then marks it DELETED (every member token and API key refused), then purges all its documents, and returns a signed receipt. BAD_USER_INPUT, and nothing happens, unless confirmSlug is exactly the tenant slug. The slug stays reserved.',
  })
  async deleteTenant(
    @Arg('confirmSlug', () => String, { description: 'The slug of the current tenant (me.tenant.slug), typed out to confirm.' }) confirmSlug: string,
    @Ctx() ctx: Context,
  ) {
    return toTenantDeletion(await ctx.services.tenantDeletion.deleteTenant(callerOf(ctx), confirmSlug));
  }

  @Query(() => TenantDeletion, { description: 'Platform administrators only: the deletion of a tenant and its signed receipt (an interrupted deletion is completed first). NOT_FOUND when the tenant was not deleted.' })
  async tenantDeletionReceipt(@Arg('tenantId', () => ID, { description: 'The deleted tenant\'s id.' }) tenantId: string, @Ctx() ctx: Context) {
    return toTenantDeletion(await ctx.services.tenantDeletion.receipt(tenantId));
  }
}
