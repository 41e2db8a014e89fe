import { IsOptional, MaxLength } from 'class-validator';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { RoleEnum } from '../../graphql/role.enum.js';
import type { Role } from '../../identity/roles.js';
import type { ApiKeyDoc } from './api-key.repository.js';

@ObjectType({ description: 'A machine credential for services: one tenant, one role, some name prefixes.' })
export class ApiKey {
  @Field(() => ID, { description: 'Public id (also the start of the key).' })
  id!: string;

  @Field(() => String, { description: 'What the key is for.' })
  name!: string;

  @Field(() => RoleEnum, { description: 'The role it acts with (never above its creator\'s).' })
  role!: Role;

  @Field(() => [String], { description: 'Secret name prefixes it may see and change (* = all).' })
  prefixes!: string[];

  @Field(() => Date, { description: 'When it was created.' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When it stops working, if set.' })
  expiresAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When it was last used.' })
  lastUsedAt!: Date | null;

  @Field(() => Int, { description: 'How many requests it has authenticated.' })
  useCount!: number;
}

export function toApiKey(doc: ApiKeyDoc): ApiKey {
  return Object.assign(new ApiKey(), {
    id: doc._id,
    name: doc.name,
    role: doc.role,
    prefixes: doc.prefixes,
    createdAt: doc.createdAt,
    expiresAt: doc.expiresAt,
    lastUsedAt: doc.lastUsedAt,
    useCount: doc.useCount,
  });
}

@ObjectType({ description: 'A newly created API key. The key is shown only here, once.' })
export class CreatedApiKey {
  @Field(() => String, { description: 'The secret key: send it as Authorization: Bearer <apiKey>. Store it now; it cannot be shown again.' })
  apiKey!: string;

  @Field(() => ApiKey, { description: 'The key\'s metadata.' })
  key!: ApiKey;
}

@InputType({ description: 'A new API key.' })
export class CreateApiKeyInput {
  @Field(() => String, { description: 'What it is for (1–100 characters).' })
  @MaxLength(100, { message: 'must be at most 100 characters' })
  name!: string;

  @Field(() => RoleEnum, { description: 'USER reads; MANAGER also writes; no higher than your own role.' })
  role!: Role;

  @Field(() => [String], { description: 'Name prefixes it may use, e.g. ["prod/payments/"]; ["*"] for every secret.' })
  prefixes!: string[];

  @Field(() => Date, { nullable: true, description: 'When it stops working.' })
  @IsOptional()
  expiresAt?: Date | null;
}
