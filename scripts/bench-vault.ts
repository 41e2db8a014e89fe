/**
 * End-to-end vault benchmark (npm run bench): the real app over real HTTP on
 * the database the tests would use. Prints ratios measured in this one run;
 * absolute times depend on the machine and the engine.
 *
 *   list 50 secrets, metadata only            (no decryption, no audit)
 *   list 50 secrets with their values         (50 decryptions, ONE batched audit insert)
 *   reveal the same 50 values one per request (50 decryptions, 50 audit inserts)
 */
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { resolveDatabase } from '../src/db/engine.js';
import { createLogger } from '../src/logger.js';

const ROUNDS = 15;
const SECRETS = 50;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function main(): Promise<void> {
  const resolved = await resolveDatabase({ mongodbUri: process.env.MONGODB_URI || undefined, dbName: 'coffer_bench', projectRoot: root, log: (l) => console.log(l) });
  const client = new MongoClient(resolved.uri, { monitorCommands: true });
  let auditInserts = 0;
  client.on('commandStarted', (e) => {
    if (e.commandName === 'insert' && e.command.insert === 'audit_events') auditInserts++;
  });
  await client.connect();
  const db = client.db(`bench_vault_${randomUUID().slice(0, 8)}`);
  const config = loadConfig(
    {
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      VAULT_MASTER_KEYS: `b1:${randomBytes(32).toString('base64')}`,
      VAULT_ACTIVE_MASTER_KEY: 'b1',
      JWT_PRIVATE_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      RATE_LIMIT_PER_MINUTE: '1000000',
      AUTH_RATE_LIMIT_PER_MINUTE: '1000000',
    },
    { warn: () => {} },
  );
  const app = await createApp({ config, db, logger: createLogger('silent') });
  const { port } = await app.listen(0, '127.0.0.1');
  const gql = async (query: string, variables: Record<string, unknown> = {}, token?: string) => {
    const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data!;
  };
  try {
    const signUp = await gql('mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }', {
      i: { email: 'bench@example.com', password: 'violet-Harbor-lantern-93', tenantName: 'Bench' },
    });
    const token = (signUp.signUp as { accessToken: string }).accessToken;
    const items = Array.from({ length: SECRETS }, (_, i) => ({ name: `bench/s${String(i).padStart(2, '0')}`, value: randomBytes(24).toString('base64') }));
    await gql('mutation($items: [SetSecretInput!]!) { setSecrets(items: $items) { ok } }', { items }, token);

    const scenarios: { label: string; run: () => Promise<unknown> }[] = [
      { label: `list ${SECRETS}, metadata only`, run: () => gql(`{ secrets(first: ${SECRETS}) { edges { node { name version } } } }`, {}, token) },
      { label: `list ${SECRETS} with values (batched audit)`, run: () => gql(`{ secrets(first: ${SECRETS}) { edges { node { name value } } } }`, {}, token) },
      {
        label: `${SECRETS} reveals, one request each`,
        run: async () => {
          for (const item of items) await gql('query($n: String!) { secret(name: $n) { value } }', { n: item.name }, token);
        },
      },
    ];
    for (const s of scenarios) await s.run(); // warm-up
    const results: { label: string; ms: number; inserts: number }[] = [];
    for (const s of scenarios) {
      const times: number[] = [];
      const before = auditInserts;
      for (let r = 0; r < ROUNDS; r++) {
        const started = performance.now();
        await s.run();
        times.push(performance.now() - started);
      }
      results.push({ label: s.label, ms: times.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!, inserts: (auditInserts - before) / ROUNDS });
    }
    const base = results[0]!.ms;
    console.log(`\nvault end to end (median of ${ROUNDS}, engine: ${resolved.engine})`);
    console.log(`${'scenario'.padEnd(44)}${'audit inserts'.padStart(14)}${'time vs metadata-only list'.padStart(30)}`);
    for (const r of results) console.log(`${r.label.padEnd(44)}${r.inserts.toFixed(0).padStart(14)}${`${(r.ms / base).toFixed(2)}×`.padStart(30)}`);
    const [, batched, single] = results;
    console.log(
      `\nrevealing ${SECRETS} values in one list costs ${(batched!.ms / base).toFixed(2)}× the metadata-only list (decrypt + one audit insert); ` +
        `one request per value costs ${(single!.ms / batched!.ms).toFixed(1)}× the batched list.`,
    );
  } finally {
    await app.close();
    await db.dropDatabase().catch(() => {});
    await client.close();
    await resolved.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
