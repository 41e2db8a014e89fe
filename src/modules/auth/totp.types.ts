import { Length, MaxLength } from 'class-validator';
import { Field, InputType, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'A started TOTP enrolment (RFC 6238: SHA-1, 6 digits, 30 s). Pending until confirmTotp; shown to its user only, once.' })
export class TotpEnrolment {
  @Field(() => String, { description: 'The shared secret in base32, for typing into an authenticator app by hand.' })
  secret!: string;

  @Field(() => String, { description: 'otpauth:// URI with issuer Coffer and the account\'s email as label.' })
  uri!: string;

  @Field(() => String, { description: 'The URI as a QR code: a data URL of an SVG image (data:image/svg+xml;base64,...).' })
  qrCodeDataUrl!: string;
}

@ObjectType({ description: 'The second factor is active: the one-time recovery codes, shown this once.' })
export class TotpConfirmation {
  @Field(() => [String], {
    description: 'Ten recovery codes (xxxx-xxxx-xxxx-xxxx), each usable once in place of a TOTP code (completeLogin, disableTotp). Only their hashes are stored: keep them safe now.',
  })
  recoveryCodes!: string[];
}

@ObjectType({ description: 'The signed-in user\'s second factor.' })
export class TwoFactorStatus {
  @Field(() => Boolean, { description: 'Whether a TOTP second factor is active (login then needs completeLogin).' })
  enabled!: boolean;

  @Field(() => Boolean, { description: 'Whether an enrolment waits for confirmTotp.' })
  pending!: boolean;

  @Field(() => Int, { description: 'Unused recovery codes left (0 when not enabled).' })
  recoveryCodesLeft!: number;
}

@InputType({ description: 'Finish a login that returned twoFactorChallenge.' })
export class CompleteLoginInput {
  @Field(() => String, { description: 'twoFactorChallenge.token from login (single use, 5 minutes, same client).' })
  @MaxLength(128, { message: 'must be at most 128 characters' })
  challenge!: string;

  @Field(() => String, { description: 'A current 6-digit TOTP code, or one of the recovery codes (hyphens and spaces ignored).' })
  @Length(1, 64, { message: 'must be 1 to 64 characters' })
  code!: string;
}
