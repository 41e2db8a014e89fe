import 'reflect-metadata';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { buildSchema } from 'type-graphql';
import { AuthResolver } from '../modules/auth/auth.resolver.js';
import { MemberResolver } from '../modules/members/member.resolver.js';
import { TenantAdminResolver } from '../modules/tenants/tenant.resolver.js';
import { permissions } from './permissions.js';

const resolvers = [AuthResolver, MemberResolver, TenantAdminResolver] as const;

/** The schema as type-graphql builds it from the resolver classes, before permissions. */
export async function buildBaseSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers,
    validate: { forbidUnknownValues: false, validationError: { target: false, value: false } },
  });
}

/** The served schema: the base schema wrapped by graphql-shield (deny by default). */
export async function buildServedSchema(): Promise<GraphQLSchema> {
  return applyMiddleware(await buildBaseSchema(), permissions);
}

/** SDL as committed in schema/schema.graphql. */
export async function printCommittedSchema(): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await buildBaseSchema()))}\n`;
}
