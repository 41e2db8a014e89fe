import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { expectOk, signUp, STRONG_PASSWORD, uniqueEmail } from '../support/auth.js';
import { postGraphql } from '../support/http.js';
import { newJwtKeyPem, startServer, type TestServer } from '../support/server.js';
import { killAll, output, ROOT, spawnEntry, waitForExit, waitForLog, type Spawned } from '../support/processes.js';

/**
 * The real entry point, `tsx src/main.ts`, as `npm start` runs it: no MONGODB_URI,
 * so it resolves an embedded database that keeps its data under DATA_DIR.
 */

const LISTEN_TIMEOUT_MS = 120_000;
const EXIT_TIMEOUT_MS = 20_000;
const tempDirs: string[] = [];

/** `node --import tsx src/main.ts` as `npm start` runs it, in `cwd` (the project root unless given). */
function start(env: Record<string, string>, cwd = ROOT): Spawned {
  // Only what the brief's user would have: no MONGODB_URI, no keys.
  return spawnEntry('src/main.ts', [], { env, cwd });
}

afterAll(async () => {
  killAll();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function devEnv(dataDir: string): Record<string, string> {
  return { NODE_ENV: 'development', PORT: '0', DATA_DIR: dataDir };
}

async function gql(base: string, query: string, variables: Record<string, unknown> = {}, token?: string) {
  const res = await postGraphql(base, { query, variables }, token ? { authorization: `Bearer ${token}` } : {});
  return { status: res.status, headers: res.headers, ...(res.json as object) } as {
    status: number;
    headers: Headers;
    data?: any;
    errors?: { message: string; extensions: { code: string } }[];
  };
}

const LISTENING = /^Coffer API listening on (http:\/\/\S+)\/graphql/;

describe('npm start with no configuration (embedded database under DATA_DIR)', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-startup-'));
  tempDirs.push(dataDir);
  const email = uniqueEmail('startup');
  let firstUserId: string;

  it(
    'starts, logs one credential-free database line, serves signUp and me, and stops cleanly on SIGTERM',
    async () => {
      const run = start(devEnv(dataDir));
      const listening = await waitForLog(run, LISTENING, LISTEN_TIMEOUT_MS);
      const base = LISTENING.exec(listening.msg!)![1]!;
      expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(base).not.toMatch(/:4000$/);

      const databaseLines = run.lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('database: '));
      expect(databaseLines, output(run)).toHaveLength(1);
      const databaseLine = databaseLines[0]!.msg!;
      expect(databaseLine).toMatch(/embedded|mongod/);
      expect(databaseLine).not.toContain('@');
      expect(databaseLine).not.toMatch(/password|secret/i);
      expect(databaseLine).toContain(dataDir); // persistent, under DATA_DIR

      // Development keys were generated into DATA_DIR, with a warning, and never logged.
      const devKeys = path.join(dataDir, 'dev-keys.json');
      expect(existsSync(devKeys)).toBe(true);
      expect(statSync(devKeys).mode & 0o777).toBe(0o600);
      expect(run.lines.some((l) => l.msg?.includes('generated development keys'))).toBe(true);
      const keys = JSON.parse(readFileSync(devKeys, 'utf8')) as { jwtPrivateKey: string; vaultMasterKeys: string };
      const allOutput = output(run);
      expect(allOutput).not.toContain(keys.vaultMasterKeys.split(':')[1]);
      expect(allOutput).not.toContain('PRIVATE KEY');

      // While running, the CLI can find the embedded database.
      const embedded = path.join(dataDir, 'embedded-database.json');
      expect(existsSync(embedded)).toBe(true);
      expect(statSync(embedded).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(embedded, 'utf8'))).toMatchObject({ uri: expect.stringMatching(/^mongodb:\/\//) });

      const signed = await gql(
        base,
        'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken user { id email } } }',
        { input: { email, password: STRONG_PASSWORD, tenantName: 'Startup Co' } },
      );
      expect(signed.errors, JSON.stringify(signed.errors)).toBeUndefined();
      firstUserId = signed.data.signUp.user.id;
      const me = await gql(base, '{ me { user { id email } role } }', {}, signed.data.signUp.accessToken);
      expect(me.errors).toBeUndefined();
      expect(me.data.me).toEqual({ user: { id: firstUserId, email }, role: 'OWNER' });
      // Tokens and passwords never reach the logs.
      expect(output(run)).not.toContain(signed.data.signUp.accessToken);
      expect(output(run)).not.toContain(STRONG_PASSWORD);

      run.child.kill('SIGTERM');
      const exit = await waitForExit(run, EXIT_TIMEOUT_MS);
      expect(exit, output(run)).toEqual({ code: 0, signal: null });
      expect(run.lines.some((l) => l.msg === 'shutdown complete')).toBe(true);
      expect(existsSync(embedded)).toBe(false);
    },
    LISTEN_TIMEOUT_MS + 60_000,
  );

  it(
    'starts again on the same DATA_DIR with the same keys and data: the same credentials log in',
    async () => {
      expect(firstUserId, 'the first start must have succeeded').toBeDefined();
      const keysBefore = readFileSync(path.join(dataDir, 'dev-keys.json'), 'utf8');
      const run = start(devEnv(dataDir));
      const listening = await waitForLog(run, LISTENING, LISTEN_TIMEOUT_MS);
      const base = LISTENING.exec(listening.msg!)![1]!;
      expect(run.lines.some((l) => l.msg?.includes('using development keys'))).toBe(true);
      expect(readFileSync(path.join(dataDir, 'dev-keys.json'), 'utf8')).toBe(keysBefore);

      const logged = await gql(base, 'mutation($input: LoginInput!) { login(input: $input) { accessToken user { id } } }', {
        input: { email, password: STRONG_PASSWORD },
      });
      expect(logged.errors, JSON.stringify(logged.errors)).toBeUndefined();
      expect(logged.data.login.user.id).toBe(firstUserId);
      const me = await gql(base, '{ me { user { email } } }', {}, logged.data.login.accessToken);
      expect(me.data?.me.user.email).toBe(email);

      // Signing up the same email again is a conflict: the old account really is there.
      const again = await gql(base, 'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }', {
        input: { email, password: STRONG_PASSWORD, tenantName: 'Startup Co' },
      });
      expect(again.errors?.[0]?.extensions.code).toBe('CONFLICT');

      run.child.kill('SIGTERM');
      const exit = await waitForExit(run, EXIT_TIMEOUT_MS);
      expect(exit, output(run)).toEqual({ code: 0, signal: null });
      expect(existsSync(path.join(dataDir, 'embedded-database.json'))).toBe(false);
    },
    LISTEN_TIMEOUT_MS + 60_000,
  );
});

describe('two processes on one DATA_DIR', () => {
  it(
    'the second attaches to the owner\'s embedded database; only the owner removes embedded-database.json; SIGKILL of the owner leaves no engine running, and the next start takes over',
    async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-startup-two-'));
      tempDirs.push(dataDir);
      const announcement = path.join(dataDir, 'embedded-database.json');
      const owner = start(devEnv(dataDir));
      const ownerBase = LISTENING.exec((await waitForLog(owner, LISTENING, LISTEN_TIMEOUT_MS)).msg!)![1]!;
      const announced = JSON.parse(readFileSync(announcement, 'utf8')) as { uri: string; pid: number; enginePid?: number };
      expect(readFileSync(path.join(dataDir, 'embedded-database.lock'), 'utf8').trim()).toBe(String(announced.pid));

      // `PORT=4001 npm start` beside it: attaches instead of opening the same files a second time.
      const second = start(devEnv(dataDir));
      const secondBase = LISTENING.exec((await waitForLog(second, LISTENING, LISTEN_TIMEOUT_MS)).msg!)![1]!;
      const databaseLines = second.lines.filter((l) => l.msg?.startsWith('database: ')).map((l) => l.msg!);
      expect(databaseLines, output(second)).toEqual([expect.stringMatching(new RegExp(`^database: the embedded database of process ${announced.pid}, which owns DATA_DIR .* \\(attached`))]);
      expect(databaseLines[0]).toContain(announced.uri);
      expect(output(second)).not.toMatch(/FerretDB|mongod via/);

      // One database: signed up through one, logged in through the other.
      const email = uniqueEmail('two');
      const signed = await gql(secondBase, 'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }', {
        input: { email, password: STRONG_PASSWORD, tenantName: 'Two Co' },
      });
      expect(signed.errors, JSON.stringify(signed.errors)).toBeUndefined();
      const logged = await gql(ownerBase, 'mutation($input: LoginInput!) { login(input: $input) { accessToken } }', {
        input: { email, password: STRONG_PASSWORD },
      });
      expect(logged.errors, JSON.stringify(logged.errors)).toBeUndefined();

      // The attached process stops without touching the owner's announcement or database.
      second.child.kill('SIGTERM');
      expect(await waitForExit(second, EXIT_TIMEOUT_MS)).toEqual({ code: 0, signal: null });
      expect(JSON.parse(readFileSync(announcement, 'utf8'))).toEqual(announced);
      expect((await gql(ownerBase, '{ __typename }')).data).toEqual({ __typename: 'Query' });

      // SIGKILL of the owner (the node process itself, no chance to clean up): its engine follows.
      const alive = (pid: number) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      process.kill(announced.pid, 'SIGKILL');
      await waitForExit(owner, EXIT_TIMEOUT_MS);
      if (announced.enginePid !== undefined) {
        const deadline = Date.now() + 15_000;
        while (alive(announced.enginePid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        expect(alive(announced.enginePid), 'the embedded engine outlived its owner').toBe(false);
      }

      // The stale lock and announcement do not stop the next start: it takes over, with the data.
      const next = start(devEnv(dataDir));
      const nextBase = LISTENING.exec((await waitForLog(next, LISTENING, LISTEN_TIMEOUT_MS)).msg!)![1]!;
      expect(next.lines.some((l) => l.msg?.startsWith('database: embedded') || l.msg?.startsWith('database: mongod')), output(next)).toBe(true);
      const again = await gql(nextBase, 'mutation($input: LoginInput!) { login(input: $input) { accessToken } }', {
        input: { email, password: STRONG_PASSWORD },
      });
      expect(again.errors, JSON.stringify(again.errors)).toBeUndefined();
      next.child.kill('SIGTERM');
      expect(await waitForExit(next, EXIT_TIMEOUT_MS)).toEqual({ code: 0, signal: null });
      expect(existsSync(announcement)).toBe(false);
      expect(existsSync(path.join(dataDir, 'embedded-database.lock'))).toBe(false);
    },
    3 * LISTEN_TIMEOUT_MS,
  );
});

describe('production without configuration', () => {
  it('exits non-zero quickly, naming MONGODB_URI, VAULT_MASTER_KEYS and JWT_PRIVATE_KEY', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-startup-prod-'));
    tempDirs.push(dataDir);
    const run = start({ NODE_ENV: 'production', PORT: '0', DATA_DIR: dataDir });
    const exit = await waitForExit(run, EXIT_TIMEOUT_MS);
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    const text = output(run);
    for (const name of ['MONGODB_URI', 'VAULT_MASTER_KEYS', 'VAULT_ACTIVE_MASTER_KEY', 'JWT_PRIVATE_KEY']) {
      expect(text).toContain(name);
    }
    expect(text).not.toMatch(/listening/i);
    expect(existsSync(path.join(dataDir, 'dev-keys.json'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'ferretdb'))).toBe(false);
  });
});

describe('.env in the working directory (README: fill .env from .env.template, then start)', () => {
  function projectWithEnv(lines: string[]): string {
    const cwd = mkdtempSync(path.join(tmpdir(), 'coffer-startup-env-'));
    tempDirs.push(cwd);
    writeFileSync(path.join(cwd, '.env'), `${lines.join('\n')}\n`, { mode: 0o600 });
    return cwd;
  }
  const noLocalState = (cwd: string) => (existsSync(path.join(cwd, '.data')) ? readdirSync(path.join(cwd, '.data')) : []);

  it('NODE_ENV=production in .env is production: without MONGODB_URI it refuses, no development keys, no embedded database', async () => {
    const cwd = projectWithEnv(['NODE_ENV=production', 'PORT=0', 'MONGODB_URI=', 'JWT_PRIVATE_KEY=']);
    const run = start({}, cwd);
    const exit = await waitForExit(run, EXIT_TIMEOUT_MS);
    expect(exit.code, output(run)).toBe(1);
    const text = output(run);
    expect(text).toContain('MONGODB_URI: required in production');
    expect(text).not.toMatch(/listening|embedded|FerretDB|development keys/i);
    expect(noLocalState(cwd)).toEqual([]);
  });

  it('a filled-in .env serves in production on its MONGODB_URI; the real environment wins over .env', async () => {
    const dbName = `t_dotenv_${randomUUID().slice(0, 8)}`;
    const uri = inject('mongoUri').replace(/\/[^/?]*(\?|$)/, `/${dbName}$1`);
    const cwd = projectWithEnv([
      'NODE_ENV=production',
      'HOST=127.0.0.1',
      'PORT=1',
      `MONGODB_URI=${uri}`,
      `VAULT_MASTER_KEYS=k1:${randomBytes(32).toString('base64')}`,
      'VAULT_ACTIVE_MASTER_KEY=k1',
      `JWT_PRIVATE_KEY=${newJwtKeyPem().replace(/\n/g, '\\n')}`,
      'SANDBOX_ENABLED=',
      'SIGNUP_MODE=open',
    ]);
    const run = start({ PORT: '0' }, cwd); // PORT=1 in .env would fail to bind: the environment's 0 wins
    const listening = await waitForLog(run, LISTENING, LISTEN_TIMEOUT_MS);
    const base = LISTENING.exec(listening.msg!)![1]!;
    expect(run.lines.some((l) => l.msg === `config: read ${path.join(cwd, '.env')} (variables set in the environment take precedence)`)).toBe(true);
    const databaseLine = run.lines.find((l) => l.msg?.startsWith('database: '))!.msg!;
    expect(databaseLine).toMatch(/^database: external MongoDB/);
    expect(listening.msg).not.toContain('Sandbox'); // production: Sandbox off
    const signed = await gql(base, 'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }', {
      input: { email: uniqueEmail('dotenv'), password: STRONG_PASSWORD, tenantName: 'Dotenv Co' },
    });
    expect(signed.errors, JSON.stringify(signed.errors)).toBeUndefined();
    expect(noLocalState(cwd)).toEqual([]);
    expect(output(run)).not.toContain('PRIVATE KEY');
    run.child.kill('SIGTERM');
    expect(await waitForExit(run, EXIT_TIMEOUT_MS)).toEqual({ code: 0, signal: null });
  }, LISTEN_TIMEOUT_MS);
});

describe('restarting on an initialised database (in process)', () => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const s of servers.reverse()) await s.close().catch(() => {});
  });

  it('the app starts again on a database it already initialised (index creation is idempotent)', async () => {
    const dbName = `t_restart_${randomUUID().slice(0, 8)}`;
    const first = await startServer({}, dbName);
    servers.push(first);
    const owner = await signUp(first, 'Restart Co');
    const second = await startServer({ JWT_PRIVATE_KEY: first.config.jwt.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }, dbName);
    servers.push(second);
    const me = await second.gql<{ me: { user: { id: string } } }>('{ me { user { id } } }', {}, owner.accessToken);
    expect(expectOk(me).me.user.id).toBe(owner.userId);
  });
});
