import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { addMember, expectCode, expectOk, signUp, type Signed } from '../support/auth.js';
import { postGraphql } from '../support/http.js';
import { startServer, type TestServer } from '../support/server.js';
import { enrol, TestClock } from '../auth/totp-support.js';

/**
 * Attack (i11): TWO_FACTOR_REQUIRED is enforced by the permission rules of Query and Mutation
 * fields, but `__schema` and `__type` are meta-fields no rule sees. An ADMIN (or OWNER) whose
 * tenant requires a second factor, holding only a password session, could still read the whole
 * schema in production, where introspection is otherwise limited to ADMIN and OWNER.
 */
const POLICY = 'mutation($roles: [Role!]!) { updateTwoFactorPolicy(requireTwoFactorFor: $roles) { id requireTwoFactorFor } }';
const SCHEMA = '{ __schema { mutationType { fields { name } } } }';
const clock = new TestClock();
let prod: TestServer;
let owner: Signed;

beforeAll(async () => {
  prod = await startServer({ NODE_ENV: 'production', MONGODB_URI: inject('mongoUri'), SIGNUP_MODE: 'open', SANDBOX_ENABLED: 'false' }, undefined, { twoFactor: { now: clock.now } });
  owner = await signUp(prod, 'Policy Introspection');
  await enrol(prod, clock, owner); // this session used the second factor
});
afterAll(() => prod?.close());

describe('introspection under a second-factor policy', () => {
  it('an ADMIN without a second factor in this session is refused the schema (TWO_FACTOR_REQUIRED, 403, no data); with it, allowed', async () => {
    const admin = await addMember(prod, owner, 'ADMIN');
    // Before the policy: the ADMIN reads the schema.
    expectOk(await prod.gql(SCHEMA, {}, admin.accessToken));
    expectOk(await prod.gql(POLICY, { roles: ['OWNER', 'ADMIN'] }, owner.accessToken));
    for (const query of [SCHEMA, '{ t: __type(name: "Mutation") { fields { name } } }', 'query { ...F } fragment F on Query { __schema { types { name } } }']) {
      const res = await postGraphql(prod.url, { query }, { authorization: `Bearer ${admin.accessToken}` });
      expect(res.status, JSON.stringify(res.json)).toBe(403);
      expect(res.json.errors[0].extensions.code).toBe('TWO_FACTOR_REQUIRED');
      expect(res.json.data ?? null).toBeNull();
      expect(res.text).not.toContain('createSecret');
    }
    // __typename alone is no introspection and stays answered.
    expectOk(await prod.gql('{ __typename }', {}, admin.accessToken));
    // The OWNER's session used the second factor: still allowed.
    const schema = expectOk(await prod.gql<{ __schema: { mutationType: { fields: { name: string }[] } } }>(SCHEMA, {}, owner.accessToken));
    expect(schema.__schema.mutationType.fields.map((f) => f.name)).toContain('createSecret');
    // Once the ADMIN enrols (confirmTotp marks the session), the schema is theirs again.
    await enrol(prod, clock, admin);
    expectOk(await prod.gql(SCHEMA, {}, admin.accessToken));
    expectCode(await prod.gql(SCHEMA, {}, (await addMember(prod, owner, 'USER')).accessToken), 'FORBIDDEN');
  });
});
