import { IsEmail, IsOptional, IsUUID, Length, MaxLength } from 'class-validator';
import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { RoleEnum } from '../../graphql/role.enum.js';
import type { Role } from '../../identity/roles.js';
import { Tenant, toTenant } from '../tenants/tenant.types.js';
import type { AuthPayloadData } from './session.service.js';
import type { TwoFactorChallengeData } from './auth.service.js';
import type { SessionDoc } from './session.repository.js';
import type { UserDoc } from './user.repository.js';

export const EMAIL_MAX = 254;

@ObjectType({ description: 'A person with an account. One user may belong to several tenants.' })
export class User {
  @Field(() => ID, { description: 'Stable identifier of the user.' })
  id!: string;

  @Field(() => String, { description: 'Email address, normalised to lower case.' })
  email!: string;

  @Field(() => Date, { description: 'When the account was created.' })
  createdAt!: Date;
}

export function toUser(doc: UserDoc): User {
  return Object.assign(new User(), { id: doc._id, email: doc.email, createdAt: doc.createdAt });
}

@ObjectType({ description: 'A pending login of a user with a second factor: finish it with completeLogin.' })
export class TwoFactorChallenge {
  @Field(() => String, {
    description: 'Single-use token for completeLogin, bound to this user and to the client (address and user agent) that logged in. Only its hash is stored.',
  })
  token!: string;

  @Field(() => Date, { description: 'When the challenge expires (5 minutes after login); log in again after that.' })
  expiresAt!: Date;
}

@ObjectType({
  description:
    'Tokens issued by signUp, login, completeLogin, refreshToken, switchTenant and acceptInvitation. For a user with a second factor, login returns no tokens (accessToken, refreshToken and accessTokenExpiresAt are null) but twoFactorChallenge; every other operation, and login for users without a second factor, always fills the tokens.',
})
export class AuthPayload {
  @Field(() => String, { nullable: true, description: 'Short-lived JWT (EdDSA) for the Authorization: Bearer header; carries `amr` (["pwd"] or ["pwd","otp"]). Null only when login returned twoFactorChallenge.' })
  accessToken!: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Single-use token for refreshToken. It is rotated on every use; presenting a used one again revokes the session. Null only when login returned twoFactorChallenge.',
  })
  refreshToken!: string | null;

  @Field(() => Date, { nullable: true, description: 'When the access token expires. Null only when login returned twoFactorChallenge.' })
  accessTokenExpiresAt!: Date | null;

  @Field(() => TwoFactorChallenge, {
    nullable: true,
    description: 'Set (and the tokens null) when the user has a second factor: pass its token with a TOTP or recovery code to completeLogin. Null whenever tokens are issued.',
  })
  twoFactorChallenge!: TwoFactorChallenge | null;

  @Field(() => User, { description: 'The signed-in user.' })
  user!: User;

  @Field(() => Tenant, { nullable: true, description: 'The tenant the access token is scoped to (null only for a platform administrator without tenants).' })
  tenant!: Tenant | null;

  @Field(() => RoleEnum, { nullable: true, description: 'The user\'s role in that tenant.' })
  role!: Role | null;
}

export function toAuthPayload(data: AuthPayloadData | TwoFactorChallengeData): AuthPayload {
  if ('twoFactorChallenge' in data) {
    return Object.assign(new AuthPayload(), {
      accessToken: null,
      refreshToken: null,
      accessTokenExpiresAt: null,
      twoFactorChallenge: Object.assign(new TwoFactorChallenge(), data.twoFactorChallenge),
      user: toUser(data.user),
      tenant: null,
      role: null,
    });
  }
  return Object.assign(new AuthPayload(), {
    accessToken: data.accessToken,
    refreshToken: data.refreshToken,
    accessTokenExpiresAt: data.accessTokenExpiresAt,
    twoFactorChallenge: null,
    user: toUser(data.user),
    tenant: data.tenant ? toTenant(data.tenant) : null,
    role: data.role,
  });
}

@ObjectType({ description: 'One tenant the user belongs to, with their role there.' })
export class Membership {
  @Field(() => Tenant, { description: 'The tenant.' })
  tenant!: Tenant;

  @Field(() => RoleEnum, { description: 'The user\'s role in it.' })
  role!: Role;

  @Field(() => Date, { description: 'When the user joined it.' })
  joinedAt!: Date;
}

@ObjectType({ description: 'The caller: who they are, where their token is scoped and what else they can switch to.' })
export class Viewer {
  @Field(() => User, { description: 'The signed-in user.' })
  user!: User;

  @Field(() => Tenant, { nullable: true, description: 'The tenant of the current token.' })
  tenant!: Tenant | null;

  @Field(() => RoleEnum, { nullable: true, description: 'The current role in that tenant.' })
  role!: Role | null;

  @Field(() => Boolean, { description: 'Whether the user is a platform administrator.' })
  platformAdmin!: boolean;

  @Field(() => [Membership], { description: 'Every tenant the user belongs to (switchTenant moves between them).' })
  memberships!: Membership[];
}

@ObjectType({ description: 'A login session of the current user; each holds one refresh token.' })
export class Session {
  @Field(() => ID, { description: 'Session id (revokeSession takes it).' })
  id!: string;

  @Field(() => ID, { nullable: true, description: 'The tenant the session is currently scoped to.' })
  tenantId!: string | null;

  @Field(() => Boolean, { description: 'True for the session making this request.' })
  current!: boolean;

  @Field(() => Date, { description: 'When the session started (login).' })
  createdAt!: Date;

  @Field(() => Date, { description: 'When its refresh token was last used.' })
  lastUsedAt!: Date;

  @Field(() => Date, { description: 'When the session ends at the latest.' })
  expiresAt!: Date;

  @Field(() => String, { nullable: true, description: 'Client IP address at login.' })
  ip!: string | null;

  @Field(() => String, { nullable: true, description: 'Client User-Agent at login.' })
  userAgent!: string | null;
}

export function toSession(doc: SessionDoc, currentSessionId: string): Session {
  return Object.assign(new Session(), {
    id: doc._id,
    tenantId: doc.tenantId,
    current: doc._id === currentSessionId,
    createdAt: doc.createdAt,
    lastUsedAt: doc.lastUsedAt,
    expiresAt: doc.expiresAt,
    ip: doc.ip,
    userAgent: doc.userAgent,
  });
}

@InputType({ description: 'Create an account and a new tenant owned by it.' })
export class SignUpInput {
  @Field(() => String, { description: 'Email address; must not have an account yet.' })
  @IsEmail({}, { message: 'must be a valid email address' })
  @MaxLength(EMAIL_MAX)
  email!: string;

  @Field(() => String, { description: '12–256 characters; not a common password; must not contain the email\'s local part.' })
  @MaxLength(256, { message: 'must be at most 256 characters' })
  password!: string;

  @Field(() => String, { description: 'Display name of the new tenant (1–100 characters).' })
  @Length(1, 100, { message: 'must be 1 to 100 characters' })
  tenantName!: string;
}

@InputType({ description: 'Log in with email and password.' })
export class LoginInput {
  @Field(() => String, { description: 'Email address of the account.' })
  @MaxLength(EMAIL_MAX)
  email!: string;

  @Field(() => String, { description: 'The account password.' })
  @MaxLength(256, { message: 'must be at most 256 characters' })
  password!: string;

  @Field(() => ID, { nullable: true, description: 'Tenant to scope the token to; default: the first active membership.' })
  @IsOptional()
  @IsUUID('all', { message: 'must be a tenant id' })
  tenantId?: string | null;
}

@InputType({ description: 'Change the signed-in user\'s password; every other session is revoked.' })
export class ChangePasswordInput {
  @Field(() => String, { description: 'The current password.' })
  @MaxLength(256, { message: 'must be at most 256 characters' })
  currentPassword!: string;

  @Field(() => String, { description: 'The new password (same policy as signUp).' })
  @MaxLength(256, { message: 'must be at most 256 characters' })
  newPassword!: string;

  @Field(() => String, {
    nullable: true,
    description:
      'Required when the account has a second factor (TOTP): a current 6-digit code from the authenticator (each code is accepted once) or an unused recovery code (used up by this). Missing: BAD_USER_INPUT; wrong: UNAUTHENTICATED, counted toward the login lockout. Ignored for accounts without a second factor.',
  })
  @IsOptional()
  @MaxLength(64, { message: 'must be at most 64 characters' })
  totpCode?: string | null;
}

@ObjectType({ description: 'The signed-in user\'s own data (exportMyData), one JSON document; format in docs/account-export-format.md.' })
export class AccountExport {
  @Field(() => String, { description: 'coffer.account-export.' })
  format!: string;

  @Field(() => Int, { description: 'Format version (1).' })
  version!: number;

  @Field(() => Date, { description: 'When the export was made.' })
  generatedAt!: Date;

  @Field(() => GraphQLJSONObject, { description: 'The export document: account, memberships, sessions and the user\'s own audit trail (newest 1,000 events).' })
  document!: Record<string, unknown>;
}
