import { MongoClient, type Db } from 'mongodb';

/** Connects the official driver; fails within seconds when the server is unreachable. */
export async function connectMongo(uri: string, dbName: string): Promise<{ client: MongoClient; db: Db }> {
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: 10_000,
    appName: 'coffer',
  });
  await client.connect();
  return { client, db: client.db(dbName) };
}
