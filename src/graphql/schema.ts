import 'reflect-metadata';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { buildSchema } from 'type-graphql';
import { ApiKeyResolver } from '../modules/apikeys/api-key.resolver.js';
import { AuditResolver } from '../modules/audit/audit.resolver.js';
import { AuthResolver } from '../modules/auth/auth.resolver.js';
import { KeyResolver } from '../modules/keys/key.resolver.js';
import { SecretResolver } from '../modules/secrets/secret.resolver.js';
import { MemberResolver } from '../modules/members/member.resolver.js';
import { TenantAdminResolver } from '../modules/tenants/tenant.resolver.js';
import { permissions } from './permissions.js';

const resolvers = [AuthResolver, MemberResolver, TenantAdminResolver, SecretResolver, ApiKeyResolver, KeyResolver, AuditResolver] as const;

/** The schema as type-graphql builds it from the resolver classes, before permissions. */
export async function buildBaseSchema(): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    resolvers,
    validate: { forbidUnknownValues: false, validationError: { target: false, value: false } },
  });
  const query = schema.getQueryType();
  const mutation = schema.getMutationType();
  if (query) query.description = 'Reads. Every field needs a signed-in caller; see each field for the role it requires.';
  if (mutation) {
    mutation.description = 'Changes. signUp, login, refreshToken and acceptInvitation are public; everything else needs a signed-in caller.';
  }
  return schema;
}

/** The served schema: the base schema wrapped by graphql-shield (deny by default). */
export async function buildServedSchema(): Promise<GraphQLSchema> {
  return applyMiddleware(await buildBaseSchema(), permissions);
}

/** SDL as committed in schema/schema.graphql. */
export async function printCommittedSchema(): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await buildBaseSchema()))}\n`;
}
