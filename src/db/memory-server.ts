/**
 * Step 2 of database resolution: a real `mongod` through mongodb-memory-server.
 *
 * mongodb-memory-server reads its own MONGOMS_* settings (SYSTEM_BINARY,
 * VERSION, DOWNLOAD_URL, DOWNLOAD_MIRROR, DOWNLOAD_DIR, RUNTIME_DOWNLOAD, ...).
 * Left alone it would try to download a ~100 MB mongod, and offline that can
 * take minutes of retries; so unless a binary is already available locally,
 * the download host (or the proxy the library would use) is probed first and
 * this step fails within seconds when it is unreachable.
 */
import { mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { DryMongoBinary, MongoMemoryServer } from 'mongodb-memory-server-core';
import type { MemoryServerInstanceOpts } from 'mongodb-memory-server-core/lib/MongoMemoryServer.js';
import { MongoBinaryDownloadUrl } from 'mongodb-memory-server-core/lib/util/MongoBinaryDownloadUrl.js';
import {
  ResolveConfigVariables,
  envToBool,
  resolveConfig,
} from 'mongodb-memory-server-core/lib/util/resolveConfig.js';
import type { ResolveDatabaseOptions, ResolvedDatabase } from './engine.js';

const PROBE_TIMEOUT_MS = 3_000;
/** Overall start timeout when the binary is already on disk. */
const START_TIMEOUT_MS = 30_000;
/** Overall start timeout when mongod has to be downloaded first. */
const DOWNLOAD_START_TIMEOUT_MS = 5 * 60_000;
const LAUNCH_TIMEOUT_MS = 20_000;

/** Environment variables mongodb-memory-server takes its download proxy from, in its order. */
const PROXY_ENV = [
  'yarn_https-proxy',
  'yarn_proxy',
  'npm_config_https-proxy',
  'npm_config_proxy',
  'https_proxy',
  'http_proxy',
  'HTTPS_PROXY',
  'HTTP_PROXY',
] as const;

export async function startMemoryServer(opts: ResolveDatabaseOptions): Promise<ResolvedDatabase> {
  const localBinary = await findLocalMongod();
  if (localBinary === undefined) await ensureDownloadPossible(opts.log);
  const instance = await instanceOptions(opts);
  const server = new MongoMemoryServer({ instance });
  const timeout = localBinary === undefined ? DOWNLOAD_START_TIMEOUT_MS : START_TIMEOUT_MS;
  await startWithin(server, timeout);
  const uri = server.getUri(opts.dbName);
  const storage = instance.dbPath === undefined ? 'ephemeral' : `data in ${instance.dbPath}`;
  return {
    uri,
    dbName: opts.dbName,
    engine: 'mongodb-memory-server',
    description: `mongod via mongodb-memory-server (${storage}) at ${uri}`,
    stop: async () => {
      // Removes the temporary dbPath it created, never a persistent one.
      await server.stop({ doCleanup: true, force: false });
    },
  };
}

/** A mongod that needs no download: MONGOMS_SYSTEM_BINARY or an earlier download. */
async function findLocalMongod(): Promise<string | undefined> {
  const options = await DryMongoBinary.generateOptions();
  return DryMongoBinary.locateBinary(options);
}

async function ensureDownloadPossible(log: (line: string) => void): Promise<void> {
  if (!envToBool(resolveConfig(ResolveConfigVariables.RUNTIME_DOWNLOAD))) {
    throw new Error('no local mongod binary and MONGOMS_RUNTIME_DOWNLOAD is disabled');
  }
  const url = await downloadUrl();
  const proxy = downloadProxy();
  const target = proxy ?? url;
  const port = portOf(target);
  try {
    await probeTcp(target.hostname, port, PROBE_TIMEOUT_MS);
  } catch (err) {
    const via = proxy === undefined ? '' : ` (proxy for ${url.host})`;
    throw new Error(`no local mongod binary and the download host ${target.hostname}:${port}${via} is unreachable: ${message(err)}`);
  }
  log(`downloading mongod from ${url.host} for mongodb-memory-server (first run only)...`);
}

async function downloadUrl(): Promise<URL> {
  const options = await DryMongoBinary.generateOptions();
  return new URL(await new MongoBinaryDownloadUrl(options).getDownloadUrl());
}

function downloadProxy(): URL | undefined {
  const raw = PROXY_ENV.map((name) => process.env[name]).find((value) => value !== undefined && value !== '');
  if (raw === undefined) return undefined;
  try {
    return new URL(raw);
  } catch {
    return undefined;
  }
}

function portOf(url: URL): number {
  if (url.port !== '') return Number(url.port);
  const plainHttp = url.protocol === 'http:' || envToBool(resolveConfig(ResolveConfigVariables.USE_HTTP));
  return plainHttp ? 80 : 443;
}

/** DNS lookup + TCP connect, both within `timeoutMs`. */
function probeTcp(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err === undefined) resolve();
      else reject(err);
    };
    const timer = setTimeout(() => finish(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => finish());
    socket.once('error', finish);
  });
}

async function instanceOptions(opts: ResolveDatabaseOptions): Promise<MemoryServerInstanceOpts> {
  const base: MemoryServerInstanceOpts = { ip: '127.0.0.1', dbName: opts.dbName, launchTimeout: LAUNCH_TIMEOUT_MS };
  if (opts.persistentDir === undefined) return base;
  const dbPath = path.join(opts.persistentDir, 'mongodb');
  await mkdir(dbPath, { recursive: true });
  return { ...base, dbPath, storageEngine: 'wiredTiger' };
}

/** Starts the server, giving up after `timeoutMs`; a late start is stopped again. */
async function startWithin(server: MongoMemoryServer, timeoutMs: number): Promise<void> {
  const started = server.start();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`mongod did not start within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    await Promise.race([started, timedOut]);
  } catch (err) {
    // On failure the library stops mongod but keeps its temp dir; on timeout it may still come up.
    started.then(() => server.stop(), () => server.cleanup()).catch(() => undefined);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
