import { MongoClient, type Db } from 'mongodb';

/**
 * How long an operation waits for a reachable server before it fails (a request then answers
 * SERVICE_UNAVAILABLE, see graphql/errors.ts): short, so a database outage fails requests fast
 * instead of holding them (README "Reliability").
 */
export const SERVER_SELECTION_TIMEOUT_MS = 3_000;

/**
 * How long an operation waits for bytes on an open connection before the driver gives up on
 * it: a database that hangs (a frozen host, a network that drops packets) fails requests with
 * SERVICE_UNAVAILABLE after this instead of holding them until the connection breaks. Long
 * enough for the slowest legitimate operation (a full-collection scan on the embedded engine).
 */
export const SOCKET_TIMEOUT_MS = 20_000;

/** Connects the official driver; fails within seconds when the server is unreachable. */
export async function connectMongo(uri: string, dbName: string): Promise<{ client: MongoClient; db: Db }> {
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: SERVER_SELECTION_TIMEOUT_MS,
    connectTimeoutMS: SERVER_SELECTION_TIMEOUT_MS,
    socketTimeoutMS: SOCKET_TIMEOUT_MS,
    appName: 'coffer',
  });
  await client.connect();
  return { client, db: client.db(dbName) };
}
