import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { Writable } from 'node:stream';
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { RateLimitSweepJob } from '../../src/jobs/rate-limit-sweep.job.js';
import { createLogger } from '../../src/logger.js';
import { Throttle } from '../../src/modules/auth/throttle.js';
import { ensureIndexes } from '../../src/modules/index.js';
import { RATE_LIMITS_COLLECTION } from '../../src/modules/limits/rate-limit.repository.js';

/**
 * The attempt budgets in MongoDB (rate-limiter-flexible's RateLimiterMongo) on the run's real
 * database engine (embedded FerretDB v1 here: no TTL index), with the module's declared indexes.
 */

let client: MongoClient;
let db: Db;
/** Commands sent to the rate_limits collection, for counting round trips. */
const limiterCommands: string[] = [];

beforeAll(async () => {
  client = new MongoClient(inject('mongoUri'), { monitorCommands: true });
  client.on('commandStarted', (event) => {
    if (String(event.command[event.commandName]) === RATE_LIMITS_COLLECTION) limiterCommands.push(event.commandName);
  });
  await client.connect();
  db = client.db(`t_rl_${randomUUID().slice(0, 8)}`);
  await ensureIndexes(db);
});
afterAll(async () => {
  await db?.dropDatabase().catch(() => {});
  await client?.close();
});

/** The outcome of one attempt: 'ok', or the refusal's retryAfter. */
async function attempt(throttle: Throttle, key: string): Promise<'ok' | number> {
  try {
    await throttle.consume(key);
    return 'ok';
  } catch (error) {
    if (error instanceof AppError && error.code === 'RATE_LIMITED') return Number(error.extensions.retryAfter);
    throw error;
  }
}

describe('rate limits in MongoDB', () => {
  it('two throttles on one database (two instances) share one budget: 3 attempts on A and 2 on B spend 5, the sixth is refused on either', async () => {
    const a = new Throttle({ db, name: 'shared', points: 5 });
    const b = new Throttle({ db, name: 'shared', points: 5 });
    const key = `login:${randomUUID()}`;
    expect([await attempt(a, key), await attempt(a, key), await attempt(a, key), await attempt(b, key), await attempt(b, key)]).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    const refusedOnA = await attempt(a, key);
    const refusedOnB = await attempt(b, key);
    expect(refusedOnA).toBeGreaterThanOrEqual(1);
    expect(refusedOnA).toBeLessThanOrEqual(60);
    expect(refusedOnB).toBeGreaterThanOrEqual(1);
    // Another key and another budget name are untouched.
    expect(await attempt(a, `login:${randomUUID()}`)).toBe('ok');
    expect(await attempt(new Throttle({ db, name: 'other', points: 5 }), key)).toBe('ok');
    // Stored under `<name>:<key>`, one document per key and window.
    expect(await db.collection(RATE_LIMITS_COLLECTION).countDocuments({ key: `shared:${key}` })).toBe(1);
  });

  it('a batched budget (the whole-API one) shares the budget within 5 % per instance: two instances alternating accept between 200 and 220 of a 200 budget, then both refuse', async () => {
    const a = new Throttle({ db, name: 'batched', points: 200, batch: { maxDelayMs: 250 } });
    const b = new Throttle({ db, name: 'batched', points: 200, batch: { maxDelayMs: 250 } });
    const key = `api:${randomUUID()}`;
    let accepted = 0;
    for (let i = 0; i < 400; i++) if ((await attempt(i % 2 ? b : a, key)) === 'ok') accepted++;
    expect(accepted).toBeGreaterThanOrEqual(200);
    expect(accepted).toBeLessThanOrEqual(220); // the budget + 2 instances × step (10)
    await new Promise((resolve) => setTimeout(resolve, 400)); // past the batch delay: both know the total
    expect(await attempt(a, key)).toBeGreaterThanOrEqual(1);
    expect(await attempt(b, key)).toBeGreaterThanOrEqual(1);
    const stored = await db.collection(RATE_LIMITS_COLLECTION).findOne({ key: `batched:${key}` });
    expect(Number(stored?.points)).toBeGreaterThanOrEqual(accepted);
  });

  it('a batched budget far from its limit writes once per batch, not once per request', async () => {
    const throttle = new Throttle({ db, name: 'batched-far', points: 100_000, batch: { maxDelayMs: 250 } });
    const key = `api:${randomUUID()}`;
    const before = limiterCommands.length;
    const started = Date.now();
    for (let i = 0; i < 500; i++) expect(await attempt(throttle, key)).toBe('ok');
    const elapsed = Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 400)); // the last batch is written
    const writes = limiterCommands.slice(before).filter((c) => c === 'findAndModify').length;
    // The first (exact) request, then one write per 250 ms at most: a few, not 500.
    expect(writes).toBeLessThanOrEqual(2 + Math.ceil(elapsed / 250));
    expect(writes).toBeLessThan(20);
    const stored = await db.collection(RATE_LIMITS_COLLECTION).findOne({ key: `batched-far:${key}` });
    expect(Number(stored?.points)).toBe(500);
  });

  it('without a TTL index an ended window blocks no one: the next attempt starts a new window in the same document', async () => {
    const key = `signup:${randomUUID()}`;
    const first = new Throttle({ db, name: 'short', points: 2, durationSeconds: 1 });
    expect([await attempt(first, key), await attempt(first, key)]).toEqual(['ok', 'ok']);
    expect(await attempt(first, key)).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    // The ended window is still stored (nothing expires documents on FerretDB v1) ...
    const stored = await db.collection(RATE_LIMITS_COLLECTION).find({ key: `short:${key}` }).toArray();
    expect(stored).toHaveLength(1);
    expect(stored[0]!.expire.getTime()).toBeLessThan(Date.now());
    // ... and blocks no instance: neither one that refused the key from memory nor a fresh one.
    const fresh = new Throttle({ db, name: 'short', points: 2, durationSeconds: 1 });
    const started = Date.now();
    expect(await attempt(first, key)).toBe('ok');
    const reopenMs = Date.now() - started;
    expect(await attempt(fresh, key)).toBe('ok');
    expect(await attempt(fresh, key)).toBe(1);
    const after = await db.collection(RATE_LIMITS_COLLECTION).find({ key: `short:${key}` }).toArray();
    expect(after, 'the old window is overwritten, not duplicated').toHaveLength(1);
    expect(after[0]!.points).toBe(3);
    expect(after[0]!.expire.getTime()).toBeGreaterThan(Date.now());
    console.log(`rate limit store: an ended window reopened in ${reopenMs} ms (duplicate-key error, then overwrite)`);
  });

  it('once a key is over its budget this instance refuses it from memory: no database round trip per refused attempt', async () => {
    const throttle = new Throttle({ db, name: 'flood', points: 3 });
    const key = `pages|${randomUUID()}`;
    for (let i = 0; i < 3; i++) expect(await attempt(throttle, key)).toBe('ok');
    expect(await attempt(throttle, key)).toBeGreaterThanOrEqual(1); // the store says over: blocked in memory from here on
    const before = limiterCommands.length;
    for (let i = 0; i < 50; i++) expect(await attempt(throttle, key)).toBeGreaterThanOrEqual(1);
    expect(limiterCommands.length - before).toBe(0);
    // Other keys still go to the store.
    expect(await attempt(throttle, `pages|${randomUUID()}`)).toBe('ok');
    expect(limiterCommands.length - before).toBe(1);
  });

  it('costs one findAndModify per counted attempt (measured: store vs memory vs an over-budget key)', async () => {
    const N = 200;
    const time = async (throttle: Throttle, key: () => string) => {
      const started = process.hrtime.bigint();
      for (let i = 0; i < N; i++) await attempt(throttle, key());
      return Number(process.hrtime.bigint() - started) / 1e6 / N;
    };
    const before = limiterCommands.length;
    const storeMs = await time(new Throttle({ db, name: 'cost', points: 1_000_000 }), () => 'one-address');
    expect(limiterCommands.slice(before)).toEqual(Array(N).fill('findAndModify'));
    const blocked = new Throttle({ db, name: 'cost-over', points: 1 });
    await attempt(blocked, 'x');
    await attempt(blocked, 'x');
    const blockedMs = await time(blocked, () => 'x');
    const { RateLimiterMemory } = await import('rate-limiter-flexible');
    const memory = new RateLimiterMemory({ points: 1_000_000, duration: 60 });
    const memStarted = process.hrtime.bigint();
    for (let i = 0; i < N; i++) await memory.consume('one-address');
    const memoryMs = Number(process.hrtime.bigint() - memStarted) / 1e6 / N;
    console.log(`rate limit store: ${storeMs.toFixed(2)} ms per counted attempt in MongoDB, ${blockedMs.toFixed(3)} ms per refused attempt of a key over budget, ${memoryMs.toFixed(3)} ms in memory (${N} sequential attempts each)`);
  });

  it('the rate-limit sweep deletes ended windows and keeps live ones', async () => {
    const live = `live:${randomUUID()}`;
    const ended = `ended:${randomUUID()}`;
    await attempt(new Throttle({ db, name: 'keep', points: 5 }), live);
    await attempt(new Throttle({ db, name: 'gone', points: 5, durationSeconds: 1 }), ended);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const removed = await new RateLimitSweepJob({ db, logger: createLogger('silent') }).sweep();
    expect(removed).toBeGreaterThanOrEqual(1);
    expect(await db.collection(RATE_LIMITS_COLLECTION).countDocuments({ key: `gone:${ended}` })).toBe(0);
    expect(await db.collection(RATE_LIMITS_COLLECTION).countDocuments({ key: `keep:${live}` })).toBe(1);
  });
});

describe('rate limits while the database is unreachable', () => {
  let deadClient: MongoClient;
  let deadDb: Db;
  beforeAll(async () => {
    // A port that refuses connections: the real driver, failing as it would in an outage.
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    deadClient = new MongoClient(`mongodb://127.0.0.1:${port}/`, { serverSelectionTimeoutMS: 3_000, connectTimeoutMS: 3_000 });
    deadDb = deadClient.db('unreachable');
  });
  afterAll(async () => deadClient?.close());

  it('each instance falls back to its own in-memory budget of the same size: the first check waits the store timeout, the next ones (for the retry period) nothing; one warning', async () => {
    const lines: string[] = [];
    const logger = createLogger('info', new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString('utf8')); done(); } }));
    const throttle = new Throttle({ db: deadDb, name: 'api', points: 3, storeTimeoutMs: 300, storeRetryMs: 60_000, logger });
    const key = '203.0.113.5';
    const times: number[] = [];
    const outcomes: ('ok' | number)[] = [];
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      outcomes.push(await attempt(throttle, key));
      times.push(Date.now() - started);
    }
    expect(outcomes.slice(0, 3)).toEqual(['ok', 'ok', 'ok']);
    expect(outcomes[3]).toBeGreaterThanOrEqual(1);
    expect(outcomes[4]).toBeGreaterThanOrEqual(1);
    // Never the driver's 3 s server selection: the store timeout once, then the in-memory budget alone.
    expect(times[0]).toBeGreaterThanOrEqual(290);
    expect(times[0]).toBeLessThan(1_500);
    expect(Math.max(...times.slice(1))).toBeLessThan(100);
    expect(lines.filter((l) => l.includes('rate-limit store unavailable'))).toHaveLength(1);
    expect(lines.join('')).not.toContain(key); // the client address is not logged
    console.log(`rate limit store unreachable: attempts answered in ${times.join(', ')} ms (store timeout 300 ms)`);
  });

  it('tries the store again after the retry period', async () => {
    const throttle = new Throttle({ db: deadDb, name: 'api-retry', points: 100, storeTimeoutMs: 200, storeRetryMs: 500 });
    const timed = async () => {
      const started = Date.now();
      expect(await attempt(throttle, 'k')).toBe('ok');
      return Date.now() - started;
    };
    expect(await timed()).toBeGreaterThanOrEqual(190);
    expect(await timed()).toBeLessThan(100);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(await timed()).toBeGreaterThanOrEqual(190); // the store is tried (and waited for) again
  });
});

describe('what the shared budgets store', () => {
  it('no client address or user id in plaintext: every budget key in rate_limits is a keyed hash', async () => {
    const { startServer } = await import('../support/server.js');
    const { signUp } = await import('../support/auth.js');
    const server = await startServer();
    try {
      const owner = await signUp(server);
      // The API budget (per address), the attempt budget of exportMyData (per user) and a login (per address).
      await server.gql('{ __typename }');
      await server.gql('{ exportMyData { user { id } } }', {}, owner.accessToken);
      await server.gql('mutation { login(input: { email: "nobody@example.com", password: "wrong wrong wrong" }) { accessToken } }');
      const docs = await server.db.collection(RATE_LIMITS_COLLECTION).find({}).toArray();
      expect(docs.length).toBeGreaterThanOrEqual(3);
      const stored = JSON.stringify(docs);
      for (const plain of ['127.0.0.1', '::1', '::ffff:', owner.userId, 'login:', 'export:']) expect(stored, plain).not.toContain(plain);
      for (const doc of docs) expect(String(doc.key)).toMatch(/^(api|auth|pages):[A-Za-z0-9_-]{43}$/);
    } finally {
      await server.close();
    }
  });
});
