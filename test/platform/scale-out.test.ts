import { randomBytes, randomUUID } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectCode, expectOk, signUp, type Signed } from '../support/auth.js';
import { newJwtKeyPem, startServer, type GraphQLResponse } from '../support/server.js';
import { killAll, output, spawnEntry, type Spawned } from '../support/processes.js';

/**
 * Two Coffer instances (`src/main.ts` as `npm start` runs it, two processes) on one database,
 * as behind a load balancer: budgets, sessions and scheduled jobs are shared through MongoDB.
 * A third, in-process server seeds the database first and is stopped before they start.
 */

const LISTENING = /^Coffer API listening on (http:\/\/\S+)\/graphql/;
const LISTEN_TIMEOUT_MS = 120_000;
const API_BUDGET = 20;
const AUTH_BUDGET = 6;

const dbName = `scale_${randomUUID().slice(0, 8)}`;
const sharedKeys = {
  VAULT_MASTER_KEYS: `s1:${randomBytes(32).toString('base64')}`,
  VAULT_ACTIVE_MASTER_KEY: 's1',
  JWT_PRIVATE_KEY: newJwtKeyPem(),
};

interface Instance {
  name: string;
  process: Spawned;
  url: string;
}

let client: MongoClient;
let db: Db;
let a: Instance;
let b: Instance;
let owner: Signed;
const PURGED_AT_START = 4;
const SUBJECTS = 4;
const REENCRYPTED = 40;
let purgeIds: string[] = [];
let subjectIds: string[] = [];

/** A client address of its own for each request, through X-Forwarded-For (TRUST_PROXY=loopback), so only the budget tests share one. */
let addressCounter = 0;
const freshAddress = () => `198.51.${100 + Math.floor(addressCounter / 250)}.${(addressCounter++ % 250) + 1}`;

async function gql<T = Record<string, unknown>>(at: Instance, query: string, variables: Record<string, unknown> = {}, token?: string, address = freshAddress()): Promise<GraphQLResponse<T>> {
  const response = await fetch(`${at.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Omit<GraphQLResponse<T>, 'status' | 'headers'>;
  return { status: response.status, headers: response.headers, ...body };
}

function databaseUri(name: string): string {
  return inject('mongoUri').replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
}

async function start(name: string): Promise<Instance> {
  const spawned = spawnEntry('src/main.ts', [], {
    env: {
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      MONGODB_URI: databaseUri(dbName),
      MONGODB_DB_NAME: dbName,
      ...sharedKeys,
      LOG_LEVEL: 'info',
      TRUST_PROXY: 'loopback',
      RATE_LIMIT_PER_MINUTE: String(API_BUDGET),
      AUTH_RATE_LIMIT_PER_MINUTE: String(AUTH_BUDGET),
      // Short intervals, so both instances' timers fire many times during the test.
      SECRET_PURGE_INTERVAL_SECONDS: '1',
      RETENTION_SWEEP_INTERVAL_MINUTES: '1',
      REENCRYPTION_BATCH_SIZE: '1',
      REENCRYPTION_LEASE_SECONDS: '5',
      KEY_RETIRE_GRACE_SECONDS: '0',
      SESSION_REVOCATION_CHECK_SECONDS: '5',
    },
  });
  const deadline = Date.now() + LISTEN_TIMEOUT_MS;
  for (;;) {
    const line = spawned.lines.find((l) => typeof l.msg === 'string' && LISTENING.test(l.msg));
    if (line) return { name, process: spawned, url: LISTENING.exec(line.msg!)![1]! };
    if (spawned.child.exitCode !== null || Date.now() > deadline) throw new Error(`${name} did not start\n${output(spawned)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function poll<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\nA:\n${output(a.process, 30)}\nB:\n${output(b.process, 30)}`);
    await sleep(everyMs);
  }
}

const countEvents = (action: string, ids?: string[]) =>
  db.collection('audit_events').countDocuments({ tenantId: owner.tenantId, action, ...(ids ? { 'resource.id': { $in: ids } } : {}) });

beforeAll(async () => {
  client = new MongoClient(databaseUri(dbName));
  await client.connect();
  db = client.db(dbName);

  // Seed through the API of an in-process server on the same database and keys, then stop it.
  const seed = await startServer({ ...sharedKeys, REENCRYPTION_BATCH_SIZE: '1', REENCRYPTION_LEASE_SECONDS: '5', KEY_RETIRE_GRACE_SECONDS: '0' }, dbName);
  try {
    owner = await signUp(seed, 'Scale Co');
    const create = (name: string) =>
      seed.gql<{ createSecret: { id: string } }>('mutation($input: CreateSecretInput!) { createSecret(input: $input) { id } }', { input: { name, value: `value of ${name}` } }, owner.accessToken);
    // Soft-deleted secrets, to be purged by whichever instance sweeps first.
    for (let i = 0; i < PURGED_AT_START; i++) {
      purgeIds.push(expectOk(await create(`purge/start-${i}`)).createSecret.id);
      expectOk(await seed.gql('mutation($n: String!) { deleteSecret(name: $n) { id } }', { n: `purge/start-${i}` }, owner.accessToken));
    }
    // Data subjects whose own retention date passes in two seconds.
    const until = new Date(Date.now() + 2_000).toISOString();
    for (let i = 0; i < SUBJECTS; i++) {
      const created = expectOk(
        await seed.gql<{ createDataSubject: { id: string } }>('mutation($input: CreateDataSubjectInput!) { createDataSubject(input: $input) { id } }', {
          input: { externalId: `scale-${i}`, email: `scale.${i}@example.net`, fullName: `Scale Person ${i}` },
        }, owner.accessToken),
      ).createDataSubject.id;
      expectOk(await seed.gql('mutation($id: ID!, $u: DateTimeISO) { setSubjectRetention(subjectId: $id, until: $u) { retainUntil } }', { id: created, u: until }, owner.accessToken));
      subjectIds.push(created);
    }
    // Secrets to re-encrypt, a rotation, and the seeding server stopped with the job unfinished.
    for (let i = 0; i < REENCRYPTED; i++) expectOk(await create(`reenc/s${i}`));
    expectOk(await seed.gql('mutation { rotateTenantKey { activeDekVersion } }', {}, owner.accessToken));
  } finally {
    await seed.close();
  }
  const job = (await db.collection('tenant_keys').findOne({ tenantId: owner.tenantId }))?.reencryption as { state: string; done: number; total: number } | undefined;
  expect(job?.state, `re-encryption must be unfinished when the seeding server stops: ${JSON.stringify(job)}`).toBe('RUNNING');
  // The deleted secrets' recovery window has passed (30 days ago), and the seeding server's
  // retention lease (held for its day-long term) is gone with it.
  await db.collection('secrets').updateMany({ _id: { $in: purgeIds as never[] } }, { $set: { deletedAt: new Date(Date.now() - 40 * 86_400_000) } });
  await db.collection('job_leases').deleteMany({});
  await sleep(2_000);

  [a, b] = await Promise.all([start('A'), start('B')]);
}, 300_000);

afterAll(async () => {
  killAll();
  await db?.dropDatabase().catch(() => {});
  await client?.close();
});

describe('two instances on one database', () => {
  it('(a) share the per-address request budget: half spent on A, half on B, the next is refused on both with 429 and Retry-After', async () => {
    const address = '203.0.113.20';
    const statuses: number[] = [];
    for (let i = 0; i < API_BUDGET; i++) statuses.push((await gql(i % 2 ? b : a, '{ __typename }', {}, undefined, address)).status);
    expect(statuses).toEqual(Array(API_BUDGET).fill(200));
    for (const instance of [a, b]) {
      const refused = await gql(instance, '{ __typename }', {}, undefined, address);
      expect(refused.status, instance.name).toBe(429);
      expectCode(refused, 'RATE_LIMITED');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(refused.errors![0]!.extensions.retryAfter).toBe(Number(refused.headers.get('retry-after')));
    }
    // Another address is not affected.
    expect((await gql(b, '{ __typename }')).status).toBe(200);
  });

  it('(a) share the login attempt budget: 3 attempts on A and 3 on B, the seventh is refused on B with 429', async () => {
    const address = '203.0.113.21';
    const attempt = (at: Instance) =>
      gql(at, 'mutation($input: LoginInput!) { login(input: $input) { accessToken } }', { input: { email: `nobody-${randomUUID().slice(0, 8)}@example.com`, password: 'wrong-Password-123456' } }, undefined, address);
    for (let i = 0; i < AUTH_BUDGET; i++) expectCode(await attempt(i < AUTH_BUDGET / 2 ? a : b), 'UNAUTHENTICATED');
    const seventh = await attempt(b);
    expectCode(seventh, 'RATE_LIMITED');
    expect(seventh.status).toBe(429);
    expect(seventh.headers.get('retry-after')).toBe(String(seventh.errors![0]!.extensions.retryAfter));
  });

  it('(b) a session logged out on A is refused by B within 5 s', async () => {
    const logged = expectOk(
      await gql<{ login: { accessToken: string } }>(a, 'mutation($input: LoginInput!) { login(input: $input) { accessToken } }', { input: { email: owner.email, password: owner.password } }),
    ).login.accessToken;
    // B has checked the session (and cached it) just before the logout: the slowest case.
    expectOk(await gql(b, '{ me { user { id } } }', {}, logged));
    expectOk(await gql(a, 'mutation { logout }', {}, logged));
    const loggedOutAt = Date.now();
    expectCode(await gql(a, '{ me { user { id } } }', {}, logged), 'UNAUTHENTICATED'); // at once on A
    // Poll B: note when each probe was sent (relative to the logout's answer) and whether B still accepted it.
    let lastAcceptedSentMs = -1;
    const firstRefusedSentMs = await poll(async () => {
      const sentMs = Date.now() - loggedOutAt;
      const res = await gql(b, '{ me { user { id } } }', {}, logged);
      if (res.errors?.[0]?.extensions.code === 'UNAUTHENTICATED') return sentMs;
      expectOk(res);
      lastAcceptedSentMs = sentMs;
      return undefined;
    }, 10_000, 'B to refuse the logged-out session', 50);
    console.log(
      `scale-out: after a logout on A, B last accepted the session in a request sent ${lastAcceptedSentMs} ms later and first refused one sent ${firstRefusedSentMs} ms later (SESSION_REVOCATION_CHECK_SECONDS=5)`,
    );
    // No request reaching B 5 s or more after the logout is served; the first refusal follows within the polling step.
    expect(lastAcceptedSentMs).toBeLessThan(5_000);
    expect(firstRefusedSentMs).toBeLessThan(5_300);
  });

  it('(c) the secret purge runs exactly once per secret, at start and while both sweep every second', async () => {
    // The secrets past their window when both started: purged once.
    await poll(async () => ((await db.collection('secrets').countDocuments({ _id: { $in: purgeIds as never[] } })) === 0 ? true : undefined), 30_000, 'the seeded secrets to be purged');
    // More, deleted while both run: each timer fires every second on each instance.
    const later: string[] = [];
    for (let i = 0; i < 6; i++) {
      const name = `purge/later-${i}`;
      later.push(expectOk(await gql<{ createSecret: { id: string } }>(i % 2 ? b : a, 'mutation($input: CreateSecretInput!) { createSecret(input: $input) { id } }', { input: { name, value: 'v' } }, owner.accessToken)).createSecret.id);
      expectOk(await gql(i % 2 ? a : b, 'mutation($n: String!) { deleteSecret(name: $n) { id } }', { n: name }, owner.accessToken));
    }
    await db.collection('secrets').updateMany({ _id: { $in: later as never[] } }, { $set: { deletedAt: new Date(Date.now() - 40 * 86_400_000) } });
    await poll(async () => ((await db.collection('secrets').countDocuments({ _id: { $in: later as never[] } })) === 0 ? true : undefined), 30_000, 'the later secrets to be purged');
    await sleep(3_000); // several more passes on both instances
    const all = [...purgeIds, ...later];
    expect(await countEvents('secret.purged', all)).toBe(all.length);
    for (const id of all) expect(await countEvents('secret.purged', [id]), id).toBe(1);
    // Both instances ran the job (their passes alternate through the lease), neither purged twice.
    const purgedBy = [a, b].map((instance) => instance.process.lines.filter((l) => l.event === 'secret.purge_sweep').reduce((sum, l) => sum + Number(l.purged), 0));
    console.log(`scale-out: ${all.length} secrets purged exactly once; purged by A ${purgedBy[0]}, by B ${purgedBy[1]}`);
    expect(purgedBy[0]! + purgedBy[1]!).toBe(all.length);
  }, 90_000);

  it('(c) the retention sweep erases each subject past its date exactly once', async () => {
    await poll(async () => ((await countEvents('subject.erased', subjectIds)) >= SUBJECTS ? true : undefined), 60_000, 'the retention sweep to erase the subjects', 250);
    await sleep(2_000);
    for (const id of subjectIds) {
      expect(await countEvents('subject.erasure_started', [id]), id).toBe(1);
      expect(await countEvents('subject.erased', [id]), id).toBe(1);
    }
    expect(await countEvents('retention.purged')).toBe(1);
  }, 90_000);

  it('(c) the interrupted re-encryption is resumed by both at start and completed exactly once', async () => {
    const done = await poll(async () => {
      const doc = await db.collection('tenant_keys').findOne({ tenantId: owner.tenantId });
      const job = doc?.reencryption as { state: string; done: number; total: number } | undefined;
      return job?.state === 'DONE' ? job : undefined;
    }, 90_000, 're-encryption to finish', 250);
    expect(done.done).toBe(done.total);
    await sleep(1_000);
    expect(await countEvents('key.reencryption_completed')).toBe(1);
    const status = expectOk(
      await gql<{ tenantKeyStatus: { activeDekVersion: number; versions: { version: number; secretVersionCount: number }[] } }>(b, '{ tenantKeyStatus { activeDekVersion versions { version secretVersionCount } } }', {}, owner.accessToken),
    ).tenantKeyStatus;
    expect(status.activeDekVersion).toBe(2);
    expect(status.versions.filter((v) => v.version !== 2).every((v) => v.secretVersionCount === 0)).toBe(true);
    const value = expectOk(await gql<{ secret: { value: string } }>(a, '{ secret(name: "reenc/s7") { value } }', {}, owner.accessToken)).secret.value;
    expect(value).toBe('value of reenc/s7');
    const resumedBy = [a, b].map((instance) => instance.process.lines.filter((l) => /re-?encryption/i.test(String(l.msg))).map((l) => l.msg));
    console.log(`scale-out: re-encryption of ${done.total} finished once; A logged ${JSON.stringify(resumedBy[0])}, B ${JSON.stringify(resumedBy[1])}`);
  }, 120_000);
});
