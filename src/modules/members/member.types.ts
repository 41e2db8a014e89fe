import { IsEmail, IsOptional, Length, MaxLength } from 'class-validator';
import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { EMAIL_MAX, User, toUser } from '../auth/auth.types.js';
import type { InvitationDoc } from './invitation.repository.js';
import type { MemberView } from './member.service.js';
import { RoleEnum } from '../../graphql/role.enum.js';
import type { Role } from '../../identity/roles.js';

@ObjectType({ description: 'A user\'s membership in the current tenant.' })
export class Member {
  @Field(() => User, { description: 'The member.' })
  user!: User;

  @Field(() => RoleEnum, { description: 'Their role in this tenant.' })
  role!: Role;

  @Field(() => Date, { description: 'When they joined.' })
  joinedAt!: Date;
}

export function toMember(view: MemberView): Member {
  return Object.assign(new Member(), { user: toUser(view.user), role: view.role, joinedAt: view.joinedAt });
}

@ObjectType({ description: 'An invitation to join the current tenant.' })
export class Invitation {
  @Field(() => ID, { description: 'Invitation id.' })
  id!: string;

  @Field(() => String, { description: 'Who is invited (normalised email).' })
  email!: string;

  @Field(() => RoleEnum, { description: 'The role they get on accepting.' })
  role!: Role;

  @Field(() => Date, { description: 'When it was created.' })
  createdAt!: Date;

  @Field(() => Date, { description: 'After this it can no longer be accepted.' })
  expiresAt!: Date;

  @Field(() => String, {
    nullable: true,
    description: 'The secret token to pass to acceptInvitation. Returned once, by inviteMember; null everywhere else.',
  })
  token!: string | null;
}

export function toInvitation(doc: InvitationDoc, token: string | null = null): Invitation {
  return Object.assign(new Invitation(), {
    id: doc._id,
    email: doc.email,
    role: doc.role,
    createdAt: doc.createdAt,
    expiresAt: doc.expiresAt,
    token,
  });
}

@InputType({ description: 'Invite someone into the current tenant.' })
export class InviteMemberInput {
  @Field(() => String, { description: 'Email address of the person to invite.' })
  @IsEmail({}, { message: 'must be a valid email address' })
  @MaxLength(EMAIL_MAX)
  email!: string;

  @Field(() => RoleEnum, { description: 'Role to grant; not above the inviter\'s own.' })
  role!: Role;
}

@InputType({ description: 'Accept an invitation.' })
export class AcceptInvitationInput {
  @Field(() => String, { description: 'The token from inviteMember.' })
  @Length(1, 200, { message: 'must be 1 to 200 characters' })
  token!: string;

  @Field(() => String, {
    nullable: true,
    description:
      'For a new user: the password to create the account with. For an existing account: its current password, unless the request is signed in as that user.',
  })
  @IsOptional()
  @MaxLength(256, { message: 'must be at most 256 characters' })
  password?: string | null;
}
