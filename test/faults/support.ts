/**
 * Shared helpers of the fault suite (`npm run test:faults`): real server and CLI processes
 * spawned with tsx (killed with SIGKILL mid-job), a GraphQL client for them, and waiting.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import type { GraphQLResponse } from '../support/server.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
export const LISTEN_TIMEOUT_MS = 90_000;

export interface LogLine {
  level?: number;
  msg?: string;
  [key: string]: unknown;
}

export interface Spawned {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  lines: LogLine[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();

/** Every process this suite spawned and that is still alive: killed (with its group) by `killAll`. */
export function killAll(): void {
  for (const child of [...children]) killGroup(child);
}

/** SIGKILL to the process group (tsx's node child included): the crash under test. */
export function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** A URI of the run's database server naming database `dbName`. */
export function databaseUri(dbName: string): string {
  return inject('mongoUri').replace(/\/[^/?]*(\?|$)/, `/${dbName}$1`);
}

/** A fresh database name for one test. */
export function freshDbName(prefix: string): string {
  return `f_${prefix}_${randomUUID().slice(0, 8)}`;
}

/** `tsx <entry> [args]` with only `env` (plus PATH and HOME), in its own process group. */
export function spawnTsx(entry: string, args: string[], env: Record<string, string>): Spawned {
  const child = spawn(TSX, ['--tsconfig', path.join(ROOT, 'tsconfig.json'), path.join(ROOT, entry), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
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

export function output(spawned: Spawned): string {
  return `stdout:\n${spawned.stdout.slice(-40).join('\n')}\nstderr:\n${spawned.stderr.join('').slice(-4000)}`;
}

const LISTENING = /^Coffer API listening on (http:\/\/\S+)\/graphql/;

export interface ServerProcess extends Spawned {
  url: string;
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, token?: string): Promise<GraphQLResponse<T>>;
}

/** `tsx src/main.ts` on `env` (MONGODB_URI of a test database); resolves once it listens. */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const spawned = spawnTsx('src/main.ts', [], { NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', ...env });
  const line = await waitFor(() => spawned.lines.find((l) => typeof l.msg === 'string' && LISTENING.test(l.msg)), LISTEN_TIMEOUT_MS, () => output(spawned), spawned);
  const url = LISTENING.exec(line.msg!)![1]!;
  return { ...spawned, url, gql: (query, variables, token) => gqlAt(url, query, variables, token) };
}

/** One GraphQL request over HTTP. */
export async function gqlAt<T = Record<string, unknown>>(url: string, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<GraphQLResponse<T>> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Omit<GraphQLResponse<T>, 'status' | 'headers'>;
  return { status: response.status, headers: response.headers, ...body };
}

/** Polls `probe` until it returns a value; fails after `timeoutMs`, or early when `process` exits. */
export async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, describe: () => string = () => '', process?: Spawned, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void process?.exited.then(() => (exited = true));
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (exited) throw new Error(`process exited while waiting\n${describe()}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms\n${describe()}`);
    await sleep(everyMs);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** SIGKILL, then wait for the exit. */
export async function crash(spawned: Spawned): Promise<void> {
  killGroup(spawned.child);
  const exit = await spawned.exited;
  if (exit.signal !== 'SIGKILL') throw new Error(`expected a SIGKILL exit, got ${JSON.stringify(exit)}\n${output(spawned)}`);
}

/** Runs `work` over `items` with at most `width` at a time. */
export async function inParallel<T, R>(items: readonly T[], width: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!, index);
      }
    }),
  );
  return results;
}
