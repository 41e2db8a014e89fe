import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { newJwtKeyPem } from '../support/server.js';
import { runCli } from '../support/processes.js';

/** The operator CLI as `npm run cli` runs it: its entry behaviour, independent of any command. */

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('npm run cli usage', () => {
  it('with no command prints the usage to stderr and exits 2', async () => {
    const result = await runCli([]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('no command given');
    expect(result.stderr).toContain('Usage: npm run cli');
    expect(result.stdout).toBe('');
  });

  it('--help prints the usage to stdout and exits 0', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: npm run cli');
  });
});

describe('.env in the working directory', () => {
  it('is read by the CLI, and a variable set in the real environment wins over it', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'coffer-cli-env-'));
    tempDirs.push(cwd);
    const dbName = `t_cli_env_${randomUUID().slice(0, 8)}`;
    const uri = inject('mongoUri').replace(/\/[^/?]*(\?|$)/, `/${dbName}$1`);
    const pem = newJwtKeyPem().replace(/\n/g, '\\n');
    writeFileSync(
      path.join(cwd, '.env'),
      [
        '# as copied from .env.template and filled in',
        'NODE_ENV=production',
        `MONGODB_URI=${uri}`,
        `VAULT_MASTER_KEYS=k1:${randomBytes(32).toString('base64')}`,
        'VAULT_ACTIVE_MASTER_KEY=not-in-the-ring',
        `JWT_PRIVATE_KEY=${pem}`,
        'KEY_RETIRE_GRACE_SECONDS=30',
        '',
      ].join('\n'),
    );
    // The wrong active key in .env is overridden by the real environment.
    const result = await runCli(['rewrap-keys'], { cwd, env: { VAULT_ACTIVE_MASTER_KEY: 'k1' } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`config: read ${path.join(cwd, '.env')}`);
    expect(result.stderr).toMatch(/database: external MongoDB/);
    expect(result.stderr).not.toMatch(/embedded|development keys/);
    // Production: neither development keys nor an embedded database appeared in the default DATA_DIR.
    expect(existsSync(path.join(cwd, '.data')) ? readdirSync(path.join(cwd, '.data')) : []).toEqual([]);
    // Nothing secret from .env reached the output.
    expect(result.stderr + result.stdout).not.toContain('PRIVATE KEY');
  });
});
