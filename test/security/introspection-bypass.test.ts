import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectOk, signUp, type Signed } from '../support/auth.js';
import { postGraphql } from '../support/http.js';
import { startServer, type TestServer } from '../support/server.js';

/**
 * Attack (i11, held): ways around introspection by role that test/http/introspection.test.ts
 * does not try: a persisted query (APQ) an OWNER registered, replayed by hash alone by an
 * anonymous caller over POST and GET; a batched array; a document with a harmless operation
 * selected by operationName next to an introspecting one.
 */
const SCHEMA = '{ __schema { mutationType { fields { name } } } }';
const hash = createHash('sha256').update(SCHEMA).digest('hex');
const persisted = { persistedQuery: { version: 1, sha256Hash: hash } };
let prod: TestServer;
let owner: Signed;

beforeAll(async () => {
  prod = await startServer({ NODE_ENV: 'production', MONGODB_URI: inject('mongoUri'), SIGNUP_MODE: 'open', SANDBOX_ENABLED: 'false' });
  owner = await signUp(prod, 'Apq Co');
});
afterAll(() => prod?.close());

const noSchemaIn = (text: string) => {
  for (const leak of ['createSecret', 'mutationType', 'Did you mean']) expect(text).not.toContain(leak);
};

describe('introspection bypasses', () => {
  it('an OWNER-registered persisted introspection query is refused to an anonymous caller by hash (POST and GET)', async () => {
    // The OWNER registers the query under its hash (allowed for them).
    const registered = await postGraphql(prod.url, { query: SCHEMA, extensions: persisted }, { authorization: `Bearer ${owner.accessToken}` });
    expect(registered.status).toBe(200);
    expect(registered.text).toContain('createSecret');
    const byHash = await postGraphql(prod.url, { extensions: persisted });
    expect(byHash.status).toBe(403);
    expect(byHash.json.errors[0].extensions.code).toBe('FORBIDDEN');
    noSchemaIn(byHash.text);
    const viaGet = await fetch(`${prod.url}/graphql?extensions=${encodeURIComponent(JSON.stringify(persisted))}`, { headers: { 'apollo-require-preflight': 'true' } });
    const text = await viaGet.text();
    expect(viaGet.status).toBe(403);
    noSchemaIn(text);
  });

  it('a batched array and a multi-operation document selecting the harmless operation are refused', async () => {
    const batched = await postGraphql(prod.url, [{ query: '{ __typename }' }, { query: SCHEMA }]);
    expect(batched.status).toBeGreaterThanOrEqual(400);
    noSchemaIn(batched.text);
    const multi = await postGraphql(prod.url, { query: `query Harmless { __typename } query Probe ${SCHEMA}`, operationName: 'Harmless' });
    expect(multi.status).toBe(403);
    noSchemaIn(multi.text);
    expectOk(await prod.gql('{ __typename }'));
  });
});
