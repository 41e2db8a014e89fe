/**
 * Shared helpers of the fault suite (`npm run test:faults`): real server and CLI processes
 * spawned as `npm start` / `npm run cli` run them (killed with SIGKILL mid-job), a GraphQL client for them, and waiting.
 */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import type { GraphQLResponse } from '../support/server.js';
import { killGroup, output, spawnEntry, type Spawned } from '../support/processes.js';

export { killAll, killGroup, output, ROOT, type LogLine, type Spawned } from '../support/processes.js';
export const LISTEN_TIMEOUT_MS = 90_000;

/** A URI of the run's database server naming database `dbName`. */
export function databaseUri(dbName: string): string {
  return inject('mongoUri').replace(/\/[^/?]*(\?|$)/, `/${dbName}$1`);
}

/** A fresh database name for one test. */
export function freshDbName(prefix: string): string {
  return `f_${prefix}_${randomUUID().slice(0, 8)}`;
}

/** `node --import tsx <entry> [args]` (as `npm start` / `npm run cli`) with only `env`, in its own process group. */
export function spawnTsx(entry: string, args: string[], env: Record<string, string>): Spawned {
  return spawnEntry(entry, args, { env });
}

const LISTENING = /^Coffer API listening on (http:\/\/\S+)\/graphql/;

export interface ServerProcess extends Spawned {
  url: string;
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, token?: string): Promise<GraphQLResponse<T>>;
}

/** `src/main.ts` (as `npm start` runs it) on `env` (MONGODB_URI of a test database); resolves once it listens. */
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
