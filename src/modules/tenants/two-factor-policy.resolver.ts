import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import { callerOf, type Context } from '../../graphql/context.js';
import { RoleEnum } from '../../graphql/role.enum.js';
import type { Role } from '../../identity/roles.js';
import { Tenant, toTenant } from './tenant.types.js';

/** The tenant's second-factor policy (OWNER). */
@Resolver()
export class TwoFactorPolicyResolver {
  @Mutation(() => Tenant, {
    description:
      'OWNER only: the roles of the current tenant that must use a second factor (TOTP), e.g. [OWNER, ADMIN]; [] turns the policy off. Replaces the previous list; audited (tenant.two_factor_policy_changed). Members of those roles then get TWO_FACTOR_REQUIRED on every operation except me, sessions, enrollTotp, confirmTotp, twoFactorStatus, logout, revokeSession, refreshToken, switchTenant, exportMyData and deleteMyAccount until their session has used a second factor (completeLogin, or confirmTotp in that session). API keys are not affected.',
  })
  async updateTwoFactorPolicy(
    @Arg('requireTwoFactorFor', () => [RoleEnum], { description: 'Roles that must use a second factor; [] for none.' }) requireTwoFactorFor: Role[],
    @Ctx() ctx: Context,
  ) {
    return toTenant(await ctx.services.tenants.setTwoFactorPolicy(callerOf(ctx), requireTwoFactorFor));
  }
}
