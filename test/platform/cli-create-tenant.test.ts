import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectCode, expectOk, login, signUp, STRONG_PASSWORD, uniqueEmail } from '../support/auth.js';
import { newJwtKeyPem, startServer, type TestServer } from '../support/server.js';
import { runCli } from '../support/processes.js';

/** Provisioning tenants where sign-up is closed: `npm run cli -- create-tenant`. */

const dbName = `t_provision_${randomUUID().slice(0, 8)}`;
const keys = {
  VAULT_MASTER_KEYS: `p1:${randomBytes(32).toString('base64')}`,
  VAULT_ACTIVE_MASTER_KEY: 'p1',
  JWT_PRIVATE_KEY: newJwtKeyPem(),
};

/** `npm run cli -- create-tenant …` against this file's database, with `stdin` (a password) or none. */
function createTenant(args: string[], stdin: string | null) {
  return runCli(['create-tenant', ...args], {
    cwd: tmpdir(),
    env: { NODE_ENV: 'test', MONGODB_URI: inject('mongoUri').replace(/\/[^/?]*(\?|$)/, `/${dbName}$1`), LOG_LEVEL: 'warn', ...keys },
    stdin,
  });
}

describe('create-tenant: organisations on an invite-only server', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ SIGNUP_MODE: 'invite-only', ...keys }, dbName);
  });
  afterAll(async () => server?.close());

  it('creates the tenant and a new OWNER account (password from stdin) who then logs in over HTTP', async () => {
    const email = uniqueEmail('founder');
    const refused = await server.gql('mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }', { i: { email, password: STRONG_PASSWORD, tenantName: 'Nope' } });
    expectCode(refused, 'FORBIDDEN');

    const result = await createTenant(['--name', 'Founders Ltd', '--owner-email', email], `${STRONG_PASSWORD}\n`);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^created tenant Founders Ltd \(id [\w-]+, slug founders-ltd\S*\) owned by .+ \(new account\)\n$/);
    expect(result.stdout + result.stderr).not.toContain(STRONG_PASSWORD);

    const signed = expectOk(await login(server, email, STRONG_PASSWORD)).login;
    expect(signed.role).toBe('OWNER');
    expect(signed.tenant?.name).toBe('Founders Ltd');
    const event = await server.db.collection('audit_events').findOne({ action: 'tenant.provisioned', tenantId: signed.tenant!.id });
    expect(event).toMatchObject({ actor: { type: 'SYSTEM', id: 'cli:create-tenant' }, details: { ownerId: signed.user.id, newAccount: true } });
  });

  it('makes an existing account the OWNER of a second tenant without asking for its password', async () => {
    const open = await startServer({ ...keys }, dbName); // the same database, sign-up open: an existing account
    try {
      const existing = await signUp(open, 'First Co');
      const result = await createTenant(['--name', 'Second Co', '--owner-email', existing.email], null);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('(existing account)');
      const member = expectOk(await server.gql<{ me: { memberships: { role: string; tenant: { name: string } }[] } }>('{ me { memberships { role tenant { name } } } }', {}, existing.accessToken));
      expect(member.me.memberships).toEqual(expect.arrayContaining([{ role: 'OWNER', tenant: { name: 'Second Co' } }]));
    } finally {
      await open.close();
    }
  });

  it('refuses missing options, a bad email and a weak password with exit 2, creating nothing', async () => {
    const before = await server.db.collection('tenants').countDocuments();
    const usersBefore = await server.db.collection('users').countDocuments();
    const missing = await createTenant(['--name', 'X'], null);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--owner-email is required');
    const badEmail = await createTenant(['--name', 'X', '--owner-email', 'not-an-email'], null);
    expect(badEmail.code).toBe(2);
    expect(badEmail.stderr).toContain('ownerEmail: must be an email address');
    const weak = await createTenant(['--name', 'X', '--owner-email', uniqueEmail('weak')], 'password\n');
    expect(weak.code).toBe(2);
    expect(weak.stderr).toMatch(/password: /);
    expect(weak.stderr).not.toContain('password\n\n');
    expect(await server.db.collection('tenants').countDocuments()).toBe(before);
    expect(await server.db.collection('users').countDocuments()).toBe(usersBefore);
  });
});
