import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { callerOf, optionalCallerOf, viewerOf, type Context } from '../../graphql/context.js';
import { toTenant } from '../tenants/tenant.types.js';
import {
  AccountExport,
  AuthPayload,
  ChangePasswordInput,
  LoginInput,
  Membership,
  Session,
  SignUpInput,
  toAuthPayload,
  toSession,
  toUser,
  Viewer,
} from './auth.types.js';

@Resolver()
export class AuthResolver {
  @Mutation(() => AuthPayload, {
    description:
      'Create an account and a new tenant; the caller becomes its OWNER and is logged in. FORBIDDEN when the server runs with SIGNUP_MODE=invite-only (accounts then come from acceptInvitation); CONFLICT when the email already has an account.',
  })
  async signUp(@Arg('input', () => SignUpInput, { description: 'Account and tenant details.' }) input: SignUpInput, @Ctx() ctx: Context) {
    return toAuthPayload(await ctx.services.auth.signUp(input, optionalCallerOf(ctx)));
  }

  @Mutation(() => AuthPayload, {
    description:
      'Log in. Unknown email and wrong password give the same error; repeated failures from one client address lock that address out of the email (ACCOUNT_LOCKED), for known and unknown emails alike. For a user with a second factor (enrollTotp/confirmTotp) the tokens are null and twoFactorChallenge is set: finish with completeLogin.',
  })
  async login(@Arg('input', () => LoginInput, { description: 'Credentials and optional tenant.' }) input: LoginInput, @Ctx() ctx: Context) {
    return toAuthPayload(await ctx.services.auth.login(input, optionalCallerOf(ctx)));
  }

  @Mutation(() => AuthPayload, { description: 'Trade a refresh token for new tokens. The presented refresh token stops working.' })
  async refreshToken(
    @Arg('refreshToken', () => String, { description: 'The refresh token from the last AuthPayload.' }) refreshToken: string,
    @Ctx() ctx: Context,
  ) {
    return toAuthPayload(await ctx.services.auth.refresh(refreshToken, optionalCallerOf(ctx)));
  }

  @Mutation(() => AuthPayload, { description: 'Move the current session to another tenant the user belongs to; issues new tokens.' })
  async switchTenant(@Arg('tenantId', () => ID, { description: 'A tenant from me.memberships.' }) tenantId: string, @Ctx() ctx: Context) {
    return toAuthPayload(await ctx.services.auth.switchTenant(callerOf(ctx), tenantId));
  }

  @Mutation(() => Boolean, { description: 'Revoke the current session: its access and refresh tokens stop working.' })
  async logout(@Ctx() ctx: Context) {
    return ctx.services.auth.logout(callerOf(ctx));
  }

  @Query(() => Viewer, { description: 'The caller: user, current tenant and role, and all memberships.' })
  async me(@Ctx() ctx: Context) {
    const viewer = viewerOf(ctx);
    const profile = await ctx.services.account.profile(callerOf(ctx));
    return Object.assign(new Viewer(), {
      user: toUser(profile.user),
      tenant: profile.tenant ? toTenant(profile.tenant) : null,
      role: viewer.role,
      platformAdmin: profile.user.platformAdmin,
      memberships: profile.memberships.map((m) => Object.assign(new Membership(), { ...m, tenant: toTenant(m.tenant) })),
    });
  }

  @Mutation(() => Boolean, {
    description:
      'Change the password (checks the current one, and for an account with a second factor a TOTP or recovery code: totpCode); every other session is revoked. A wrong current password is BAD_USER_INPUT, a wrong code UNAUTHENTICATED; both count toward the login lockout (ACCOUNT_LOCKED).',
  })
  async changePassword(
    @Arg('input', () => ChangePasswordInput, { description: 'Current and new password.' }) input: ChangePasswordInput,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.account.changePassword(callerOf(ctx), input);
  }

  @Query(() => [Session], { description: 'The current user\'s live sessions, newest first.' })
  async sessions(@Ctx() ctx: Context) {
    const viewer = viewerOf(ctx);
    const sessions = await ctx.services.account.listSessions(callerOf(ctx));
    return sessions.map((s) => toSession(s, viewer.sessionId));
  }

  @Mutation(() => Boolean, { description: 'Revoke one of the current user\'s sessions (for example a lost device).' })
  async revokeSession(@Arg('id', () => ID, { description: 'Session id from sessions.' }) id: string, @Ctx() ctx: Context) {
    return ctx.services.account.revokeSession(callerOf(ctx), id);
  }

  @Query(() => AccountExport, {
    description:
      'The signed-in user\'s own data as one machine-readable JSON document (format coffer.account-export, version 1): the account (never the password hash), memberships with tenant names and roles, sessions, and the newest 1,000 audit events where the user is the actor, across their tenants and the platform chain. Audited.',
  })
  async exportMyData(@Ctx() ctx: Context) {
    const document = await ctx.services.account.exportMyData(callerOf(ctx));
    return Object.assign(new AccountExport(), { format: document.format, version: document.version, generatedAt: new Date(document.generatedAt), document });
  }

  @Mutation(() => Boolean, {
    description:
      'Delete the signed-in user\'s account. Re-checks the password, and for an account with a second factor a TOTP or recovery code (totpCode; missing: BAD_USER_INPUT); failures count like logins: UNAUTHENTICATED, then ACCOUNT_LOCKED. CONFLICT while the user is the only OWNER of a tenant: hand it over (updateMemberRole) or delete it (deleteTenant) first. Otherwise leaves every tenant (API keys they created are revoked), ends every session and deletes the account; audit events keep the user id only.',
  })
  async deleteMyAccount(
    @Arg('password', () => String, { description: 'The account password, to confirm.' }) password: string,
    @Arg('totpCode', () => String, {
      nullable: true,
      description:
        'Required when the account has a second factor (TOTP): a current 6-digit code (each accepted once) or an unused recovery code (used up by this). Ignored for accounts without one.',
    })
    totpCode: string | null | undefined,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.accountClosure.deleteMyAccount(callerOf(ctx), password, totpCode);
  }
}
