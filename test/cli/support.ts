/**
 * The real `coffer` bin (bin/coffer.js, as `npx coffer` and `npm run cli` run it), spawned as
 * its own process with only the environment given (plus PATH and HOME), against a real server
 * or database.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { ROOT } from '../support/processes.js';

export const BIN = path.join(ROOT, 'bin', 'coffer.js');

export interface CofferResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CofferOptions {
  env?: Record<string, string>;
  stdin?: string | null;
  cwd?: string;
}

export interface RunningCoffer {
  child: ChildProcess;
  /** Everything printed so far. */
  out: { stdout: string; stderr: string };
  done: Promise<CofferResult>;
}

const running = new Set<ChildProcess>();

/** Starts `coffer <args>`; its own process group so a test can signal it like a terminal would. */
export function startCoffer(args: string[], { env = {}, stdin = null, cwd = ROOT }: CofferOptions = {}): RunningCoffer {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...env },
    stdio: [stdin === null ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    detached: true,
  });
  running.add(child);
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out.stderr += d.toString()));
  if (stdin !== null) child.stdin!.end(stdin);
  const done = new Promise<CofferResult>((resolve) => {
    child.on('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal, ...out });
    });
  });
  return { child, out, done };
}

/** `coffer <args>` to completion. */
export function coffer(args: string[], options: CofferOptions = {}): Promise<CofferResult> {
  return startCoffer(args, options).done;
}

/** Kills whatever a test left running (afterAll). */
export function killCoffers(): void {
  for (const child of running) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** MONGODB_URI for the run's database server, on database `dbName`. */
export function databaseEnv(dbName: string): Record<string, string> {
  return { MONGODB_URI: inject('mongoUri').replace(/\/[^/?]*(\?|$)/, `/${dbName}$1`) };
}

/** A fresh directory (XDG_CONFIG_HOME, working directories); removed by `removeTempDirs`. */
const dirs: string[] = [];
export function tempDir(label: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `coffer-${label}-`));
  dirs.push(dir);
  return dir;
}
export function removeTempDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Polls until `check` holds (or fails after `timeoutMs`). */
export async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
