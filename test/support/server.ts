import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { MongoClient, type Db } from 'mongodb';
import { inject } from 'vitest';
import { createApp, type AppOptions, type CofferApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';

export interface GraphQLResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions: { code: string; requestId?: string; [k: string]: unknown } }[];
}

export interface TestServer {
  url: string;
  /** The running app (its HTTP server, e.g. to list routes). */
  app?: CofferApp;
  config: Config;
  db: Db;
  /** Every log line the server wrote, raw. */
  logs: string[];
  /** Write commands the server sent to MongoDB, as `<command>:<collection>`. */
  writes: string[];
  /** Every command the server sent to MongoDB, as `<command>:<collection>` (for counting work done). */
  commands: string[];
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, token?: string, headers?: Record<string, string>): Promise<GraphQLResponse<T>>;
  close(): Promise<void>;
}

/** A fresh Ed25519 key as the PEM text JWT_PRIVATE_KEY takes. */
export function newJwtKeyPem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    VAULT_MASTER_KEYS: `t1:${randomBytes(32).toString('base64')}`,
    VAULT_ACTIVE_MASTER_KEY: 't1',
    JWT_PRIVATE_KEY: newJwtKeyPem(),
    LOG_LEVEL: 'debug',
    RATE_LIMIT_PER_MINUTE: '100000',
    AUTH_RATE_LIMIT_PER_MINUTE: '100000',
    // The webhook delivery job polls only at start unless a test asks (test/webhooks/support.ts),
    // so its claims stay out of the tests that count database commands per request.
    WEBHOOK_DELIVERY_INTERVAL_MS: '600000',
    ...overrides,
  };
}

/** A GraphQL client for the server at `url` (POST /graphql, JSON), answering status, headers and body. */
export function graphqlAt(url: string): TestServer['gql'] {
  return async (query, variables, token, headers = {}) => {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as Omit<GraphQLResponse, 'status' | 'headers'>;
    return { status: response.status, headers: response.headers, ...body } as GraphQLResponse<never>;
  };
}

/**
 * Starts the real app over real HTTP on an ephemeral port, against the run's
 * MongoDB wire-protocol server, in a database of its own.
 */
export async function startServer(overrides: Record<string, string> = {}, sharedDbName?: string, appOptions: Pick<AppOptions, 'twoFactor' | 'webhooks'> = {}): Promise<TestServer> {
  // A server given a database name shares it with others, so it must not drop it on close.
  const dbName = sharedDbName ?? `t_${randomUUID().slice(0, 8)}`;
  const config = loadConfig(testEnv(overrides), { warn: () => {} });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger(config.logLevel, sink);
  const client = new MongoClient(inject('mongoUri'), { monitorCommands: true });
  const writes: string[] = [];
  const commands: string[] = [];
  client.on('commandStarted', (event) => {
    commands.push(`${event.commandName}:${String(event.command[event.commandName])}`);
    if (['insert', 'update', 'delete', 'findAndModify'].includes(event.commandName)) {
      writes.push(`${event.commandName}:${String(event.command[event.commandName])}`);
    }
  });
  await client.connect();
  const db = client.db(dbName);
  const app = await createApp({ config, db, logger, ...appOptions });
  const { port } = await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    app,
    config,
    db,
    logs,
    writes,
    commands,
    gql: graphqlAt(url),
    async close() {
      await app.close();
      if (!sharedDbName) await db.dropDatabase().catch(() => {});
      await client.close();
    },
  };
}
