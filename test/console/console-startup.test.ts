import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { newJwtKeyPem } from '../support/server.js';
import { killAll, spawnEntry, waitForExit, waitForLog } from '../support/processes.js';

/** The real entry point (`npm start`'s `src/main.ts`) names the console in its start-up line. */

const LISTENING = /^Coffer API listening on (http:\/\/\S+)\/graphql/;
const dirs: string[] = [];

afterAll(() => {
  killAll();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function production(extra: Record<string, string>): Record<string, string> {
  return {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: '0',
    MONGODB_URI: inject('mongoUri').replace(/\/[^/?]*(\?|$)/, `/t_console_${randomUUID().slice(0, 8)}$1`),
    VAULT_MASTER_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    VAULT_ACTIVE_MASTER_KEY: 'k1',
    JWT_PRIVATE_KEY: newJwtKeyPem(),
    ...extra,
  };
}

async function startAndStop(env: Record<string, string>): Promise<{ line: string; base: string; consoleStatus: number }> {
  const cwd = mkdtempSync(path.join(tmpdir(), 'coffer-console-start-'));
  dirs.push(cwd);
  const run = spawnEntry('src/main.ts', [], { env, cwd });
  const listening = await waitForLog(run, LISTENING, 120_000);
  const base = LISTENING.exec(listening.msg!)![1]!;
  const consoleStatus = (await fetch(`${base}/console`)).status;
  run.child.kill('SIGTERM');
  expect(await waitForExit(run, 20_000)).toEqual({ code: 0, signal: null });
  return { line: listening.msg!, base, consoleStatus };
}

describe('start-up line', () => {
  it('names the admin console in production (on by default, Sandbox off), and not when CONSOLE_ENABLED=false', async () => {
    const on = await startAndStop(production({}));
    expect(on.line).toBe(`Coffer API listening on ${on.base}/graphql; admin console (no internet needed) at ${on.base}/console`);
    expect(on.consoleStatus).toBe(200);

    const off = await startAndStop(production({ CONSOLE_ENABLED: 'false' }));
    expect(off.line).toBe(`Coffer API listening on ${off.base}/graphql`);
    expect(off.consoleStatus).toBe(404);
  }, 300_000);
});
