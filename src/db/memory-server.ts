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
import { connect } from 'node:net';
import { DryMongoBinary, MongoMemoryServer } from 'mongodb-memory-server-core';
import type { MemoryServerInstanceOpts } from 'mongodb-memory-server-core/lib/MongoMemoryServer.js';
import { MongoBinaryDownloadUrl } from 'mongodb-memory-server-core/lib/util/MongoBinaryDownloadUrl.js';
import {
  ResolveConfigVariables,
  envToBool,
  resolveConfig,
} from 'mongodb-memory-server-core/lib/util/resolveConfig.js';
import type { ResolveDatabaseOptions, ResolvedDatabase } from './database-types.js';
import { engineDataDir, type EngineDataDir } from './data-dir.js';

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
  const storage = await engineDataDir(opts.persistentDir, 'mongodb');
  const server = new MongoMemoryServer({ instance: instanceOptions(opts.dbName, storage) });
  const timeout = localBinary === undefined ? DOWNLOAD_START_TIMEOUT_MS : START_TIMEOUT_MS;
  await startWithin(server, timeout, storage.dispose);
  const uri = server.getUri(opts.dbName);
  return {
    uri,
    dbName: opts.dbName,
    engine: 'mongodb-memory-server',
    description: `mongod via mongodb-memory-server (${storage.label}) at ${uri}`,
    stop: async () => {
      await server.stop({ doCleanup: false });
      await storage.dispose();
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
    const host = `${target.hostname}:${port}${via}`;
    throw new Error(`no local mongod binary and the download host ${host} is unreachable: ${message(err)}`);
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

/*
 * The dbPath is always ours: when mongodb-memory-server creates its own temp
 * dir and then fails to start, its cleanup() does not remove that dir.
 */

function instanceOptions(dbName: string, storage: EngineDataDir): MemoryServerInstanceOpts {
  const options: MemoryServerInstanceOpts = {
    ip: '127.0.0.1',
    dbName,
    dbPath: storage.dir,
    launchTimeout: LAUNCH_TIMEOUT_MS,
  };
  return storage.persistent ? { ...options, storageEngine: 'wiredTiger' } : options;
}

/**
 * Starts the server within `timeoutMs`, calling `release` once it is sure
 * mongod is down: right away when start fails, later if it comes up too late.
 */
async function startWithin(
  server: MongoMemoryServer,
  timeoutMs: number,
  release: () => Promise<void>,
): Promise<void> {
  const started = server.start();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  let outcome: 'started' | 'timeout';
  try {
    outcome = await Promise.race([started.then(() => 'started' as const), timedOut]);
  } catch (err) {
    await release(); // the library has already stopped the mongod it spawned
    throw err;
  } finally {
    clearTimeout(timer);
  }
  if (outcome === 'timeout') {
    started
      .then(() => server.stop({ doCleanup: false }), () => undefined)
      .catch(() => undefined)
      .then(release)
      .catch(() => undefined);
    throw new Error(`mongod did not start within ${timeoutMs / 1000} s`);
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
