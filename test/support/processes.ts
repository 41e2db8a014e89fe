/**
 * Coffer's own entry points as real processes, as `npm start` and `npm run cli` run them:
 * one node process with tsx as its loader (`node --import tsx`), so signals reach the app
 * itself. Used by the startup, CLI and fault tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NODE_TSX = ['--import', pathToFileURL(path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href];

/** Only what a user's shell would pass on: PATH, HOME and the tsconfig tsx compiles with. */
function baseEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), TSX_TSCONFIG_PATH: path.join(ROOT, 'tsconfig.json') };
}

export interface LogLine {
  level?: number;
  msg?: string;
  [key: string]: unknown;
}

export interface Spawned {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** stdout lines that were JSON (pino). */
  lines: LogLine[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();

/** `node --import tsx <entry> [args]` with only `env` (plus PATH, HOME), in `cwd`, in its own process group. */
export function spawnEntry(entry: string, args: string[], { env = {}, cwd = ROOT }: { env?: Record<string, string>; cwd?: string } = {}): Spawned {
  const child = spawn(process.execPath, [...NODE_TSX, path.join(ROOT, entry), ...args], {
    cwd,
    env: { ...baseEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group, so cleanup also reaches the embedded database process it started.
    detached: true,
  });
  children.add(child);
  const spawned: Spawned = {
    child,
    stdout: [],
    stderr: [],
    lines: [],
    exited: new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        children.delete(child);
        resolve({ code, signal });
      });
    }),
  };
  let pending = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    pending += chunk;
    let end: number;
    while ((end = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, end);
      pending = pending.slice(end + 1);
      spawned.stdout.push(line);
      try {
        spawned.lines.push(JSON.parse(line) as LogLine);
      } catch {
        // not a pino line
      }
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => void spawned.stderr.push(chunk));
  return spawned;
}

/** What a process printed, for failure messages (the last `tail` stdout lines). */
export function output(spawned: Spawned, tail = Infinity): string {
  return `stdout:\n${spawned.stdout.slice(-tail).join('\n')}\nstderr:\n${spawned.stderr.join('').slice(-4000)}`;
}

/** SIGKILL to the process group (the crash a fault test wants, or cleanup). */
export function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Every spawned process still alive, killed with its group (afterAll). */
export function killAll(): void {
  for (const child of [...children]) killGroup(child);
}

/** Waits for a log line whose msg matches; fails early if the process exits first. */
export async function waitForLog(spawned: Spawned, pattern: RegExp, timeoutMs: number): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void spawned.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    const found = spawned.lines.find((l) => typeof l.msg === 'string' && pattern.test(l.msg));
    if (found) return found;
    if (exited) throw new Error(`process exited before logging ${pattern}\n${output(spawned)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no log line matching ${pattern} within ${timeoutMs} ms\n${output(spawned)}`);
}

/** The process's exit, or a failure after `timeoutMs`. */
export async function waitForExit(spawned: Spawned, timeoutMs: number) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`process did not exit within ${timeoutMs} ms\n${output(spawned)}`)), timeoutMs);
  });
  try {
    return await Promise.race([spawned.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run cli -- <args>` to completion, with `stdin` (or none) and only `env` (plus PATH, HOME). */
export function runCli(args: string[], { cwd = ROOT, env = {}, stdin = null }: { cwd?: string; env?: Record<string, string>; stdin?: string | null } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...NODE_TSX, path.join(ROOT, 'src/cli/index.ts'), ...args], {
      cwd,
      env: { ...baseEnv(), ...env },
      stdio: [stdin === null ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    if (stdin !== null) child.stdin!.end(stdin);
  });
}
