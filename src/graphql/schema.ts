import 'reflect-metadata';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { buildSchema } from 'type-graphql';
import { moduleResolvers } from '../modules/index.js';
import { permissions } from './permissions.js';

/** The schema as type-graphql builds it from the resolver classes, before permissions. */
export async function buildBaseSchema(): Promise<GraphQLSchema> {
  const [first, ...rest] = moduleResolvers();
  if (!first) throw new Error('no module contributes a resolver');
  const schema = await buildSchema({
    resolvers: [first, ...rest],
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
