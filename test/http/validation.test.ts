import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCode, expectOk, signUp, STRONG_PASSWORD, uniqueEmail } from '../support/auth.js';
import { startServer, type GraphQLResponse, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => server?.close());

const SIGN_UP = 'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }';

async function counts() {
  const [users, tenants, memberships, sessions, invitations] = await Promise.all(
    ['users', 'tenants', 'memberships', 'sessions', 'invitations'].map((c) => server.db.collection(c).countDocuments()),
  );
  return { users, tenants, memberships, sessions, invitations };
}

describe('bad input gets BAD_USER_INPUT naming the field, and writes nothing', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['missing email', { password: STRONG_PASSWORD, tenantName: 'X' }, 'email'],
    ['email of the wrong type', { email: 42, password: STRONG_PASSWORD, tenantName: 'X' }, 'email'],
    ['malformed email', { email: 'not-an-email', password: STRONG_PASSWORD, tenantName: 'X' }, 'email'],
    ['oversized email', { email: `${'a'.repeat(300)}@example.com`, password: STRONG_PASSWORD, tenantName: 'X' }, 'email'],
    ['oversized password', { email: 'big@example.com', password: 'x'.repeat(5000), tenantName: 'X' }, 'password'],
    ['empty tenant name', { email: 'e@example.com', password: STRONG_PASSWORD, tenantName: '' }, 'tenantName'],
    ['oversized tenant name', { email: 'e@example.com', password: STRONG_PASSWORD, tenantName: 'n'.repeat(101) }, 'tenantName'],
    ['blank tenant name', { email: 'e2@example.com', password: STRONG_PASSWORD, tenantName: '    ' }, 'tenantName'],
    ['unknown field', { email: 'e@example.com', password: STRONG_PASSWORD, tenantName: 'X', admin: true }, 'admin'],
  ];
  for (const [label, input, field] of cases) {
    it(`signUp with ${label}`, async () => {
      const before = await counts();
      const res = await server.gql(SIGN_UP, { input });
      expectCode(res, 'BAD_USER_INPUT');
      expect(res.errors![0]!.message).toContain(field);
      expect(res.errors![0]!.extensions.requestId).toBeTruthy();
      expect(await counts()).toEqual(before);
    });
  }

  it('login with a malformed tenantId', async () => {
    const res = await server.gql('mutation($input: LoginInput!) { login(input: $input) { accessToken } }', {
      input: { email: 'x@example.com', password: 'whatever-123', tenantId: 'not a uuid' },
    });
    expectCode(res, 'BAD_USER_INPUT');
    expect(res.errors![0]!.message).toContain('tenantId');
  });

  it('inviteMember with an unknown role and a bad email', async () => {
    const owner = await signUp(server);
    const before = await counts();
    const badRole = await server.gql('mutation { inviteMember(input: { email: "a@example.com", role: SUPERUSER }) { id } }', {}, owner.accessToken);
    expectCode(badRole, 'BAD_USER_INPUT');
    expect(badRole.errors![0]!.message).toContain('SUPERUSER');
    const badEmail = await server.gql('mutation($input: InviteMemberInput!) { inviteMember(input: $input) { id } }', { input: { email: 'nope', role: 'USER' } }, owner.accessToken);
    expectCode(badEmail, 'BAD_USER_INPUT');
    expect(badEmail.errors![0]!.message).toContain('email');
    expect(await counts()).toEqual(before);
  });

  it('acceptInvitation with an oversized token', async () => {
    const res = await server.gql('mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { accessToken } }', {
      input: { token: 'x'.repeat(10_000), password: STRONG_PASSWORD },
    });
    expectCode(res, 'BAD_USER_INPUT');
    expect(res.errors![0]!.message).toContain('token');
  });

  it('a field that does not exist is named in the error', async () => {
    const res = await server.gql('{ me { user { passwordHash } } }');
    expectCode(res, 'BAD_USER_INPUT');
    expect(res.errors![0]!.message).toContain('passwordHash');
  });

  it('a valid sign-up still works after all that', async () => {
    const res = await server.gql(SIGN_UP, { input: { email: uniqueEmail(), password: STRONG_PASSWORD, tenantName: 'Fine' } });
    expectOk(res);
  });
});

describe('variable coercion errors name the field but never echo what was submitted', () => {
  const CREATE = 'mutation($input: CreateSecretInput!) { createSecret(input: $input) { name } }';
  const SET = 'mutation($items: [SetSecretInput!]!) { setSecrets(items: $items) { name } }';
  const INVITE = 'mutation($input: InviteMemberInput!) { inviteMember(input: $input) { id } }';
  const marker = (label: string) => `${label}-${randomUUID()}`;

  function refusedWithout(res: GraphQLResponse, submitted: string[]): string {
    expectCode(res, 'BAD_USER_INPUT');
    expect(res.data ?? undefined).toBeUndefined();
    const body = JSON.stringify(res.errors);
    for (const value of submitted) expect(body).not.toContain(value);
    return res.errors![0]!.message;
  }

  it('createSecret without a name: the missing field is named, the secret value is not echoed', async () => {
    const owner = await signUp(server);
    const value = marker('TOPSECRET-VALUE');
    const message = refusedWithout(await server.gql(CREATE, { input: { value } }, owner.accessToken), [value, 'TOPSECRET']);
    expect(message).toBe('Variable "$input" has an invalid value: Field "name" of required type "String!" was not provided.');
  });

  it('createSecret with a mistyped name or value: the path is named, neither value is echoed', async () => {
    const owner = await signUp(server);
    const value = marker('TOPSECRET-VALUE');
    const badName = refusedWithout(await server.gql(CREATE, { input: { name: [value], value } }, owner.accessToken), [value]);
    expect(badName).toBe('Variable "$input" has an invalid value at "input.name": String cannot represent a non string value');

    const nested = marker('NESTED-SECRET');
    const badValue = refusedWithout(
      await server.gql(CREATE, { input: { name: 'db/password', value: { inner: nested, note: '; at "input.name"' } } }, owner.accessToken),
      [nested, 'db/password'],
    );
    expect(badValue).toBe('Variable "$input" has an invalid value at "input.value": String cannot represent a non string value');

    const notInt = marker('NOT-AN-INT');
    const badInt = refusedWithout(await server.gql(CREATE, { input: { name: 'n', value, maxVersions: notInt } }, owner.accessToken), [notInt, value]);
    expect(badInt).toContain('at "input.maxVersions": Int cannot represent non-integer value');
  });

  it('scalars that quote the value elsewhere in their message (DateTimeISO, JSONObject) are not echoed either', async () => {
    const owner = await signUp(server);
    const value = marker('TOPSECRET-VALUE');
    const date = marker('not-a-date');
    const badDate = refusedWithout(await server.gql(CREATE, { input: { name: 'd', value, expiresAt: date } }, owner.accessToken), [date, value]);
    expect(badDate).toContain('Variable "$input" has an invalid value at "input.expiresAt": ');
    const meta = marker('META-SECRET');
    const badMeta = refusedWithout(await server.gql(CREATE, { input: { name: 'm', value, metadata: meta } }, owner.accessToken), [meta, value]);
    expect(badMeta).toContain('at "input.metadata": JSONObject cannot represent the given value');
  });

  it('setSecrets names the list index of a bad item', async () => {
    const owner = await signUp(server);
    const [first, second] = [marker('FIRST-SECRET'), marker('SECOND-SECRET')];
    const message = refusedWithout(
      await server.gql(SET, { items: [{ name: 'a', value: first }, { name: 'b', value: 7, note: second }] }, owner.accessToken),
      [first, second],
    );
    expect(message).toMatch(/^Variable "\$items" has an invalid value at "items\[1\]\.(value|note)": /);
  });

  it('an unknown enum value is refused without being echoed', async () => {
    const owner = await signUp(server);
    const role = `SUPER_${randomUUID().replaceAll('-', '')}`;
    const message = refusedWithout(await server.gql(INVITE, { input: { email: uniqueEmail(), role } }, owner.accessToken), [role]);
    expect(message).toBe('Variable "$input" has an invalid value at "input.role": Value does not exist in "Role" enum.');
  });

  it('signUp without tenantName or with a mistyped email does not echo the password', async () => {
    const password = marker('Hunter2-Password');
    const missing = refusedWithout(await server.gql(SIGN_UP, { input: { email: uniqueEmail(), password } }), [password]);
    expect(missing).toBe('Variable "$input" has an invalid value: Field "tenantName" of required type "String!" was not provided.');
    const mistyped = refusedWithout(await server.gql(SIGN_UP, { input: { email: { address: 'x@example.com' }, password, tenantName: 'T' } }), [password, 'x@example.com']);
    expect(mistyped).toBe('Variable "$input" has an invalid value at "input.email": String cannot represent a non string value');
  });

  it('the value-free variable errors keep their message', async () => {
    const notProvided = await server.gql(SIGN_UP, {});
    expectCode(notProvided, 'BAD_USER_INPUT');
    expect(notProvided.errors![0]!.message).toBe('Variable "$input" of required type "SignUpInput!" was not provided.');
    const nulled = await server.gql(SIGN_UP, { input: null });
    expectCode(nulled, 'BAD_USER_INPUT');
    expect(nulled.errors![0]!.message).toBe('Variable "$input" of non-null type "SignUpInput!" must not be null.');
  });
});

describe('more than 50 bad variable values (found by the fuzz corpus)', () => {
  it("graphql-js's error limit is BAD_USER_INPUT, not INTERNAL_SERVER_ERROR", async () => {
    const owner = await signUp(server);
    const res = await server.gql('mutation($i: [SetSecretInput!]!) { setSecrets(items: $i) { name } }', { i: Array.from({ length: 60 }, () => 'x') }, owner.accessToken);
    expect(res.status).toBe(400);
    expect(res.errors!.length).toBeGreaterThan(50);
    expect(res.errors!.map((e) => e.extensions.code).filter((code) => code !== 'BAD_USER_INPUT')).toEqual([]);
    expect(res.errors!.at(-1)!.message).toMatch(/^Too many errors processing variables/);
  });
});

describe('validation messages label each field by its real argument', () => {
  it('secrets(filter: { prefix }) names filter.prefix, not input.prefix', async () => {
    const owner = await signUp(server);
    const res = await server.gql('query($f: SecretFilter) { secrets(filter: $f) { totalCount } }', { f: { prefix: 'p'.repeat(300) } }, owner.accessToken);
    expectCode(res, 'BAD_USER_INPUT');
    const error = res.errors![0]!;
    expect(error.message).toMatch(/^filter\.prefix: /);
    expect(error.message).not.toContain('input.');
    expect(error.extensions.field).toBe('filter.prefix');
    expect(error.extensions.fields).toEqual([{ field: 'filter.prefix', message: expect.any(String) }]);
  });

  it('an input argument is still named input, with every failing field listed', async () => {
    const owner = await signUp(server);
    const res = await server.gql('mutation($input: CreateSecretInput!) { createSecret(input: $input) { name } }', {
      input: { name: 'n'.repeat(257), value: 'x'.repeat(64 * 1024 + 1) },
    }, owner.accessToken);
    expectCode(res, 'BAD_USER_INPUT');
    const fields = (res.errors![0]!.extensions.fields as { field: string }[]).map((f) => f.field).sort();
    expect(fields).toEqual(['input.name', 'input.value']);
    expect(res.errors![0]!.message).toContain('input.name: must be at most 256 characters');
  });

  it('an item of a list argument is labelled items[] (the index is not known)', async () => {
    const owner = await signUp(server);
    const res = await server.gql('mutation($items: [SetSecretInput!]!) { setSecrets(items: $items) { name } }', {
      items: [{ name: 'ok', value: 'v' }, { name: 'n'.repeat(257), value: 'v' }],
    }, owner.accessToken);
    expectCode(res, 'BAD_USER_INPUT');
    expect(res.errors![0]!.message).toBe('items[].name: must be at most 256 characters');
    expect(res.errors![0]!.extensions.field).toBe('items[].name');
  });

  it('when an alias hides the field, only the property path is given, never a guessed argument', async () => {
    const owner = await signUp(server);
    // "secrets" is another field's name, whose argument is "filter": it must not be borrowed.
    const res = await server.gql('mutation($input: CreateSecretInput!) { secrets: createSecret(input: $input) { name } }', {
      input: { name: 'n'.repeat(257), value: 'v' },
    }, owner.accessToken);
    expectCode(res, 'BAD_USER_INPUT');
    expect(res.errors![0]!.message).toBe('name: must be at most 256 characters');
    expect(res.errors![0]!.extensions.field).toBe('name');
  });
});

describe('values are not echoed by scalar or literal errors', () => {
  it('a bad DateTime variable, and literals typed into the query, are not quoted back', async () => {
    const owner = await signUp(server);
    const secretish = 'hunter2: TOPSECRET-LITERAL';
    const viaVariable = await server.gql('mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }', { i: { name: 'dt/x', value: 'v', expiresAt: secretish } }, owner.accessToken);
    expectCode(viaVariable, 'BAD_USER_INPUT');
    expect(viaVariable.errors![0]!.message).toContain('expiresAt');
    const viaObject = await server.gql('mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }', { i: { name: 'dt/y', value: 'v', expiresAt: { k: secretish } } }, owner.accessToken);
    const inlineInt = await server.gql(`mutation { createSecret(input: { name: "dt/z", value: "v", maxVersions: "${secretish}" }) { id } }`, {}, owner.accessToken);
    const inlineDate = await server.gql(`mutation { createSecret(input: { name: "dt/w", value: "v", expiresAt: "${secretish}" }) { id } }`, {}, owner.accessToken);
    for (const res of [viaVariable, viaObject, inlineInt, inlineDate]) {
      expectCode(res, 'BAD_USER_INPUT');
      expect(JSON.stringify(res.errors)).not.toContain('hunter2');
      expect(JSON.stringify(res.errors)).not.toContain('TOPSECRET');
    }
  });
  it('a string literal typed where an enum is expected is not quoted back (found by the fuzz corpus)', async () => {
    const owner = await signUp(server);
    const res = await server.gql('mutation { inviteMember(input: { email: "e@example.com", role: "hunter2-TOPSECRET" }) { id } }', {}, owner.accessToken);
    expectCode(res, 'BAD_USER_INPUT');
    expect(res.errors![0]!.message).toBe('Enum "Role" cannot represent the given value.');
    expect(JSON.stringify(res.errors)).not.toContain('hunter2');
  });
});
