import { writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MongoClient, Db } from 'mongodb';
import type { Config } from './config.js';
import { connectMongo } from './db/client.js';
import { resolveDatabase, type ResolvedDatabase } from './db/engine.js';
import type { Logger } from './logger.js';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface DatabaseHandle {
  resolved: ResolvedDatabase;
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/**
 * Resolves and connects the database for a long-running process (npm start, CLI):
 * MONGODB_URI, else an embedded server keeping its data under DATA_DIR.
 */
export async function openDatabase(config: Config, logger: Logger): Promise<DatabaseHandle> {
  if (config.nodeEnv === 'production' && !config.mongodbUri) {
    // loadConfig already requires it; never let production fall back to an embedded database.
    throw new Error('MONGODB_URI: required in production (no embedded database in production)');
  }
  const resolved = await resolveDatabase({
    mongodbUri: config.mongodbUri,
    dbName: config.mongodbDbName,
    persistentDir: config.dataDir,
    projectRoot: PROJECT_ROOT,
    log: (line) => logger.info(line),
  });
  try {
    const { client, db } = await connectMongo(resolved.uri, resolved.dbName);
    return {
      resolved,
      client,
      db,
      close: async () => {
        await client.close();
        await resolved.stop();
      },
    };
  } catch (error) {
    await resolved.stop();
    throw error;
  }
}

/** While the server runs on an embedded database, the CLI finds it through this file. */
export function embeddedDatabaseFile(config: Config): string {
  return path.join(config.dataDir, 'embedded-database.json');
}

export function announceEmbeddedDatabase(config: Config, resolved: ResolvedDatabase): () => void {
  if (resolved.engine === 'external') return () => {};
  const file = embeddedDatabaseFile(config);
  writeFileSync(file, JSON.stringify({ uri: resolved.uri, dbName: resolved.dbName, pid: process.pid }), { mode: 0o600 });
  return () => rmSync(file, { force: true });
}
