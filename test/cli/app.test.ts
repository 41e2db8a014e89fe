import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'dotenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, signUp, type Signed } from '../support/auth.js';
import { startServer, testEnv, type TestServer } from '../support/server.js';
import { coffer, killCoffers, removeTempDirs, startCoffer, tempDir, until, type CofferResult } from './support.js';

/** Application commands of the real bin against a real server over HTTP. */
let server: TestServer;
let owner: Signed;
/** XDG_CONFIG_HOME of the logged-in user of this file. */
let home: string;
let userEnv: Record<string, string>;

beforeAll(async () => {
  server = await startServer(testEnv());
  owner = await signUp(server, 'App Co');
  home = tempDir('xdg');
  userEnv = { XDG_CONFIG_HOME: home };
  const login = await coffer(['login', '--url', server.url, '--email', owner.email], { env: userEnv, stdin: `${owner.password}\n` });
  expect(login.code, login.stderr).toBe(0);
});
afterAll(async () => {
  killCoffers();
  removeTempDirs();
  await server?.close();
});

const sessionFile = () => path.join(home, 'coffer', 'session.json');
const value = (label: string) => `${label}-${randomBytes(10).toString('hex')}`;
const ok = (result: CofferResult) => {
  expect(result.code, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(0);
  return result;
};
const set = (name: string, v: string, env = userEnv) => coffer(['secrets', 'set', name], { env, stdin: v });
/** A node one-liner as the command coffer run starts. */
const node = (code: string) => [process.execPath, '-e', code];

describe('coffer login', () => {
  it('stores the session 0600 under XDG_CONFIG_HOME/coffer (directory 0700) and says so; a wrong password stores nothing', async () => {
    const fresh = tempDir('xdg-login');
    const result = ok(await coffer(['login', '--url', `${server.url}/`, '--email', owner.email], { env: { XDG_CONFIG_HOME: fresh }, stdin: `${owner.password}\n` }));
    const file = path.join(fresh, 'coffer', 'session.json');
    expect(result.stdout).toBe(`logged in to ${server.url} as ${owner.email} (tenant App Co, id ${owner.tenantId}); session stored in ${file}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    expect(stored).toMatchObject({ url: server.url, email: owner.email, tenantId: owner.tenantId });
    expect(JSON.stringify(stored)).not.toContain(owner.password);
    expect(result.stdout + result.stderr).not.toContain(owner.password);

    // HOME/.config/coffer without XDG_CONFIG_HOME.
    const homeDir = tempDir('home');
    ok(await coffer(['login', '--url', server.url, '--email', owner.email], { env: { HOME: homeDir }, stdin: `${owner.password}\n` }));
    expect(statSync(path.join(homeDir, '.config', 'coffer', 'session.json')).mode & 0o777).toBe(0o600);

    const other = tempDir('xdg-wrong');
    const wrong = await coffer(['login', '--url', server.url, '--email', owner.email], { env: { XDG_CONFIG_HOME: other }, stdin: 'not-the-password-at-all\n' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('UNAUTHENTICATED');
    expect(() => statSync(path.join(other, 'coffer', 'session.json'))).toThrow();
    const noUrl = await coffer(['login', '--email', owner.email], { env: { XDG_CONFIG_HOME: other }, stdin: 'x\n' });
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain('--url is required (or COFFER_URL)');
  }, 60_000);

  it('refreshes an expired access token (rotating the stored refresh token), and a rejected one once', async () => {
    // A session of its own: the end of this test revokes it.
    const env = { XDG_CONFIG_HOME: tempDir('xdg-refresh') };
    const file = path.join(env.XDG_CONFIG_HOME, 'coffer', 'session.json');
    ok(await coffer(['login', '--url', server.url, '--email', owner.email], { env, stdin: `${owner.password}\n` }));
    ok(await set('refresh/probe', 'refresh-value-1', env));
    const before = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    writeFileSync(file, JSON.stringify({ ...before, accessTokenExpiresAt: new Date(Date.now() - 1000).toISOString() }), { mode: 0o600 });
    const list = ok(await coffer(['secrets', 'list', '--prefix', 'refresh/'], { env }));
    expect(list.stdout).toBe('refresh/probe\n');
    const after = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(Date.parse(after.accessTokenExpiresAt!)).toBeGreaterThan(Date.now());
    expect(statSync(file).mode & 0o777).toBe(0o600);

    // A token the server refuses (here: garbage) is refreshed once and the request repeated.
    writeFileSync(file, JSON.stringify({ ...after, accessToken: 'not.a.token' }), { mode: 0o600 });
    ok(await coffer(['secrets', 'list', '--prefix', 'refresh/'], { env }));
    const third = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    expect(third.refreshToken).not.toBe(after.refreshToken);
    // The old refresh token was used up: the server refused a second use (and the CLI never presented it again).
    const reuse = await server.gql('mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }', { t: before.refreshToken });
    expect(reuse.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    // That reuse revoked the session: the CLI says to log in again.
    const ended = await coffer(['secrets', 'list'], { env });
    expect(ended.code).toBe(1);
    expect(ended.stderr).toContain(`UNAUTHENTICATED: the session of ${owner.email} has ended: run coffer login again`);
  }, 60_000);
});

describe('coffer login: concurrent commands', () => {
  it('four commands finding the access token expired refresh once between them (a lock), so the session survives', async () => {
    const env = { XDG_CONFIG_HOME: tempDir('xdg-concurrent') };
    const file = path.join(env.XDG_CONFIG_HOME, 'coffer', 'session.json');
    ok(await coffer(['login', '--url', server.url, '--email', owner.email], { env, stdin: `${owner.password}\n` }));
    const before = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    writeFileSync(file, JSON.stringify({ ...before, accessTokenExpiresAt: new Date(Date.now() - 1000).toISOString() }), { mode: 0o600 });
    // Spending one single-use refresh token twice would make the server revoke the session.
    const results = await Promise.all(Array.from({ length: 4 }, () => coffer(['secrets', 'list'], { env })));
    for (const result of results) ok(result);
    ok(await coffer(['secrets', 'list'], { env }));
    const after = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(() => statSync(`${file}.lock`)).toThrow();
  }, 60_000);
});

describe('coffer secrets', () => {
  it('set (stdin) / get / list / delete: values only on get\'s stdout, exactly', async () => {
    const v1 = value('postgres://u:p@db/app');
    const created = ok(await set('app/prod/db-url', `${v1}\n`));
    expect(created.stdout).toBe('created app/prod/db-url (version 1)\n');
    expect(ok(await coffer(['secrets', 'get', 'app/prod/db-url'], { env: userEnv })).stdout).toBe(v1);
    const v2 = `${value('multi')}\nline two\n`;
    const updated = ok(await set('app/prod/db-url', `${v2}\n`));
    expect(updated.stdout).toBe('updated app/prod/db-url (version 2)\n');
    expect(ok(await coffer(['secrets', 'get', 'app/prod/db-url'], { env: userEnv })).stdout).toBe(v2);
    expect(ok(await coffer(['secrets', 'get', 'app/prod/db-url', '--version', '1'], { env: userEnv })).stdout).toBe(v1);
    ok(await set('app/prod/api-token', value('tok')));
    ok(await set('app/other/x', value('other')));

    expect(ok(await coffer(['secrets', 'list', '--prefix', 'app/prod/'], { env: userEnv })).stdout).toBe('app/prod/api-token\napp/prod/db-url\n');
    const long = ok(await coffer(['secrets', 'list', '--prefix', 'app/prod/', '--long'], { env: userEnv }));
    expect(long.stdout).toMatch(/^app\/prod\/api-token\t1\tACTIVE\t\S+\napp\/prod\/db-url\t2\tACTIVE\t\S+\n$/);

    const missing = await coffer(['secrets', 'get', 'app/prod/nope'], { env: userEnv });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toBe('coffer secrets get: NOT_FOUND: secret app/prod/nope not found\n');

    const deleted = ok(await coffer(['secrets', 'delete', 'app/other/x'], { env: userEnv }));
    expect(deleted.stdout).toMatch(/^deleted app\/other\/x \(restorable until \S+\)\n$/);
    expect(ok(await coffer(['secrets', 'list', '--prefix', 'app/other/'], { env: userEnv })).stdout).toBe('');

    const badName = await set('no spaces allowed', 'whatever-value');
    expect(badName.code).toBe(1);
    expect(badName.stderr).toContain('BAD_USER_INPUT');
  }, 120_000);

  it('import FILE.env and export --format dotenv|json round-trip values, quotes and line breaks included', async () => {
    const file = path.join(tempDir('import'), 'prod.env');
    const values = { PLAIN: value('plain'), QUOTED: `it's "quoted" #not-a-comment ${value('q')}`, MULTI: `-----BEGIN-----\n${value('m')}\n-----END-----` };
    writeFileSync(file, `# a comment\nPLAIN=${values.PLAIN}\nQUOTED=\`${values.QUOTED}\`\nMULTI="${values.MULTI.replace(/\n/g, '\\n')}"\nnot an assignment\n`);
    const imported = await coffer(['secrets', 'import', file, '--prefix', 'imp/'], { env: userEnv });
    expect(imported.code).toBe(1); // line 5 is not an assignment; the others are written
    expect(imported.stdout).toContain('line 2: created imp/PLAIN\n');
    expect(imported.stdout).toContain('line 3: created imp/QUOTED\n');
    expect(imported.stdout).toContain('line 4: created imp/MULTI\n');
    expect(imported.stdout).toMatch(/line 5: failed: BAD_USER_INPUT: /);
    expect(imported.stdout).toContain('imported 3 of 4\n');

    const dotenv = ok(await coffer(['secrets', 'export', '--prefix', 'imp/', '--format', 'dotenv'], { env: userEnv }));
    expect(parse(dotenv.stdout)).toEqual(values);
    const json = ok(await coffer(['secrets', 'export', '--prefix', 'imp/', '--format', 'json'], { env: userEnv }));
    expect(JSON.parse(json.stdout)).toEqual({ 'imp/MULTI': values.MULTI, 'imp/PLAIN': values.PLAIN, 'imp/QUOTED': values.QUOTED });

    // What export wrote imports back to the same values.
    const again = path.join(tempDir('reimport'), 'again.env');
    writeFileSync(again, dotenv.stdout);
    ok(await coffer(['secrets', 'import', again, '--prefix', 'imp2/'], { env: userEnv }));
    expect(JSON.parse(ok(await coffer(['secrets', 'export', '--prefix', 'imp2/', '--format', 'json'], { env: userEnv })).stdout)).toEqual({
      'imp2/MULTI': values.MULTI,
      'imp2/PLAIN': values.PLAIN,
      'imp2/QUOTED': values.QUOTED,
    });
  }, 120_000);
});

describe('coffer run', () => {
  it('starts the command with the secrets as variables (mapped names), without COFFER_API_KEY, and its exit status', async () => {
    ok(await set('run/prod/db-url', 'postgres://run'));
    ok(await set('run/prod/2fa.seed', 'seed-value'));
    ok(await set('run/prod/nested/Api-Key', 'nested-value'));
    const result = ok(
      await coffer(['run', '--prefix', 'run/prod/', '--', ...node('process.stdout.write(JSON.stringify(process.env))')], {
        env: { ...userEnv, INHERITED: 'yes', DB_URL: 'overridden', COFFER_API_KEY: '' },
      }),
    );
    const childEnv = JSON.parse(result.stdout) as Record<string, string>;
    expect(childEnv).toMatchObject({ DB_URL: 'postgres://run', _2FA_SEED: 'seed-value', NESTED_API_KEY: 'nested-value', INHERITED: 'yes' });
    expect(childEnv).not.toHaveProperty('COFFER_API_KEY');

    // Application commands do not read .env (server settings): nothing of it reaches the command.
    const cwd = tempDir('dotenv-cwd');
    writeFileSync(path.join(cwd, '.env'), 'VAULT_MASTER_KEYS=k1:not-for-the-app\nFROM_DOTENV=1\n');
    const inCwd = ok(await coffer(['run', '--prefix', 'run/prod/', '--', ...node('process.stdout.write(JSON.stringify(process.env))')], { env: userEnv, cwd }));
    expect(JSON.parse(inCwd.stdout)).not.toHaveProperty('FROM_DOTENV');
    expect(JSON.parse(inCwd.stdout)).not.toHaveProperty('VAULT_MASTER_KEYS');
    expect(inCwd.stderr).not.toContain('config: read');

    const exit7 = await coffer(['run', '--prefix', 'run/prod/', '--', ...node('process.exit(7)')], { env: userEnv });
    expect(exit7.code).toBe(7);
    const notFound = await coffer(['run', '--prefix', 'run/prod/', '--', 'no-such-command-here'], { env: userEnv });
    expect(notFound.code).toBe(127);
    expect(notFound.stderr).toContain('cannot start no-such-command-here: ENOENT');
    const noPrefix = await coffer(['run', '--', 'true'], { env: userEnv });
    expect(noPrefix.code).toBe(2);
  }, 120_000);

  it('refuses two secrets that map to one name, naming both, and starts nothing', async () => {
    ok(await set('clash/db-url', 'one'));
    ok(await set('clash/db_url', 'two'));
    const marker = path.join(tempDir('clash'), 'started');
    const result = await coffer(['run', '--prefix', 'clash/', '--', ...node(`require('fs').writeFileSync(${JSON.stringify(marker)}, 'x')`)], { env: userEnv });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('secrets clash/db-url and clash/db_url both map to DB_URL');
    expect(() => statSync(marker)).toThrow();
  }, 60_000);

  it('forwards SIGTERM to the command and exits as it does (its status, or 128 + the signal)', async () => {
    const handled = startCoffer(
      ['run', '--prefix', 'run/prod/', '--', ...node("process.on('SIGTERM', () => { console.log('got TERM'); process.exit(3); }); console.log('ready'); setInterval(() => {}, 1000);")],
      { env: userEnv },
    );
    await until(() => handled.out.stdout.includes('ready'), 30_000, 'the child to start');
    process.kill(handled.child.pid!, 'SIGTERM');
    const first = await handled.done;
    expect(first.stdout).toContain('got TERM');
    expect(first.code).toBe(3);

    const killed = startCoffer(['run', '--prefix', 'run/prod/', '--', ...node("console.log('ready'); setInterval(() => {}, 1000);")], { env: userEnv });
    await until(() => killed.out.stdout.includes('ready'), 30_000, 'the child to start');
    process.kill(killed.child.pid!, 'SIGTERM');
    expect((await killed.done).code).toBe(128 + 15);
  }, 60_000);
});

describe('COFFER_API_KEY', () => {
  it('authenticates every command with COFFER_URL (no session needed), limited to the key\'s prefixes', async () => {
    const created = expectOk(
      await server.gql<{ createApiKey: { apiKey: string } }>(
        'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey } }',
        { input: { name: 'ci', role: 'MANAGER', prefixes: ['ci/'] } },
        owner.accessToken,
      ),
    ).createApiKey.apiKey;
    const keyEnv = { COFFER_API_KEY: created, COFFER_URL: server.url, XDG_CONFIG_HOME: tempDir('nosession') };
    const v = value('ci');
    expect(ok(await set('ci/deploy-token', v, keyEnv)).stdout).toBe('created ci/deploy-token (version 1)\n');
    expect(ok(await coffer(['secrets', 'get', 'ci/deploy-token'], { env: keyEnv })).stdout).toBe(v);
    expect(ok(await coffer(['secrets', 'list'], { env: keyEnv })).stdout).toBe('ci/deploy-token\n');
    const run = ok(await coffer(['run', '--prefix', 'ci/', '--', ...node('process.stdout.write(JSON.stringify(process.env))')], { env: keyEnv }));
    const childEnv = JSON.parse(run.stdout) as Record<string, string>;
    expect(childEnv.DEPLOY_TOKEN).toBe(v);
    expect(childEnv).not.toHaveProperty('COFFER_API_KEY');
    // Outside its prefixes the secret does not exist for it.
    expect((await coffer(['secrets', 'get', 'app/prod/db-url'], { env: keyEnv })).code).toBe(1);
    expect((await set('app/prod/db-url', 'x', keyEnv)).code).toBe(1);

    const noUrl = await coffer(['secrets', 'list'], { env: { COFFER_API_KEY: created } });
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain('COFFER_API_KEY is set but COFFER_URL is not');
    const badKey = await coffer(['secrets', 'list'], { env: { ...keyEnv, COFFER_API_KEY: `${created.slice(0, -4)}AAAA` } });
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toContain('UNAUTHENTICATED');
    expect(badKey.stderr).not.toContain(created.slice(0, -4));
    const notLoggedIn = await coffer(['secrets', 'list'], { env: { XDG_CONFIG_HOME: tempDir('none') } });
    expect(notLoggedIn.code).toBe(2);
    expect(notLoggedIn.stderr).toContain('not logged in: run coffer login');
  }, 120_000);
});

describe('values never reach the CLI\'s own output', () => {
  it('every app command except get and export, run with a known value, prints neither it nor the password', async () => {
    const secret = value('NEEDLE');
    const prefix = 'leak/';
    const file = path.join(tempDir('leak'), 'leak.env');
    writeFileSync(file, `LEAK_A=${secret}\nbroken line ${secret}\n`);
    const outputs: CofferResult[] = [];
    const run = async (args: string[], stdin: string | null = null, env = userEnv) => {
      const result = await coffer(args, { env, stdin });
      outputs.push(result);
      return result;
    };
    await run(['secrets', 'set', `${prefix}one`], secret);
    await run(['secrets', 'set', `${prefix}one`], secret); // a second version
    await run(['secrets', 'set', 'bad name with spaces'], secret); // refused by the server
    await run(['secrets', 'set', `${prefix}huge`], `${secret}${'x'.repeat(70_000)}`); // refused: too large
    await run(['secrets', 'import', file, '--prefix', prefix]); // with a malformed line holding the value
    await run(['secrets', 'list', '--prefix', prefix]);
    await run(['secrets', 'list', '--prefix', prefix, '--long']);
    await run(['run', '--prefix', prefix, '--', ...node('')]); // the child prints nothing itself
    await run(['run', '--prefix', prefix, '--', ...node('process.exit(9)')]);
    await run(['run', '--prefix', prefix, '--', 'no-such-command-here']);
    await run(['secrets', 'set', `${prefix}ONE`], secret); // ONE and one collide as variables
    await run(['run', '--prefix', prefix, '--', ...node('')]);
    await run(['secrets', 'delete', `${prefix}one`]);
    await run(['login', '--url', server.url, '--email', owner.email], `${owner.password}\n`, { XDG_CONFIG_HOME: tempDir('leak-login') });
    await run(['login', '--url', server.url, '--email', owner.email], `${secret}\n`, { XDG_CONFIG_HOME: tempDir('leak-login') }); // a wrong password
    await run(['logout'], null, { XDG_CONFIG_HOME: tempDir('leak-logout') });
    expect(outputs.filter((o) => o.code === 0).length).toBeGreaterThanOrEqual(8);
    expect(outputs.some((o) => o.stderr.includes('both map to ONE'))).toBe(true);
    for (const [i, o] of outputs.entries()) {
      expect(o.stdout + o.stderr, `command ${i}`).not.toContain(secret.slice(7));
      expect(o.stdout + o.stderr, `command ${i}`).not.toContain(owner.password);
    }
    // get, for contrast, does print it.
    expect((await coffer(['secrets', 'get', `${prefix}LEAK_A`], { env: userEnv })).stdout).toBe(secret);
  }, 240_000);
});

describe('coffer logout', () => {
  it('ends the session on the server and removes the file; commands then ask for a login', async () => {
    const before = JSON.parse(readFileSync(sessionFile(), 'utf8')) as Record<string, string>;
    const out = ok(await coffer(['logout'], { env: userEnv }));
    expect(out.stdout).toBe(`logged out of ${server.url}; removed ${sessionFile()}\n`);
    expect(() => statSync(sessionFile())).toThrow();
    const refused = await server.gql('mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }', { t: before.refreshToken });
    expect(refused.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    const after = await coffer(['secrets', 'list'], { env: userEnv });
    expect(after.code).toBe(2);
  }, 60_000);
});
