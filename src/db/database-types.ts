/** What resolving a database yields and needs: shared by the resolver (engine.ts) and its embedded steps. */

/** 'attached': the embedded database another process owns on the same DATA_DIR (src/runtime.ts). */
export type EngineKind = 'external' | 'mongodb-memory-server' | 'ferretdb' | 'attached';

export interface ResolvedDatabase {
  /** Connection string including the database name path (external URIs are kept as given). */
  uri: string;
  dbName: string;
  engine: EngineKind;
  /** Human-readable, never contains credentials. */
  description: string;
  /** The embedded engine's process, when it has one of its own. */
  pid?: number;
  /** Stops an embedded server this module started (no-op for external); idempotent. */
  stop(): Promise<void>;
  /** The embedded engine's last diagnostic output (stderr tail), when it has a process of its own. */
  recentOutput?(): string;
}

export interface ResolveDatabaseOptions {
  /** MONGODB_URI from config; when set it is used as-is. */
  mongodbUri?: string;
  /** Database name used when the URI has none. */
  dbName: string;
  /** Absolute directory for data that survives restarts; undefined → ephemeral. */
  persistentDir?: string;
  /** Repository root (holds tools/ferretdb and .cache). */
  projectRoot: string;
  log: (line: string) => void;
  /** Problems while it runs (an embedded engine that exits on its own); `log` when not given. */
  warn?: (line: string) => void;
  /** How often a first-run build of the embedded FerretDB logs progress (default 15 s). */
  buildProgressMs?: number;
}
