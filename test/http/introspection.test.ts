import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { addMember, expectCode, expectOk, login, signUp, type Signed } from '../support/auth.js';
import { postGraphql } from '../support/http.js';
import { startServer, type TestServer } from '../support/server.js';

/**
 * Introspection by role (src/graphql/introspection.ts): in production only platform
 * administrators and OWNER/ADMIN tokens or API keys read the schema; everyone else is refused
 * before execution, with a code, no data, no schema name and no suggestion. In development
 * with Sandbox it stays open.
 */

const SCHEMA = '{ __schema { queryType { name } mutationType { fields { name } } } }';
/** The same request in the shapes a prober would try: aliased, in a named or inline fragment, `__type`, mixed with a real field. */
const PROBES: Record<string, string> = {
  plain: SCHEMA,
  aliased: '{ s: __schema { types { name } } }',
  type: '{ __type(name: "Secret") { fields { name } } }',
  aliasedType: '{ t: __type(name: "Query") { fields { name } } }',
  namedFragment: 'query Q { ...F } fragment F on Query { __type(name: "CreateSecretInput") { inputFields { name } } }',
  inlineFragment: '{ ... on Query { __schema { types { name } } } }',
  nestedFragments: 'query { ...A } fragment A on Query { ...B } fragment B on Query { x: __schema { queryType { fields { name } } } }',
  mixed: '{ me { user { id } } __schema { types { name } } }',
};

let prod: TestServer;
let prodSandbox: TestServer;
let dev: TestServer;
let owner: Signed;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  const production = { NODE_ENV: 'production', MONGODB_URI: inject('mongoUri'), SIGNUP_MODE: 'open' };
  prod = await startServer({ ...production, SANDBOX_ENABLED: 'false' });
  prodSandbox = await startServer({ ...production, SANDBOX_ENABLED: 'true' });
  dev = await startServer({ SANDBOX_ENABLED: 'true' });

  owner = await signUp(prod, 'Introspection Co');
  tokens.OWNER = owner.accessToken;
  for (const role of ['ADMIN', 'MANAGER', 'USER']) tokens[role] = (await addMember(prod, owner, role)).accessToken;
  // A platform administrator whose tenant role is only USER: allowed as a platform administrator.
  const platform = await addMember(prod, owner, 'USER');
  await prod.db.collection('users').updateOne({ _id: platform.userId as never }, { $set: { platformAdmin: true } });
  tokens.PLATFORM_ADMIN = expectOk(await login(prod, platform.email, platform.password)).login.accessToken;
  for (const role of ['OWNER', 'ADMIN', 'MANAGER', 'USER']) {
    const created = await prod.gql<{ createApiKey: { apiKey: string } }>(
      'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey } }',
      { input: { name: `key-${role.toLowerCase()}`, role, prefixes: ['*'] } },
      owner.accessToken,
    );
    tokens[`API_KEY_${role}`] = expectOk(created).createApiKey.apiKey;
  }
});
afterAll(async () => {
  await prod?.close();
  await prodSandbox?.close();
  await dev?.close();
});

/** What a refused probe must look like: 403, FORBIDDEN, no data, and nothing of the schema in the body. */
async function expectRefused(server: TestServer, query: string, token?: string) {
  const res = await postGraphql(server.url, { query }, token ? { authorization: `Bearer ${token}` } : {});
  const body = JSON.stringify(res.json);
  expect(res.status, body).toBe(403);
  expect(res.json.errors).toHaveLength(1);
  expect(res.json.errors[0].extensions.code).toBe('FORBIDDEN');
  expect(res.json.data ?? null).toBeNull();
  for (const leak of ['createSecret', 'CreateSecretInput', 'Did you mean', 'mutationType', '"types"', 'http']) expect(body).not.toContain(leak);
}

describe('introspection in production', () => {
  it.each(['OWNER', 'ADMIN', 'PLATFORM_ADMIN', 'API_KEY_OWNER', 'API_KEY_ADMIN'])('is allowed for %s, in every shape', async (who) => {
    for (const [shape, query] of Object.entries(PROBES)) {
      if (shape === 'mixed' && who.startsWith('API_KEY')) continue; // `me` is for users, not API keys
      const res = await prod.gql(query, {}, tokens[who]);
      expect(res.errors, `${shape}: ${JSON.stringify(res.errors)}`).toBeUndefined();
    }
    const schema = expectOk(await prod.gql<{ __schema: { mutationType: { fields: { name: string }[] } } }>(SCHEMA, {}, tokens[who]));
    expect(schema.__schema.mutationType.fields.map((f) => f.name)).toContain('createSecret');
  });

  it.each(['anonymous', 'MANAGER', 'USER', 'API_KEY_MANAGER', 'API_KEY_USER', 'a bad token'])('is refused for %s, in every shape, with FORBIDDEN and no schema', async (who) => {
    const token = who === 'anonymous' ? undefined : who === 'a bad token' ? 'not-a-token' : tokens[who];
    for (const query of Object.values(PROBES)) await expectRefused(prod, query, token);
  });

  it('refuses it the same way over GET', async () => {
    const res = await fetch(`${prod.url}/graphql?query=${encodeURIComponent(SCHEMA)}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('FORBIDDEN');
  });

  it('leaves ordinary operations and __typename alone for everyone', async () => {
    expectOk(await prod.gql('{ __typename }'));
    expectOk(await prod.gql('{ me { user { id } } }', {}, tokens.USER));
    expectOk(await prod.gql('{ secrets { totalCount } }', {}, tokens.API_KEY_USER));
  });

  it('suggests nothing to an anonymous prober whose introspection query is misspelled', async () => {
    const res = await prod.gql('{ __schema { typez { name } } }');
    expectCode(res, 'BAD_USER_INPUT');
    expect(JSON.stringify(res.errors)).not.toContain('Did you mean');
  });

  it('applies the same rule with SANDBOX_ENABLED=true in production (Sandbox works with an OWNER or ADMIN token)', async () => {
    const prodOwner = await signUp(prodSandbox, 'Sandbox Co');
    const user = await addMember(prodSandbox, prodOwner, 'USER');
    await expectRefused(prodSandbox, SCHEMA);
    await expectRefused(prodSandbox, SCHEMA, user.accessToken);
    expectOk(await prodSandbox.gql(SCHEMA, {}, prodOwner.accessToken));
  });
});

describe('introspection in development with Sandbox', () => {
  it('stays open to everyone, as Sandbox loads the schema before a token is entered', async () => {
    expect(dev.config.nodeEnv).not.toBe('production');
    const schema = expectOk(await dev.gql<{ __schema: { queryType: { name: string } } }>(SCHEMA));
    expect(schema.__schema.queryType.name).toBe('Query');
  });
});
