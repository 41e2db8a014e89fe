import { IsOptional, MaxLength } from 'class-validator';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { domainEnum } from '../../graphql/enums.js';
import { RoleEnum } from '../../graphql/role.enum.js';
import type { Role } from '../../identity/roles.js';
import { API_KEY_SCOPES, type ApiKeyScope } from '../../identity/scopes.js';
import type { ApiKeyDoc } from './api-key.repository.js';
import { scopesOf } from './api-key-scopes.js';

export const ApiKeyScopeEnum = domainEnum(API_KEY_SCOPES, {
  name: 'ApiKeyScope',
  description: 'What an API key may reach, on top of its role. Keys made before scopes have SECRETS_READ and SECRETS_WRITE.',
  valuesConfig: {
    SECRETS_READ: { description: 'Read secrets under its prefixes (USER role and up).' },
    SECRETS_WRITE: { description: 'Change secrets under its prefixes (MANAGER role and up; ADMIN for destructive operations).' },
    SUBJECTS_READ: { description: 'Read data subjects\' personal data and access logs (MANAGER and up); export and receipts need ADMIN.' },
    SUBJECTS_WRITE: { description: 'Create and rectify data subjects (MANAGER and up); restrict, lift and erase need ADMIN.' },
    CONTACT_CHECK: { description: 'Ask canContact and canContactMany (any role); nothing else.' },
  },
});

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

  @Field(() => [ApiKeyScopeEnum], { description: 'What it may reach besides its role (SECRETS_READ and SECRETS_WRITE for keys made before scopes).' })
  scopes!: ApiKeyScope[];

  @Field(() => Date, { description: 'When it was created.' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When it stops working, if set.' })
  expiresAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When it was last used (written every few seconds, not per request).' })
  lastUsedAt!: Date | null;

  @Field(() => Int, { description: 'How many requests it has authenticated (written every few seconds, not per request).' })
  useCount!: number;
}

export function toApiKey(doc: ApiKeyDoc): ApiKey {
  return Object.assign(new ApiKey(), {
    id: doc._id,
    name: doc.name,
    role: doc.role,
    prefixes: doc.prefixes,
    scopes: [...scopesOf(doc.scopes)],
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

  @Field(() => [String], { description: 'Name prefixes it may use, e.g. ["prod/payments/"]; ["*"] for every secret; may be empty for a key without secret scopes.' })
  prefixes!: string[];

  @Field(() => [ApiKeyScopeEnum], { nullable: true, description: 'What it may reach (default SECRETS_READ and SECRETS_WRITE). A key for data subjects only: [SUBJECTS_READ] or [SUBJECTS_READ, SUBJECTS_WRITE].' })
  scopes?: ApiKeyScope[] | null;

  @Field(() => Date, { nullable: true, description: 'When it stops working.' })
  @IsOptional()
  expiresAt?: Date | null;
}
