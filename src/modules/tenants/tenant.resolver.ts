import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { callerOf, type Context } from '../../graphql/context.js';
import { Tenant, toTenant } from './tenant.types.js';

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
}
