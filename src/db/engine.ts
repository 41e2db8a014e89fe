/**
 * Resolves which MongoDB wire-protocol server Coffer talks to (docs/ARCHITECTURE.md §7):
 *
 * 1. `mongodbUri` from config (MONGODB_URI) → used as-is ('external');
 * 2. otherwise mongodb-memory-server, i.e. a real `mongod` (fails fast when no
 *    binary is available locally and the download host is unreachable);
 * 3. otherwise FerretDB v1 (SQLite) embedded through the Go wrapper in
 *    tools/ferretdb, built once into `.cache/ferretdb/`;
 * 4. otherwise an error that names the three ways out and why each step failed.
 */
import { startFerretDb } from './ferretdb.js';
import { startMemoryServer } from './memory-server.js';

export type { EngineKind, ResolvedDatabase, ResolveDatabaseOptions } from './database-types.js';
import type { ResolvedDatabase, ResolveDatabaseOptions } from './database-types.js';

interface EmbeddedStep {
  name: string;
  start(opts: ResolveDatabaseOptions): Promise<ResolvedDatabase>;
}

const EMBEDDED_STEPS: readonly EmbeddedStep[] = [
  { name: 'mongodb-memory-server', start: startMemoryServer },
  { name: 'embedded FerretDB', start: startFerretDb },
];

export async function resolveDatabase(opts: ResolveDatabaseOptions): Promise<ResolvedDatabase> {
  const resolved =
    opts.mongodbUri !== undefined && opts.mongodbUri !== ''
      ? externalDatabase(opts.mongodbUri, opts.dbName)
      : await startEmbedded(opts);
  opts.log(`database: ${resolved.description}`);
  return { ...resolved, stop: once(resolved.stop) };
}

async function startEmbedded(opts: ResolveDatabaseOptions): Promise<ResolvedDatabase> {
  const reasons: string[] = [];
  for (const [index, step] of EMBEDDED_STEPS.entries()) {
    try {
      return await step.start(opts);
    } catch (err) {
      const reason = errorMessage(err);
      reasons.push(`- ${step.name}: ${reason}`);
      const next = EMBEDDED_STEPS[index + 1];
      if (next !== undefined) opts.log(`${step.name} unavailable (${reason}); trying ${next.name}`);
    }
  }
  throw new Error(noEngineMessage(reasons));
}

function noEngineMessage(reasons: readonly string[]): string {
  return [
    'No MongoDB-compatible database is available. Do one of:',
    '  1. set MONGODB_URI to a running MongoDB (or wire-compatible) server;',
    '  2. make a mongod available to mongodb-memory-server: set MONGOMS_SYSTEM_BINARY to a local mongod,',
    '     or allow it to download one (fastdl.mongodb.org, or MONGOMS_DOWNLOAD_MIRROR / MONGOMS_DOWNLOAD_URL);',
    '  3. install Go (https://go.dev/dl/) so the embedded FerretDB fallback in tools/ferretdb can be built.',
    'What was tried:',
    ...reasons,
  ].join('\n');
}

function externalDatabase(uri: string, defaultDbName: string): ResolvedDatabase {
  const fromUri = databaseNameFromUri(uri);
  const dbName = fromUri ?? defaultDbName;
  const suffix = fromUri === undefined ? ` (database ${dbName})` : '';
  return {
    uri,
    dbName,
    engine: 'external',
    description: `external MongoDB at ${redactUri(uri)}${suffix}`,
    stop: () => Promise.resolve(),
  };
}

interface UriParts {
  scheme: string;
  credentials: string;
  hosts: string;
  path: string;
  query: string;
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const SECRET_QUERY_KEY = /pass|secret|token|authMechanismProperties/i;

/**
 * Splits a mongodb:// or mongodb+srv:// URI. Credentials run up to the last
 * '@' before the query, so an unescaped '@' or '/' in a password is still
 * treated as part of the credentials (and redacted).
 */
function splitUri(uri: string): UriParts {
  const scheme = SCHEME.exec(uri)?.[0] ?? '';
  const rest = uri.slice(scheme.length);
  const queryStart = rest.indexOf('?');
  const beforeQuery = queryStart === -1 ? rest : rest.slice(0, queryStart);
  const query = queryStart === -1 ? '' : rest.slice(queryStart);
  const at = beforeQuery.lastIndexOf('@');
  const afterCredentials = beforeQuery.slice(at + 1);
  const slash = afterCredentials.indexOf('/');
  return {
    scheme,
    credentials: beforeQuery.slice(0, at + 1),
    hosts: slash === -1 ? afterCredentials : afterCredentials.slice(0, slash),
    path: slash === -1 ? '' : afterCredentials.slice(slash),
    query,
  };
}

/** Strips `user:password@` (and masks secret-looking query options) from a MongoDB URI. */
export function redactUri(uri: string): string {
  const parts = splitUri(uri);
  return `${parts.scheme}${parts.hosts}${parts.path}${redactQuery(parts.query)}`;
}

function redactQuery(query: string): string {
  if (query === '') return query;
  const options = query
    .slice(1)
    .split('&')
    .map((option) => {
      const key = option.split('=', 1)[0] ?? '';
      return SECRET_QUERY_KEY.test(key) ? `${key}=***` : option;
    });
  return `?${options.join('&')}`;
}

function databaseNameFromUri(uri: string): string | undefined {
  const name = splitUri(uri).path.slice(1);
  if (name === '') return undefined;
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let pending: Promise<void> | undefined;
  return () => (pending ??= fn());
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
