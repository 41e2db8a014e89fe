import { statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, signUp, type Signed } from '../support/auth.js';
import { startServer, testEnv, type TestServer } from '../support/server.js';
import { coffer, killCoffers, removeTempDirs, tempDir } from '../cli/support.js';

/**
 * Attack (i11): `coffer run` turns every secret under a prefix into an environment variable of
 * the command it starts, overriding inherited ones. A MANAGER (who may write secrets, not run
 * programs) names a secret `app/prod/node-options` with the value `--import data:...`: every
 * USER, developer laptop or CI job running `coffer run --prefix app/prod/ -- node app.js` then
 * executes the MANAGER's code. Variables that make programs load other code (NODE_OPTIONS,
 * LD_PRELOAD, BASH_ENV, PATH...) are refused unless the runner allows each by name.
 */
let server: TestServer;
let owner: Signed;
let manager: Signed;
let userEnv: Record<string, string>;

beforeAll(async () => {
  server = await startServer(testEnv());
  owner = await signUp(server, 'Cli Loader Co');
  manager = await addMember(server, owner, 'MANAGER');
  userEnv = { XDG_CONFIG_HOME: tempDir('xdg-loader') };
  const login = await coffer(['login', '--url', server.url, '--email', owner.email], { env: userEnv, stdin: `${owner.password}\n` });
  expect(login.code, login.stderr).toBe(0);
});
afterAll(async () => {
  killCoffers();
  removeTempDirs();
  await server?.close();
});

const CREATE = 'mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }';

describe('coffer run and variables that load code', () => {
  it('refuses a secret that maps to NODE_OPTIONS (written by a MANAGER), naming it, and starts nothing; --allow-env NODE_OPTIONS lets it through', async () => {
    const marker = path.join(tempDir('loader'), 'pwned');
    const payload = `--import=data:text/javascript,import('node:fs').then(f=>f.writeFileSync('${marker}','x'))`;
    for (const [name, value] of [['loader/prod/node-options', payload], ['loader/prod/db-url', 'postgres://x']]) {
      const res = await server.gql(CREATE, { i: { name, value } }, manager.accessToken);
      expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    }
    const started = path.join(tempDir('loader-started'), 'started');
    const program = [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(started)}, 'x')`];
    const refused = await coffer(['run', '--prefix', 'loader/prod/', '--', ...program], { env: userEnv });
    expect(refused.code, refused.stderr).not.toBe(0);
    expect(refused.stderr).toContain('loader/prod/node-options');
    expect(refused.stderr).toContain('NODE_OPTIONS');
    expect(refused.stderr).not.toContain('data:text/javascript');
    expect(() => statSync(started)).toThrow();
    expect(() => statSync(marker)).toThrow();

    // The runner who means it allows the variable by name.
    const allowed = await coffer(['run', '--prefix', 'loader/prod/', '--allow-env', 'NODE_OPTIONS', '--', ...program], { env: userEnv });
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(statSync(started).isFile()).toBe(true);
  }, 120_000);

  it('refuses the other loader variables too (LD_PRELOAD, BASH_ENV, PATH, PYTHONPATH, JAVA_TOOL_OPTIONS, DYLD_*)', async () => {
    const cases = [
      ['ld_preload', 'LD_PRELOAD'],
      ['bash-env', 'BASH_ENV'],
      ['path', 'PATH'],
      ['pythonpath', 'PYTHONPATH'],
      ['java-tool-options', 'JAVA_TOOL_OPTIONS'],
      ['dyld-insert-libraries', 'DYLD_INSERT_LIBRARIES'],
    ] as const;
    for (const [i, [leaf, variable]] of cases.entries()) {
      const prefix = `ld${i}/`;
      const res = await server.gql(CREATE, { i: { name: `${prefix}${leaf}`, value: '/tmp/x' } }, manager.accessToken);
      expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
      const refused = await coffer(['run', '--prefix', prefix, '--', process.execPath, '-e', '0'], { env: userEnv });
      expect(refused.code, leaf).not.toBe(0);
      expect(refused.stderr).toContain(variable);
    }
  }, 180_000);
});
