import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { callerOf, optionalCallerOf, viewerOf, type Context } from '../../graphql/context.js';
import { AuthPayload, toAuthPayload } from './auth.types.js';
import { CompleteLoginInput, TotpConfirmation, TotpEnrolment, TwoFactorStatus } from './totp.types.js';

/** The second factor: enrolment, confirmation, disabling, and the second step of login. */
@Resolver()
export class TotpResolver {
  @Mutation(() => TotpEnrolment, {
    description:
      'Start enrolling a TOTP second factor: a fresh secret, its otpauth:// URI and a QR code. Pending (login unchanged) until confirmTotp; calling it again replaces a pending enrolment. CONFLICT while a second factor is active (disableTotp first). Audited.',
  })
  async enrollTotp(@Ctx() ctx: Context) {
    return Object.assign(new TotpEnrolment(), await ctx.services.twoFactor.enroll(callerOf(ctx)));
  }

  @Mutation(() => TotpConfirmation, {
    description:
      'Activate the pending enrolment with the account password and a current code from the authenticator: from then on login returns a twoFactorChallenge instead of tokens, and this session counts as having used the second factor. Returns ten recovery codes, shown once. The password is asked so that a stolen access token alone cannot put a second factor on someone else\'s account and lock them out. A wrong password or code is UNAUTHENTICATED and counts toward the login lockout (then ACCOUNT_LOCKED); NOT_FOUND without a pending enrolment. Audited.',
  })
  async confirmTotp(
    @Arg('code', () => String, { description: 'The 6-digit code the authenticator shows now.' }) code: string,
    @Arg('password', () => String, { description: 'The account password.' }) password: string,
    @Ctx() ctx: Context,
  ) {
    return Object.assign(new TotpConfirmation(), { recoveryCodes: await ctx.services.twoFactor.confirm(callerOf(ctx), code, password) });
  }

  @Mutation(() => Boolean, {
    description:
      'Turn the second factor off: needs the account password and a current TOTP code or an unused recovery code (failures of either count toward the login lockout: UNAUTHENTICATED, then ACCOUNT_LOCKED). The secret and recovery codes are deleted. Audited.',
  })
  async disableTotp(
    @Arg('password', () => String, { description: 'The account password.' }) password: string,
    @Arg('code', () => String, { description: 'A current TOTP code or an unused recovery code.' }) code: string,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.twoFactor.disable(callerOf(ctx), password, code);
  }

  @Query(() => TwoFactorStatus, { description: 'The signed-in user\'s second factor: enabled, pending, recovery codes left.' })
  async twoFactorStatus(@Ctx() ctx: Context) {
    return Object.assign(new TwoFactorStatus(), await ctx.services.twoFactor.status(viewerOf(ctx).userId));
  }

  @Mutation(() => AuthPayload, {
    description:
      'Second step of login for a user with a second factor: the challenge login returned and a TOTP code (each code is accepted once) or a recovery code (each once). Issues the usual tokens; the session records amr ["pwd","otp"]. An unknown, used, expired (5 minutes) or other client\'s challenge is UNAUTHENTICATED; a wrong code is UNAUTHENTICATED and counts toward the same lockout as passwords (ACCOUNT_LOCKED).',
  })
  async completeLogin(@Arg('input', () => CompleteLoginInput, { description: 'The challenge and a code.' }) input: CompleteLoginInput, @Ctx() ctx: Context) {
    return toAuthPayload(await ctx.services.auth.completeLogin(input, optionalCallerOf(ctx)));
  }
}
