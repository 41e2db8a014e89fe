import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { MongoClient } from 'mongodb';
import { inject } from 'vitest';
import { createApp, type AppOptions } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { expectOk, type Signed } from '../support/auth.js';
import { graphqlAt, testEnv, type TestServer } from '../support/server.js';

/**
 * Like test/support/server.ts startServer, but passes privacy options to the app (a hook after
 * each erasure step) and lets two app instances share one database and environment.
 */
export async function startPrivacyServer(options: { dbName?: string; env?: Record<string, string>; privacy?: AppOptions['privacy'] } = {}): Promise<TestServer & { dbName: string; env: Record<string, string> }> {
  const dbName = options.dbName ?? `p_${randomUUID().slice(0, 8)}`;
  const env = options.env ?? testEnv({ LOG_LEVEL: 'trace' });
  const config = loadConfig(env, { warn: () => {} });
  const logs: string[] = [];
  const logger = createLogger(config.logLevel, new Writable({ write(chunk: Buffer, _enc, done) { logs.push(chunk.toString('utf8')); done(); } }));
  const client = new MongoClient(inject('mongoUri'));
  await client.connect();
  const db = client.db(dbName);
  const app = await createApp({ config, db, logger, privacy: options.privacy });
  const { port } = await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  return {
    url, config, db, logs, writes: [], commands: [], dbName, env,
    gql: graphqlAt(url),
    async close() {
      await app.close();
      await client.close();
    },
  };
}

export const SUBJECT_FIELDS = 'id externalId email phone fullName attributes identities { label value } restricted restrictedSince createdAt updatedAt revision';

export interface SubjectShape {
  id: string;
  externalId: string | null;
  email: string | null;
  phone: string | null;
  fullName: string | null;
  attributes: Record<string, unknown> | null;
  identities: { label: string; value: string }[] | null;
  restricted: boolean;
}

export function createSubject(server: TestServer, token: string, input: Record<string, unknown>) {
  return server.gql<{ createDataSubject: SubjectShape }>(`mutation($input: CreateDataSubjectInput!) { createDataSubject(input: $input) { ${SUBJECT_FIELDS} } }`, { input }, token);
}

export async function mustCreateSubject(server: TestServer, who: Signed | string, input: Record<string, unknown>): Promise<SubjectShape> {
  return expectOk(await createSubject(server, typeof who === 'string' ? who : who.accessToken, input)).createDataSubject;
}

export function readSubject(server: TestServer, token: string, id: string, purpose = 'support', fields = SUBJECT_FIELDS) {
  return server.gql<{ dataSubject: SubjectShape }>(`query($id: ID!, $p: String!) { dataSubject(id: $id, purpose: $p) { ${fields} } }`, { id, p: purpose }, token);
}

export function findSubjects(server: TestServer, token: string, filter: Record<string, unknown>, purpose = 'support') {
  return server.gql<{ dataSubjects: { edges: { node: SubjectShape }[] } }>(
    `query($f: DataSubjectFilter, $p: String!) { dataSubjects(filter: $f, purpose: $p) { edges { node { ${SUBJECT_FIELDS} } } pageInfo { hasNextPage endCursor } } }`,
    { f: filter, p: purpose },
    token,
  );
}

export const ERASE = 'mutation($id: ID!, $r: ErasureReason!) { eraseSubject(subjectId: $id, reason: $r) { subjectId tombstoneId state erasedAt receipt } }';
export const RECEIPT = 'query($id: ID!) { erasureReceipt(subjectId: $id) { subjectId tombstoneId state erasedAt receipt } }';

/** Every document of every collection, as JSON text (for plaintext scans). */
export async function dumpDatabase(server: TestServer): Promise<string> {
  const parts: string[] = [];
  for (const { name } of await server.db.listCollections().toArray()) parts.push(JSON.stringify(await server.db.collection(name).find({}).toArray()));
  return parts.join('\n');
}
