/**
 * Step 3 of database resolution: FerretDB v1 (SQLite backend) embedded through
 * the Go wrapper in tools/ferretdb.
 *
 * The wrapper is built once with `go build` into
 * `<projectRoot>/.cache/ferretdb/<hash of its sources>/coffer-ferretdb`; a
 * cached binary is used even when Go is no longer on PATH. The process gets a
 * stdin pipe that is only closed by stop() or by this process exiting, so it
 * never outlives Coffer.
 */
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { constants } from 'node:fs';
import { access, mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { Socket } from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { ResolveDatabaseOptions, ResolvedDatabase } from './database-types.js';
import { engineDataDir } from './data-dir.js';

const BINARY_NAME = 'coffer-ferretdb';
const BUILD_TIMEOUT_MS = 10 * 60_000;
/** How often a running build says it is still running. */
const BUILD_PROGRESS_MS = 15_000;
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
const STDERR_TAIL_CHARS = 4_000;

export async function startFerretDb(opts: ResolveDatabaseOptions): Promise<ResolvedDatabase> {
  const binary = await ensureWrapper(opts.projectRoot, opts.log, opts.buildProgressMs);
  const data = await engineDataDir(opts.persistentDir, 'ferretdb');
  try {
    const { child, uri, stderr } = await launch(binary, data.dir, opts.dbName);
    let stopping = false;
    // An engine that dies on its own leaves every request SERVICE_UNAVAILABLE: say so, with why.
    child.once('exit', (code, signal) => {
      if (!stopping) (opts.warn ?? opts.log)(`embedded FerretDB (pid ${child.pid}) exited unexpectedly (${exitReason(code, signal)})${stderrSuffix(stderr)}`);
    });
    return {
      uri,
      dbName: opts.dbName,
      engine: 'ferretdb',
      pid: child.pid,
      description: `embedded FerretDB (sqlite, ${data.label}) at ${uri}`,
      recentOutput: stderr,
      stop: async () => {
        stopping = true;
        await terminate(child);
        await data.dispose();
      },
    };
  } catch (err) {
    await data.dispose();
    throw err;
  }
}

// ---- building the wrapper --------------------------------------------------

async function ensureWrapper(projectRoot: string, log: (line: string) => void, progressMs = BUILD_PROGRESS_MS): Promise<string> {
  const sourceDir = path.join(projectRoot, 'tools', 'ferretdb');
  const key = await sourceHash(sourceDir);
  const binary = path.join(projectRoot, '.cache', 'ferretdb', key, executableName(BINARY_NAME));
  if (await isExecutableFile(binary)) return binary;
  const go = await findOnPath('go');
  if (go === undefined) {
    throw new Error(`Go is not on PATH, so tools/ferretdb cannot be built (no cached build at ${binary})`);
  }
  log(
    `building the embedded FerretDB (first run only): \`go build\` of ${sourceDir} into ${binary}, ` +
      'downloading its modules through the Go module proxy; usually 1 to 4 minutes (seconds once the Go build cache is warm)',
  );
  const startedAt = Date.now();
  const seconds = () => Math.round((Date.now() - startedAt) / 1000);
  const progress = setInterval(() => log(`still building the embedded FerretDB... ${seconds()} s`), progressMs);
  progress.unref();
  try {
    await buildWrapper(go, sourceDir, binary);
  } finally {
    clearInterval(progress);
  }
  log(`built the embedded FerretDB in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  return binary;
}

/**
 * Short SHA-256 over the wrapper's sources (go.mod, go.sum and every .go
 * file, e.g. main.go), so a changed wrapper gets a fresh build.
 */
async function sourceHash(sourceDir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const name of await sourceFiles(sourceDir)) {
    hash.update(`${name}\0`);
    hash.update(await readFile(path.join(sourceDir, name)));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

async function sourceFiles(sourceDir: string): Promise<string[]> {
  const names = await readdir(sourceDir).catch((err: unknown) => {
    throw new Error(`FerretDB wrapper sources not readable at ${sourceDir}: ${errorText(err)}`);
  });
  return ['go.mod', 'go.sum', ...names.filter((name) => name.endsWith('.go')).sort()];
}

/** Builds to a unique temp name, then renames atomically, so concurrent first runs are safe. */
async function buildWrapper(go: string, sourceDir: string, binary: string): Promise<void> {
  await mkdir(path.dirname(binary), { recursive: true });
  const temp = `${binary}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const args = ['build', '-trimpath', '-buildvcs=false', '-tags', 'ferretdb_no_postgresql', '-o', temp, '.'];
    await run(go, args, sourceDir, BUILD_TIMEOUT_MS);
    await rename(temp, binary);
  } finally {
    await rm(temp, { force: true });
  }
}

function run(command: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: timeoutMs });
    const stderr = collectTail(child.stderr);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`\`go ${args.join(' ')}\` failed (${exitReason(code, signal)})${stderrSuffix(stderr)}`));
    });
  });
}

async function findOnPath(name: string): Promise<string | undefined> {
  const dirs = (process.env['PATH'] ?? '').split(path.delimiter).filter((dir) => dir !== '');
  for (const dir of dirs) {
    const candidate = path.join(dir, executableName(name));
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

async function isExecutableFile(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

function executableName(name: string): string {
  return process.platform === 'win32' ? `${name}.exe` : name;
}

// ---- running it ------------------------------------------------------------


interface Launched {
  child: ChildProcessWithoutNullStreams;
  uri: string;
  /** The wrapper's stderr, last STDERR_TAIL_CHARS characters. */
  stderr: () => string;
}

/** Spawns the wrapper and waits for its URI line; `uri` gets `dbName` as its path. */
async function launch(binary: string, dir: string, dbName: string): Promise<Launched> {
  const child = spawn(binary, ['-listen', '127.0.0.1:0', '-dir', dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr = collectTail(child.stderr);
  try {
    const uri = withDbName(parseUriLine(await firstLine(child, READY_TIMEOUT_MS, stderr)), dbName);
    detach(child);
    return { child, uri, stderr };
  } catch (err) {
    await terminate(child);
    throw err;
  }
}

/** Resolves with the first stdout line; rejects if the process fails, exits or stays silent. */
function firstLine(child: ChildProcessWithoutNullStreams, timeoutMs: number, stderr: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: string): void => {
      buffered += chunk;
      const end = buffered.indexOf('\n');
      if (end !== -1) finish(undefined, buffered.slice(0, end));
    };
    const onClose = (code: number | null, signal: NodeJS.Signals | null): void =>
      finish(new Error(`FerretDB wrapper exited early (${exitReason(code, signal)})${stderrSuffix(stderr)}`));
    const onError = (err: Error): void => finish(err);
    const timer = setTimeout(
      () => finish(new Error(`FerretDB wrapper printed no URI within ${timeoutMs / 1000} s${stderrSuffix(stderr)}`)),
      timeoutMs,
    );
    function finish(err: Error | undefined, line = ''): void {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('close', onClose);
      child.off('error', onError);
      if (err === undefined) resolve(line);
      else reject(err);
    }
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    child.once('close', onClose);
    child.once('error', onError);
  });
}

function parseUriLine(line: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(`FerretDB wrapper printed an unexpected line: ${line}`);
  }
  if (typeof parsed === 'object' && parsed !== null && 'uri' in parsed && typeof parsed.uri === 'string') {
    return parsed.uri;
  }
  throw new Error(`FerretDB wrapper printed no "uri": ${line}`);
}

/**
 * Keeps draining the wrapper's output and lets Node exit without an explicit
 * stop(): the stdin pipe then closes and the wrapper exits by itself.
 */
function detach(child: ChildProcessWithoutNullStreams): void {
  child.stdout.resume();
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    if (stream instanceof Socket) stream.unref();
  }
  child.unref();
}

/** SIGTERM, wait for exit, SIGKILL after a grace period. */
async function terminate(child: ChildProcess): Promise<void> {
  const running = child.pid !== undefined && child.exitCode === null && child.signalCode === null;
  if (running) {
    child.ref();
    const exited = once(child, 'exit');
    const killer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.kill('SIGTERM');
    try {
      await exited;
    } finally {
      clearTimeout(killer);
    }
  }
  child.stdin?.destroy();
}

function withDbName(baseUri: string, dbName: string): string {
  const url = new URL(baseUri);
  url.pathname = `/${encodeURIComponent(dbName)}`;
  return url.toString();
}

// ---- helpers ---------------------------------------------------------------

function collectTail(stream: Readable): () => string {
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    text = (text + chunk).slice(-STDERR_TAIL_CHARS);
  });
  return () => text.trim();
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function stderrSuffix(stderr: () => string): string {
  const text = stderr();
  return text === '' ? '' : `:\n${text}`;
}

function exitReason(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `signal ${signal}` : `exit code ${String(code)}`;
}
