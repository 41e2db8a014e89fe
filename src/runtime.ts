import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MongoClient, Db } from 'mongodb';
import type { Config } from './config.js';
import { connectMongo } from './db/client.js';
import { tryLockDataDir, type DataDirLock } from './db/data-dir-lock.js';
import { resolveDatabase, type ResolvedDatabase } from './db/engine.js';
import type { Logger } from './logger.js';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface DatabaseHandle {
  resolved: ResolvedDatabase;
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/** How long a process waits for the owner of DATA_DIR to bring its embedded database up (it may be building it). */
const ATTACH_WAIT_MS = 10 * 60_000;

/**
 * Resolves and connects the database for a long-running process (npm start, CLI):
 * MONGODB_URI, else the embedded database of DATA_DIR. Exactly one process owns that (it
 * holds DATA_DIR/embedded-database.lock, starts the engine and announces it in
 * DATA_DIR/embedded-database.json); any other process on the same DATA_DIR attaches to the
 * owner's database and never starts a second engine on the same files.
 */
export async function openDatabase(config: Config, logger: Logger): Promise<DatabaseHandle> {
  if (config.mongodbUri) {
    return connect(await resolveDatabase({ ...resolveOptions(config, logger), mongodbUri: config.mongodbUri }), () => {});
  }
  if (config.nodeEnv === 'production') {
    // loadConfig already requires it; never let production fall back to an embedded database.
    throw new Error('MONGODB_URI: required in production (no embedded database in production)');
  }
  const deadline = Date.now() + ATTACH_WAIT_MS;
  let waiting = false;
  for (;;) {
    const attempt = tryLockDataDir(config.dataDir);
    if (attempt.acquired) return ownEmbedded(config, logger, attempt.lock);
    const announced = readAnnouncement(config, attempt.ownerPid);
    if (announced) return attach(config, logger, announced);
    if (Date.now() > deadline) {
      throw new Error(
        `DATA_DIR ${config.dataDir} belongs to process ${attempt.ownerPid}, whose embedded database did not come up within ` +
          `${ATTACH_WAIT_MS / 60_000} minutes; stop that process, or give this one another DATA_DIR or a MONGODB_URI`,
      );
    }
    if (!waiting) {
      waiting = true;
      logger.info(`waiting for process ${attempt.ownerPid}, which owns DATA_DIR ${config.dataDir}, to start its embedded database`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function resolveOptions(config: Config, logger: Logger) {
  return {
    dbName: config.mongodbDbName,
    persistentDir: config.dataDir,
    projectRoot: PROJECT_ROOT,
    log: (line: string) => logger.info(line),
    warn: (line: string) => logger.error(line),
  };
}

async function connect(resolved: ResolvedDatabase, afterStop: () => void): Promise<DatabaseHandle> {
  try {
    const { client, db } = await connectMongo(resolved.uri, resolved.dbName);
    return {
      resolved,
      client,
      db,
      close: async () => {
        await client.close();
        await resolved.stop();
        afterStop();
      },
    };
  } catch (error) {
    await resolved.stop();
    afterStop();
    throw error;
  }
}

/** This process owns DATA_DIR: it starts the engine, announces it, and takes both down when it stops or exits. */
async function ownEmbedded(config: Config, logger: Logger, lock: DataDirLock): Promise<DatabaseHandle> {
  let resolved: ResolvedDatabase;
  try {
    resolved = await resolveDatabase(resolveOptions(config, logger));
  } catch (error) {
    lock.release();
    throw error;
  }
  const file = embeddedDatabaseFile(config);
  const announcement: Announcement = { uri: resolved.uri, dbName: resolved.dbName, pid: process.pid, enginePid: resolved.pid };
  writeFileSync(file, JSON.stringify(announcement), { mode: 0o600 });
  // Only the owner removes the announcement (and only its own), also on an exit without close().
  const forget = (): void => {
    process.off('exit', forget);
    if (readAnnouncement(config, process.pid)) rmSync(file, { force: true });
    lock.release();
  };
  process.on('exit', forget);
  return connect(resolved, forget);
}

/** Another live process owns DATA_DIR: use its database; stopping this process leaves it running. */
async function attach(config: Config, logger: Logger, announced: Announcement): Promise<DatabaseHandle> {
  const resolved: ResolvedDatabase = {
    uri: announced.uri,
    dbName: announced.dbName,
    engine: 'attached',
    description: `the embedded database of process ${announced.pid}, which owns DATA_DIR ${config.dataDir}, at ${announced.uri} (attached: it stops when that process stops)`,
    stop: () => Promise.resolve(),
  };
  logger.info(`database: ${resolved.description}`);
  return connect(resolved, () => {});
}

interface Announcement {
  uri: string;
  dbName: string;
  pid: number;
  /** The embedded engine's own process, when it has one. */
  enginePid?: number;
}

/** While a process owns DATA_DIR's embedded database, others find it through this file. */
export function embeddedDatabaseFile(config: Config): string {
  return path.join(config.dataDir, 'embedded-database.json');
}

/** The announcement of process `pid`, if that is what the file holds. */
function readAnnouncement(config: Config, pid: number): Announcement | undefined {
  try {
    const parsed = JSON.parse(readFileSync(embeddedDatabaseFile(config), 'utf8')) as Partial<Announcement>;
    if (parsed.pid === pid && typeof parsed.uri === 'string' && typeof parsed.dbName === 'string') return parsed as Announcement;
  } catch {
    // absent, or being written
  }
  return undefined;
}
