import 'reflect-metadata';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { graphql, type GraphQLSchema } from 'graphql';
import { MongoClient, type Collection, type CommandStartedEvent, type Db } from 'mongodb';
import { buildSchema } from 'type-graphql';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import type { Context } from '../../src/graphql/context.js';
import { createLogger } from '../../src/logger.js';
import { canonicalJson, chainEvents, GENESIS_HASH, linkHash } from '../../src/modules/audit/audit-chain.js';
import { PLATFORM_CHAIN, type AuditEventInput } from '../../src/modules/audit/audit-event.js';
import { AuditEventError } from '../../src/modules/audit/audit-input.js';
import { AuditLog } from '../../src/modules/audit/audit-log.js';
import { AuditResolver } from '../../src/modules/audit/audit.resolver.js';
import { AUDIT_COLLECTION, ensureAuditIndexes, type AuditEventDoc } from '../../src/modules/audit/audit.document.js';

let client: MongoClient;
let db: Db;
let raw: Collection<AuditEventDoc>;
const commands: CommandStartedEvent[] = [];
const logLines: string[] = [];
const logger = createLogger(
  'debug',
  new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  }),
);

/** Stands in for the keyring: one random 32-byte key per chain, shared by every AuditLog of the test. */
const chainKeys = new Map<string, Buffer>();
async function macKeyFor(chainId: string): Promise<Buffer> {
  const key = chainKeys.get(chainId) ?? randomBytes(32);
  chainKeys.set(chainId, key);
  return key;
}

const newLog = () => new AuditLog({ db, macKeyFor, logger });
const newTenant = () => `tenant-${randomUUID()}`;

function event(tenantId: string, n: number, overrides: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    tenantId,
    actor: { type: 'USER', id: `user-${n % 3}` },
    action: 'secret.revealed',
    resource: { type: 'SECRET', id: `secret-${n}` },
    outcome: 'SUCCESS',
    ip: '203.0.113.7',
    userAgent: 'vitest',
    requestId: `req-${n}`,
    details: { n, version: 1 },
    ...overrides,
  };
}

async function seqsOf(tenantId: string): Promise<number[]> {
  return (await raw.find({ tenantId }).sort({ seq: 1 }).toArray()).map((doc) => doc.seq);
}

const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

async function tenantWith(count: number, log = newLog()): Promise<string> {
  const tenantId = newTenant();
  await log.append(...oneTo(count).map((n) => event(tenantId, n)));
  return tenantId;
}

beforeAll(async () => {
  client = new MongoClient(inject('mongoUri'), { monitorCommands: true });
  client.on('commandStarted', (started) => commands.push(started));
  await client.connect();
  db = client.db(`t_${randomUUID().slice(0, 8)}`);
  raw = db.collection<AuditEventDoc>(AUDIT_COLLECTION);
  await ensureAuditIndexes(db);
  await ensureAuditIndexes(db);
});
afterAll(async () => {
  await db.dropDatabase().catch(() => {});
  await client.close();
});

describe('hash chain (pure functions)', () => {
  it('canonical JSON sorts keys at every depth and writes dates as ISO strings', () => {
    const a = canonicalJson({ b: 1, a: { d: [2, { z: true, y: null }], c: new Date(0) } });
    expect(a).toBe('{"a":{"c":"1970-01-01T00:00:00.000Z","d":[2,{"y":null,"z":true}]},"b":1}');
    expect(canonicalJson({ a: { c: new Date(0), d: [2, { y: null, z: true }] }, b: 1 })).toBe(a);
    expect(() => canonicalJson({ n: Number.NaN })).toThrow();
    expect(() => canonicalJson({ b: Buffer.from('x') })).toThrow();
  });

  it('links the first event to the genesis hash and each next one to the hash before it', () => {
    const key = randomBytes(32);
    const body = (id: string) => ({
      _id: id, tenantId: 't', time: new Date(0), actor: { type: 'SYSTEM' as const, id: null }, action: 'key.tenant_rotated',
      resource: { type: 'key', id: null }, outcome: 'SUCCESS' as const, ip: null, userAgent: null, requestId: null, details: {},
    });
    const [first, second] = chainEvents(key, null, [body('a'), body('b')]);
    expect(first).toMatchObject({ seq: 1, prevHash: GENESIS_HASH });
    expect(second).toMatchObject({ seq: 2, prevHash: first!.hash });
    const { hash, ...fields } = second!;
    expect(linkHash(key, first!.hash, fields)).toBe(hash);
    expect(linkHash(randomBytes(32), first!.hash, fields)).not.toBe(hash);
    expect(chainEvents(key, { seq: 41, hash: 'f'.repeat(64) }, [body('c')])[0]).toMatchObject({ seq: 42, prevHash: 'f'.repeat(64) });
  });
});

describe('appending', () => {
  it('keeps a valid, gap-free chain over many sequential and batched appends', async () => {
    const log = newLog();
    const tenantId = newTenant();
    for (const n of oneTo(30)) await log.append(event(tenantId, n));
    await log.append(...oneTo(20).map((n) => event(tenantId, 30 + n)));
    expect(await seqsOf(tenantId)).toEqual(oneTo(50));
    const first = await raw.findOne({ tenantId, seq: 1 });
    expect(first?.prevHash).toBe(GENESIS_HASH);
    expect(await log.verify(tenantId)).toEqual({ valid: true, checkedEvents: 50, firstInvalidSequence: null });
  });

  it('gives 100 concurrent appends in one tenant exactly seqs 1..100, in far fewer inserts (group commit)', async () => {
    const log = newLog();
    const tenantId = newTenant();
    const before = auditInserts();
    await Promise.all(oneTo(100).map((n) => log.append(event(tenantId, n))));
    expect(await seqsOf(tenantId)).toEqual(oneTo(100));
    expect(auditInserts() - before).toBeLessThan(10);
    expect(await log.verify(tenantId)).toEqual({ valid: true, checkedEvents: 100, firstInvalidSequence: null });
  });

  it('stays gap-free and valid when two server instances append to one tenant at the same time', async () => {
    const [serverA, serverB] = [newLog(), newLog()];
    const tenantId = newTenant();
    await serverA.append(event(tenantId, 0)); // A remembers head 1 …
    await serverB.append(event(tenantId, 0)); // … which B has just made stale: A's next batch must lose a race
    const conflictsBefore = logLines.filter((line) => line.includes('audit.append_conflict')).length;
    const waves = oneTo(6).map(async (wave) => {
      await Promise.all(oneTo(10).map((n) => serverA.append(event(tenantId, wave * 100 + n, { requestId: `A-${wave}-${n}` }))));
      await Promise.all(oneTo(10).map((n) => serverB.append(event(tenantId, wave * 100 + n, { requestId: `B-${wave}-${n}` }))));
    });
    await Promise.all([...waves, ...oneTo(20).map((n) => serverB.append(event(tenantId, n, { requestId: `B-x-${n}` })))]);
    const docs = await raw.find({ tenantId }).sort({ seq: 1 }).toArray();
    expect(docs.map((doc) => doc.seq)).toEqual(oneTo(2 + 120 + 20));
    expect(new Set(docs.map((doc) => doc.requestId)).size).toBe(1 + 120 + 20); // every event once (the two seeds share req-0)
    expect(logLines.filter((line) => line.includes('audit.append_conflict')).length).toBeGreaterThan(conflictsBefore);
    expect(await newLog().verify(tenantId)).toEqual({ valid: true, checkedEvents: 142, firstInvalidSequence: null });
  });

  it('keeps the stored prefix of a half-landed batch and re-chains only the rest (no event lost or doubled)', async () => {
    const log = newLog();
    const tenantId = newTenant();
    await log.append(event(tenantId, 1)); // this instance now believes the head is 1
    const squatter = { ...(await raw.findOne({ tenantId, seq: 1 }))!, _id: randomUUID(), seq: 3 };
    await raw.insertOne(squatter); // seq 3 taken behind its back: the ordered insert of 2,3,4 stores 2, then stops
    await log.append(...[2, 3, 4].map((n) => event(tenantId, n, { requestId: `half-${n}` })));
    const docs = await raw.find({ tenantId }).sort({ seq: 1 }).toArray();
    expect(docs.map((doc) => [doc.seq, doc.requestId])).toEqual([[1, 'req-1'], [2, 'half-2'], [3, 'req-1'], [4, 'half-3'], [5, 'half-4']]);
    expect(docs[3]!.prevHash).toBe(squatter.hash);
  });

  it('gives up after maxAttempts lost races and rejects the append', async () => {
    const tenantId = newTenant();
    const impatient = new AuditLog({ db, macKeyFor, logger, maxAttempts: 1 });
    await impatient.append(event(tenantId, 1));
    await newLog().append(event(tenantId, 2)); // the impatient instance's head is stale now
    await expect(impatient.append(event(tenantId, 3))).rejects.toMatchObject({ code: 11000 });
    await impatient.append(event(tenantId, 4)); // it re-reads the head after a failure
    expect(await seqsOf(tenantId)).toEqual([1, 2, 3]);
  });

  it('stores 50 events appended in one call with a single insert command', async () => {
    const log = newLog();
    const tenantId = newTenant();
    const before = auditInserts();
    await log.append(...oneTo(50).map((n) => event(tenantId, n)));
    expect(auditInserts() - before).toBe(1);
    expect(await seqsOf(tenantId)).toEqual(oneTo(50));
  });

  it('routes each event to its own chain, the platform chain included', async () => {
    const log = newLog();
    const [a, b] = [newTenant(), newTenant()];
    const platformBefore = (await seqsOf(PLATFORM_CHAIN)).length;
    await log.append(event(a, 1), event(b, 1), event(a, 2), event(PLATFORM_CHAIN, 1, { actor: { type: 'PUBLIC', id: null }, outcome: 'FAILURE' }));
    expect(await seqsOf(a)).toEqual([1, 2]);
    expect(await seqsOf(b)).toEqual([1]);
    expect(await seqsOf(PLATFORM_CHAIN)).toEqual(oneTo(platformBefore + 1));
    expect((await log.verify(PLATFORM_CHAIN)).valid).toBe(true);
  });
});

/** insert commands sent to audit_events so far. */
function auditInserts(): number {
  return commands.filter((c) => c.commandName === 'insert' && c.command.insert === AUDIT_COLLECTION).length;
}

describe('what goes into an event', () => {
  it('stores a secret-looking details value verbatim: callers must never pass secrets, the log does not rewrite evidence', async () => {
    const log = newLog();
    const tenantId = newTenant();
    const details = { note: 'password=hunter2', awsKey: 'AKIAIOSFODNN7EXAMPLE', when: new Date(0), nested: { list: [1, 'two', null] } };
    await log.append(event(tenantId, 1, { details }));
    const stored = await raw.findOne({ tenantId, seq: 1 });
    expect(stored?.details).toEqual({ ...details, when: '1970-01-01T00:00:00.000Z' });
    expect((await log.verify(tenantId)).valid).toBe(true);
  });

  it('cuts over-long request-derived text visibly instead of dropping the event', async () => {
    const log = newLog();
    const tenantId = newTenant();
    await log.append(event(tenantId, 1, { userAgent: 'x'.repeat(5000), details: { email: 'e'.repeat(3000) } }));
    const stored = await raw.findOne({ tenantId, seq: 1 });
    expect(stored?.userAgent).toBe(`${'x'.repeat(512)}…[truncated, 5000 chars]`);
    expect(stored?.details.email).toBe(`${'e'.repeat(1024)}…[truncated, 3000 chars]`);
    expect(logLines.some((line) => line.includes('audit.truncated') && line.includes('details.email'))).toBe(true);
    expect((await log.verify(tenantId)).valid).toBe(true);
  });

  it('rejects malformed events before anything is written', async () => {
    const log = newLog();
    const tenantId = newTenant();
    const bad: Partial<AuditEventInput>[] = [
      { details: { n: Number.NaN } },
      { details: { $where: 'x' } },
      { details: { 'a.b': 1 } },
      { details: { f: () => 1 } },
      { details: { deep: { a: { b: { c: { d: { e: 1 } } } } } } },
      { details: Object.fromEntries(oneTo(40).map((i) => [`k${i}`, 'y'.repeat(1000)])) }, // 40 KiB
      { action: 'Not A Verb' as never },
      { outcome: 'MAYBE' as never },
      { tenantId: '' },
    ];
    for (const overrides of bad) {
      await expect(log.append(event(tenantId, 1), event(tenantId, 2, overrides))).rejects.toBeInstanceOf(AuditEventError);
    }
    expect(await seqsOf(tenantId)).toEqual([]);
  });
});

describe('verification against tampering in the database', () => {
  it('finds an edited event at its sequence number', async () => {
    const log = newLog();
    const tenantId = await tenantWith(10, log);
    await raw.updateOne({ tenantId, seq: 4 }, { $set: { 'details.version': 2 } });
    expect(await log.verify(tenantId)).toEqual({ valid: false, checkedEvents: 3, firstInvalidSequence: 4 });
  });

  it('finds a field added to an event', async () => {
    const log = newLog();
    const tenantId = await tenantWith(5, log);
    await raw.updateOne({ tenantId, seq: 2 }, { $set: { approvedBy: 'mallory' } });
    expect(await log.verify(tenantId)).toMatchObject({ valid: false, firstInvalidSequence: 2 });
  });

  it('finds a deleted event as a gap at its sequence number', async () => {
    const log = newLog();
    const tenantId = await tenantWith(10, log);
    await raw.deleteOne({ tenantId, seq: 5 });
    expect(await log.verify(tenantId)).toEqual({ valid: false, checkedEvents: 4, firstInvalidSequence: 5 });
  });

  it('finds a forged event appended with a plain SHA-256 (no key)', async () => {
    const log = newLog();
    const tenantId = await tenantWith(10, log);
    const head = (await raw.findOne({ tenantId, seq: 10 }))!;
    const fields = { ...head, _id: randomUUID(), seq: 11, prevHash: head.hash, action: 'secret.created', details: {} } as Record<string, unknown>;
    delete fields.hash;
    const hash = createHash('sha256').update(head.hash).update(canonicalJson(fields)).digest('hex');
    await raw.insertOne({ ...(fields as unknown as AuditEventDoc), hash });
    expect(await log.verify(tenantId)).toEqual({ valid: false, checkedEvents: 10, firstInvalidSequence: 11 });
  });

  it('finds an event slipped into the middle by renumbering the later ones', async () => {
    const log = newLog();
    const tenantId = await tenantWith(10, log);
    for (let seq = 10; seq >= 6; seq -= 1) await raw.updateOne({ tenantId, seq }, { $set: { seq: seq + 1 } });
    const before = (await raw.findOne({ tenantId, seq: 5 }))!;
    const forged = { ...before, _id: randomUUID(), seq: 6, prevHash: before.hash, action: 'member.role_changed' } as Record<string, unknown>;
    delete forged.hash;
    await raw.insertOne({ ...(forged as unknown as AuditEventDoc), hash: createHash('sha256').update(canonicalJson(forged)).digest('hex') });
    expect(await log.verify(tenantId)).toEqual({ valid: false, checkedEvents: 5, firstInvalidSequence: 6 });
  });

  it('finds a deletion hidden by renumbering the later events down', async () => {
    const log = newLog();
    const tenantId = await tenantWith(10, log);
    await raw.deleteOne({ tenantId, seq: 6 });
    for (let seq = 7; seq <= 10; seq += 1) await raw.updateOne({ tenantId, seq }, { $set: { seq: seq - 1 } });
    expect(await seqsOf(tenantId)).toEqual(oneTo(9));
    expect(await log.verify(tenantId)).toEqual({ valid: false, checkedEvents: 5, firstInvalidSequence: 6 });
  });

  it('finds events edited and re-hashed all the way down the chain with the wrong key', async () => {
    const log = newLog();
    const tenantId = await tenantWith(10, log);
    const wrongKey = randomBytes(32);
    let prevHash = (await raw.findOne({ tenantId, seq: 2 }))!.hash;
    for (let seq = 3; seq <= 10; seq += 1) {
      const { hash: _old, ...doc } = (await raw.findOne({ tenantId, seq }))!;
      const edited = { ...doc, prevHash, details: seq === 3 ? { n: 3, version: 99 } : doc.details };
      prevHash = linkHash(wrongKey, prevHash, edited);
      await raw.replaceOne({ tenantId, seq }, { ...edited, hash: prevHash });
    }
    expect(await log.verify(tenantId)).toEqual({ valid: false, checkedEvents: 2, firstInvalidSequence: 3 });
  });

  it('verifies a range anchored on the event before it', async () => {
    const log = newLog();
    const tenantId = await tenantWith(12, log);
    expect(await log.verify(tenantId, 3, 7)).toEqual({ valid: true, checkedEvents: 5, firstInvalidSequence: null });
    expect(await log.verify(tenantId, 10)).toEqual({ valid: true, checkedEvents: 3, firstInvalidSequence: null });
    expect(await log.verify(tenantId, 13)).toEqual({ valid: true, checkedEvents: 0, firstInvalidSequence: null });
    await raw.updateOne({ tenantId, seq: 8 }, { $set: { outcome: 'DENIED' } });
    expect(await log.verify(tenantId, 1, 7)).toEqual({ valid: true, checkedEvents: 7, firstInvalidSequence: null });
    expect(await log.verify(tenantId, 6, 12)).toEqual({ valid: false, checkedEvents: 2, firstInvalidSequence: 8 });
    expect(await log.verify(tenantId, 9, 12)).toEqual({ valid: false, checkedEvents: 0, firstInvalidSequence: 8 }); // the anchor is broken
    await raw.deleteOne({ tenantId, seq: 10 });
    expect(await log.verify(tenantId, 11)).toEqual({ valid: false, checkedEvents: 0, firstInvalidSequence: 10 });
  });

  it('refuses a range that is not one', async () => {
    const log = newLog();
    await expect(log.verify('t', 0)).rejects.toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'from' } });
    await expect(log.verify('t', 5, 4)).rejects.toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'to' } });
  });
});

describe('listing', () => {
  let tenantId: string;
  let boundary: Date;
  const log = () => newLog();

  beforeAll(async () => {
    tenantId = newTenant();
    const writer = log();
    const kinds = ['secret.revealed', 'secret.created', 'member.invited'] as const;
    await writer.append(...oneTo(15).map((n) => event(tenantId, n, { action: kinds[n % 3]! })));
    await new Promise((resolve) => setTimeout(resolve, 20));
    boundary = new Date();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await writer.append(...oneTo(10).map((n) => event(tenantId, 15 + n, { action: kinds[(15 + n) % 3]! })));
    await writer.append(event(newTenant(), 1)); // another tenant's event must never show up
  });

  it('pages newest first with opaque cursors, hasNextPage and totalCount', async () => {
    const seen: number[] = [];
    let after: string | null = null;
    const pages: boolean[] = [];
    do {
      const page = await log().list(tenantId, {}, 10, after);
      expect(page.totalCount).toBe(25);
      seen.push(...page.edges.map((edge) => edge.node.seq));
      pages.push(page.pageInfo.hasNextPage);
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    } while (after);
    expect(seen).toEqual(oneTo(25).reverse());
    expect(pages).toEqual([true, true, false]);
    const first = await log().list(tenantId, {});
    expect(first.edges).toHaveLength(25);
    expect(first.edges[0]!.node.tenantId).toBe(tenantId);
    expect(first.edges[0]!.cursor).not.toContain('25');
  });

  it('filters by action, actor, resource and time', async () => {
    const seqs = async (filter: Parameters<AuditLog['list']>[1]) => (await log().list(tenantId, filter, 200)).edges.map((e) => e.node.seq);
    expect(await seqs({ action: 'member.invited' })).toEqual([23, 20, 17, 14, 11, 8, 5, 2]);
    expect(await seqs({ actorId: 'user-0' })).toEqual([24, 21, 18, 15, 12, 9, 6, 3]);
    expect(await seqs({ resourceType: 'SECRET', resourceId: 'secret-7' })).toEqual([7]);
    expect(await seqs({ from: boundary })).toEqual(oneTo(10).map((n) => 15 + n).reverse());
    expect(await seqs({ to: boundary })).toEqual(oneTo(15).reverse());
    expect(await seqs({ action: 'member.invited', from: boundary })).toEqual([23, 20, 17]);
    const page = await log().list(tenantId, { action: 'member.invited' }, 3);
    expect(page).toMatchObject({ totalCount: 8, pageInfo: { hasNextPage: true } });
    const next = await log().list(tenantId, { action: 'member.invited' }, 3, page.pageInfo.endCursor);
    expect(next.edges.map((e) => e.node.seq)).toEqual([14, 11, 8]);
  });

  it('keeps tenants apart: each has its own chain from seq 1 and sees only its own events', async () => {
    const other = await tenantWith(3);
    const page = await log().list(other, {});
    expect(page.totalCount).toBe(3);
    expect(page.edges.every((edge) => edge.node.tenantId === other)).toBe(true);
    expect((await log().list(newTenant(), {})).totalCount).toBe(0);
  });

  it('refuses a page size outside 1..200 and a cursor it did not make', async () => {
    await expect(log().list(tenantId, {}, 0)).rejects.toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'first' } });
    await expect(log().list(tenantId, {}, 201)).rejects.toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'first' } });
    await expect(log().list(tenantId, {}, 10, 'bm9wZQ')).rejects.toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'after' } });
  });
});

describe('GraphQL', () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await buildSchema({ resolvers: [AuditResolver], validate: { forbidUnknownValues: false } });
  });

  const contextFor = (tenantId: string | null, audit: AuditLog) =>
    ({
      viewer: { userId: 'u1', sessionId: 's1', tenantId, role: 'OWNER', platformAdmin: false },
      apiKey: null,
      authError: null,
      services: { audit },
      logger,
    }) as unknown as Context;

  it('lists and verifies the caller\'s tenant only', async () => {
    const audit = newLog();
    const tenantId = await tenantWith(4, audit);
    await tenantWith(2, audit);
    const result = await graphql({
      schema,
      source: `query($f: AuditEventFilter) {
        auditEvents(filter: $f, first: 2) {
          totalCount pageInfo { hasNextPage endCursor }
          edges { cursor node { id sequence time action outcome actor { type id } resource { type id } ip userAgent requestId details hash } }
        }
        verifyAuditLog(from: 2) { valid checkedEvents firstInvalidSequence }
      }`,
      variableValues: { f: { resourceType: 'SECRET' } },
      contextValue: contextFor(tenantId, audit),
    });
    expect(result.errors).toBeUndefined();
    const data = result.data as { auditEvents: { totalCount: number; pageInfo: { hasNextPage: boolean }; edges: { node: Record<string, unknown> }[] }; verifyAuditLog: unknown };
    expect(data.auditEvents.totalCount).toBe(4);
    expect(data.auditEvents.pageInfo.hasNextPage).toBe(true);
    expect(data.auditEvents.edges[0]!.node).toMatchObject({
      sequence: 4, action: 'SECRET_REVEALED', outcome: 'SUCCESS', actor: { type: 'USER', id: 'user-1' },
      resource: { type: 'SECRET', id: 'secret-4' }, details: { n: 4, version: 1 }, requestId: 'req-4',
    });
    expect(data.verifyAuditLog).toEqual({ valid: true, checkedEvents: 3, firstInvalidSequence: null });
  });

  it('refuses a session that is not scoped to a tenant', async () => {
    const result = await graphql({ schema, source: '{ verifyAuditLog { valid } }', contextValue: contextFor(null, newLog()) });
    expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
