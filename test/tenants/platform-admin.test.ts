import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject, afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCode, expectOk, login, signUp, uniqueEmail } from '../support/auth.js';
import { startServer, testEnv, type TestServer } from '../support/server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ADMIN_PASSWORD = 'cobalt-Orchard-whistle-58';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => server?.close());

/** Runs the real CLI (`npm run cli -- bootstrap-admin`) against this test's database. */
function runCli(args: string[], stdin: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const uri = inject('mongoUri').replace(/\/[^/?]*(\?|$)/, `/${server.db.databaseName}$1`);
  return new Promise((resolve) => {
    const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['src/cli/index.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...testEnv({ MONGODB_URI: uri, MONGODB_DB_NAME: server.db.databaseName }) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

describe('bootstrap-admin CLI', () => {
  it('creates a platform administrator who can log in without any tenant', async () => {
    const email = uniqueEmail('root');
    const result = await runCli(['bootstrap-admin', '--email', email], `${ADMIN_PASSWORD}\n`);
    expect(result.stderr).not.toContain(ADMIN_PASSWORD);
    expect(result.stdout).not.toContain(ADMIN_PASSWORD);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('created platform administrator');
    const payload = expectOk(await login(server, email, ADMIN_PASSWORD)).login;
    expect(payload.tenant).toBeNull();
    const me = expectOk(await server.gql<{ me: { platformAdmin: boolean; tenant: unknown } }>('{ me { platformAdmin tenant { id } } }', {}, payload.accessToken)).me;
    expect(me).toEqual({ platformAdmin: true, tenant: null });
  }, 60_000);

  it('promotes an existing account without touching its password', async () => {
    const user = await signUp(server);
    const result = await runCli(['bootstrap-admin', '--email', user.email], '');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('promoted');
    const payload = expectOk(await login(server, user.email, user.password)).login;
    const me = expectOk(await server.gql<{ me: { platformAdmin: boolean } }>('{ me { platformAdmin } }', {}, payload.accessToken)).me;
    expect(me.platformAdmin).toBe(true);
  }, 60_000);

  it('refuses a weak password and a missing email, creating nothing', async () => {
    const email = uniqueEmail('weak');
    const weak = await runCli(['bootstrap-admin', '--email', email], 'password1234\n');
    expect(weak.code).not.toBe(0);
    expect(weak.stderr).toContain('too common');
    expect(await server.db.collection('users').countDocuments({ email })).toBe(0);
    const missing = await runCli(['bootstrap-admin'], '');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--email');
  }, 60_000);
});

describe('tenant administration', () => {
  async function admin() {
    const email = uniqueEmail('padmin');
    const result = await runCli(['bootstrap-admin', '--email', email], `${ADMIN_PASSWORD}\n`);
    expect(result.code, result.stderr).toBe(0);
    return expectOk(await login(server, email, ADMIN_PASSWORD)).login.accessToken;
  }

  it('lists tenants, and suspending one stops its tokens and logins until reactivated', async () => {
    const token = await admin();
    const owner = await signUp(server, 'Suspendable');
    const list = expectOk(await server.gql<{ tenants: { id: string; status: string }[] }>('{ tenants { id name slug status createdAt } }', {}, token)).tenants;
    expect(list.find((t) => t.id === owner.tenantId)?.status).toBe('ACTIVE');

    expectOk(await server.gql('{ members { role } }', {}, owner.accessToken));
    const suspended = expectOk(await server.gql<{ suspendTenant: { status: string } }>('mutation($id: ID!) { suspendTenant(id: $id) { status } }', { id: owner.tenantId }, token));
    expect(suspended.suspendTenant.status).toBe('SUSPENDED');
    expectCode(await server.gql('{ members { role } }', {}, owner.accessToken), 'UNAUTHENTICATED');
    expectCode(await login(server, owner.email, owner.password), 'FORBIDDEN');
    expectCode(
      await server.gql('mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }', { t: owner.refreshToken }),
      'UNAUTHENTICATED',
    );

    expectOk(await server.gql('mutation($id: ID!) { reactivateTenant(id: $id) { status } }', { id: owner.tenantId }, token));
    expectOk(await login(server, owner.email, owner.password));
  }, 60_000);

  it('reads and verifies the platform audit chain (failed logins, lockouts); tenant owners cannot', async () => {
    const token = await admin();
    const victim = await signUp(server, 'Targeted');
    await login(server, victim.email, 'wrong-password-123');
    const Q = '{ platformAuditEvents(filter: { action: AUTH_LOGIN_FAILED }, first: 50) { edges { node { action outcome resource { id } } } } verifyPlatformAuditLog { valid } }';
    const res = expectOk(await server.gql<{ platformAuditEvents: { edges: { node: { resource: { id: string } } }[] }; verifyPlatformAuditLog: { valid: boolean } }>(Q, {}, token));
    expect(res.platformAuditEvents.edges.some((e) => e.node.resource.id === victim.userId)).toBe(true);
    expect(res.verifyPlatformAuditLog.valid).toBe(true);
    expectCode(await server.gql(Q, {}, victim.accessToken), 'FORBIDDEN');
  }, 60_000);

  it('answers NOT_FOUND for an unknown tenant id', async () => {
    const token = await admin();
    expectCode(await server.gql('mutation($id: ID!) { suspendTenant(id: $id) { id } }', { id: 'no-such-tenant' }, token), 'NOT_FOUND');
  }, 60_000);
});
