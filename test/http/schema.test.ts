import { readFileSync } from 'node:fs';
import { isEnumType, isInputObjectType, isInterfaceType, isObjectType, type GraphQLSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildBaseSchema, printCommittedSchema } from '../../src/graphql/schema.js';

function undescribed(schema: GraphQLSchema): string[] {
  const missing: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (!type.description) missing.push(type.name);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (!field.description) missing.push(`${type.name}.${field.name}`);
        for (const arg of field.args) if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) if (!field.description) missing.push(`${type.name}.${field.name}`);
    } else if (isEnumType(type)) {
      for (const value of type.getValues()) if (!value.description) missing.push(`${type.name}.${value.name}`);
    }
  }
  return missing;
}

describe('schema/schema.graphql', () => {
  it('matches the schema the code builds (run `npm run schema` after changing the API)', async () => {
    const committed = readFileSync(new URL('../../schema/schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(await printCommittedSchema());
  });

  it('describes every type, field, argument and enum value', async () => {
    expect(undescribed(await buildBaseSchema())).toEqual([]);
  });

  it('keeps the operation names of the contract', async () => {
    const schema = await buildBaseSchema();
    const mutations = Object.keys(schema.getMutationType()!.getFields());
    const queries = Object.keys(schema.getQueryType()!.getFields());
    expect(mutations).toEqual(
      expect.arrayContaining([
        'signUp', 'login', 'refreshToken', 'switchTenant', 'logout', 'inviteMember', 'acceptInvitation',
        'updateMemberRole', 'removeMember', 'changePassword', 'revokeSession',
      ]),
    );
    expect(queries).toEqual(expect.arrayContaining(['me', 'members', 'sessions']));
    for (const [operation, input] of [['signUp', 'SignUpInput'], ['login', 'LoginInput'], ['inviteMember', 'InviteMemberInput'], ['acceptInvitation', 'AcceptInvitationInput'], ['changePassword', 'ChangePasswordInput']]) {
      const arg = schema.getMutationType()!.getFields()[operation!]!.args.find((a) => a.name === 'input');
      expect(String(arg?.type)).toBe(`${input}!`);
    }
  });
});
