import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, type Signed } from '../support/auth.js';
import { ROOT } from '../support/processes.js';
import { startServer, testEnv, type TestServer } from '../support/server.js';
import { BIN, databaseEnv, removeTempDirs, tempDir, until } from './support.js';

/**
 * The CLI on a terminal: `script` (util-linux) gives it a pseudo-terminal, as a person's shell
 * would. Skipped where `script` is missing.
 */
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const env = testEnv();
let server: TestServer;
let owner: Signed;

beforeAll(async () => {
  server = await startServer(env);
  owner = await signUp(server, 'Terminal Co');
});
afterAll(async () => {
  removeTempDirs();
  await server?.close();
});

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** `coffer <args>` on a pseudo-terminal; `answer` is typed once `prompt` shows. Everything the terminal showed comes back. */
async function onTerminal(args: string[], childEnv: Record<string, string>, answer?: { prompt: string; text: string }) {
  const command = [process.execPath, BIN, ...args].map(quote).join(' ');
  const child = spawn('script', ['-qefc', `exec ${command}`, '/dev/null'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TERM: 'xterm', ...childEnv },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let shown = '';
  child.stdout.on('data', (d: Buffer) => (shown += d.toString()));
  child.stderr.on('data', (d: Buffer) => (shown += d.toString()));
  const done = new Promise<number | null>((resolve) => child.on('close', resolve));
  if (answer) {
    await until(() => shown.includes(answer.prompt), 30_000, `the prompt ${answer.prompt}`);
    await new Promise((r) => setTimeout(r, 300)); // the prompt is up: echo is off by now
    child.stdin.write(answer.text === '\x03' ? answer.text : `${answer.text}\r`);
  }
  const code = await done;
  child.stdin.end();
  return { code, shown };
}

describe.skipIf(!hasScript)('on a terminal', () => {
  it('login prompts for the password without echoing it', async () => {
    const home = tempDir('tty-login');
    const { code, shown } = await onTerminal(['login', '--url', server.url, '--email', owner.email], { XDG_CONFIG_HOME: home }, { prompt: 'Password for', text: owner.password });
    expect(code, shown).toBe(0);
    expect(shown).toContain(`Password for ${owner.email} at ${server.url}: `);
    expect(shown).toContain(`logged in to ${server.url} as ${owner.email}`);
    expect(shown).not.toContain(owner.password);
  }, 60_000);

  it('secrets set prompts for the value without echoing it, and get prints it with a line break', async () => {
    const home = tempDir('tty-set');
    const login = await onTerminal(['login', '--url', server.url, '--email', owner.email], { XDG_CONFIG_HOME: home }, { prompt: 'Password for', text: owner.password });
    expect(login.code, login.shown).toBe(0);
    const value = `typed-${randomBytes(8).toString('hex')}`;
    const set = await onTerminal(['secrets', 'set', 'tty/typed'], { XDG_CONFIG_HOME: home }, { prompt: 'Value for tty/typed: ', text: value });
    expect(set.code, set.shown).toBe(0);
    expect(set.shown).toContain('created tty/typed (version 1)');
    expect(set.shown).not.toContain(value);
    const get = await onTerminal(['secrets', 'get', 'tty/typed'], { XDG_CONFIG_HOME: home });
    expect(get.code).toBe(0);
    expect(get.shown).toContain(`${value}\r\n`);
  }, 90_000);

  it('coffer run: Ctrl-C on the terminal reaches the command once (not forwarded a second time), and its status comes back', async () => {
    const apiKey = (
      (await server.gql<{ createApiKey: { apiKey: string } }>(
        'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey } }',
        { input: { name: 'tty', role: 'USER', prefixes: ['*'] } },
        owner.accessToken,
      )).data!
    ).createApiKey.apiKey;
    const script =
      "let n = 0; process.on('SIGINT', () => { n++; console.log('SIGINT ' + n); setTimeout(() => process.exit(5), 500); }); console.log('ready'); setInterval(() => {}, 1000);";
    const { code, shown } = await onTerminal(['run', '--prefix', 'tty/', '--', process.execPath, '-e', script], { COFFER_API_KEY: apiKey, COFFER_URL: server.url }, { prompt: 'ready', text: '\x03' });
    expect(shown).toContain('SIGINT 1');
    expect(shown).not.toContain('SIGINT 2');
    expect(code).toBe(5);
  }, 60_000);

  it('a long command draws a progress bar', async () => {
    const collection = `legacy_${randomBytes(4).toString('hex')}`;
    await server.db.collection(collection).insertMany(Array.from({ length: 30 }, (_, i) => ({ k: `n${i}`, v: `value-${i}` })));
    const { code, shown } = await onTerminal(
      ['migrate-plaintext', '--tenant', owner.tenantId, '--collection', collection, '--name-field', 'k', '--value-field', 'v', '--prefix', 'bar/', '--batch-size', '10'],
      { ...env, ...databaseEnv(server.db.databaseName), MONGODB_DB_NAME: server.db.databaseName },
    );
    expect(code, shown).toBe(0);
    expect(shown).toMatch(/migrate-plaintext documents \[[█░]+\] 30\/30 100%/);
    expect(shown).not.toMatch(/migrate-plaintext documents: \d+\/30\n/);
    expect(shown).toContain('scanned 30, created 30');
  }, 90_000);
});
