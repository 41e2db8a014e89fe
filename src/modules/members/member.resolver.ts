import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { callerOf, optionalCallerOf, type Context } from '../../graphql/context.js';
import { AuthPayload, toAuthPayload } from '../auth/auth.types.js';
import { AcceptInvitationInput, Invitation, InviteMemberInput, Member, toInvitation, toMember } from './member.types.js';
import { RoleEnum } from '../../graphql/role.enum.js';
import type { Role } from '../../identity/roles.js';

@Resolver()
export class MemberResolver {
  @Query(() => [Member], { description: 'Members of the current tenant.' })
  async members(@Ctx() ctx: Context) {
    return (await ctx.services.members.list(callerOf(ctx))).map(toMember);
  }

  @Mutation(() => Invitation, { description: 'Invite someone. The returned token is shown once; it expires (72 h by default).' })
  async inviteMember(@Arg('input', () => InviteMemberInput, { description: 'Who and which role.' }) input: InviteMemberInput, @Ctx() ctx: Context) {
    const { invitation, token } = await ctx.services.members.invite(callerOf(ctx), input);
    return toInvitation(invitation, token);
  }

  @Query(() => [Invitation], { description: 'Pending (unaccepted, unexpired) invitations of the current tenant.' })
  async invitations(@Ctx() ctx: Context) {
    return (await ctx.services.members.listInvitations(callerOf(ctx))).map((i) => toInvitation(i));
  }

  @Mutation(() => Boolean, { description: 'Withdraw a pending invitation.' })
  async revokeInvitation(@Arg('id', () => ID, { description: 'Invitation id.' }) id: string, @Ctx() ctx: Context) {
    return ctx.services.members.revokeInvitation(callerOf(ctx), id);
  }

  @Mutation(() => AuthPayload, { description: 'Accept an invitation and get tokens scoped to the inviting tenant.' })
  async acceptInvitation(
    @Arg('input', () => AcceptInvitationInput, { description: 'Token, and a password where needed.' }) input: AcceptInvitationInput,
    @Ctx() ctx: Context,
  ) {
    return toAuthPayload(await ctx.services.members.accept(input, optionalCallerOf(ctx)));
  }

  @Mutation(() => Member, { description: 'Change a member\'s role. Not above your own; the last OWNER cannot be demoted.' })
  async updateMemberRole(
    @Arg('userId', () => ID, { description: 'The member\'s user id.' }) userId: string,
    @Arg('role', () => RoleEnum, { description: 'The new role.' }) role: Role,
    @Ctx() ctx: Context,
  ) {
    return toMember(await ctx.services.members.updateRole(callerOf(ctx), userId, role));
  }

  @Mutation(() => Boolean, { description: 'Remove a member from the tenant and revoke their sessions there. The last OWNER cannot be removed.' })
  async removeMember(@Arg('userId', () => ID, { description: 'The member\'s user id.' }) userId: string, @Ctx() ctx: Context) {
    return ctx.services.members.remove(callerOf(ctx), userId);
  }
}
