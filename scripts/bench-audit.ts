/**
 * Audit log benchmark (npm run bench). Resolves the database the way the tests
 * do (MONGODB_URI, else an embedded server), uses a fresh database, and prints
 * ratios only: absolute numbers depend on the machine and the engine.
 *
 *   (a) 50 events appended one by one vs as one batch
 *   (b) 200 events from 50 concurrent callers in ONE tenant vs spread over 10
 *   (c) one audited event vs a bare insertOne of a document of the same size
 *       (into a collection with only the _id index; audit_events has five)
 *
 * Appends are measured in the steady state of a running server: each chain's
 * head is already known to this process (an untimed first event per chain).
 * The cold case, the first append of a chain after a start (one head read),
 * is its own row.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient, type Db } from 'mongodb';
import { resolveDatabase } from '../src/db/engine.js';
import { createLogger } from '../src/logger.js';
import type { AuditEventInput } from '../src/modules/audit/audit-event.js';
import { AuditLog } from '../src/modules/audit/audit-log.js';
import { AUDIT_COLLECTION, ensureAuditIndexes } from '../src/modules/audit/audit.document.js';

const ROUNDS = 5;
const SEQUENTIAL_EVENTS = 50;
const CALLERS = 50;
const EVENTS_PER_CALLER = 4;
const SPREAD_TENANTS = 10;

interface Measurement {
  ms: number;
  inserts: number;
}

/** setup() prepares untimed state (fresh tenants, warmed heads) and returns the timed work. */
interface Scenario {
  label: string;
  events: number;
  setup(): Promise<() => Promise<void>>;
}

let insertCommands = 0;
const keys = new Map<string, Buffer>();
const macKeyFor = async (chainId: string) => keys.get(chainId) ?? keys.set(chainId, randomBytes(32)).get(chainId)!;

function event(tenantId: string, n: number): AuditEventInput {
  return {
    tenantId,
    actor: { type: 'USER', id: randomUUID() },
    action: 'secret.revealed',
    resource: { type: 'SECRET', id: randomUUID() },
    outcome: 'SUCCESS',
    ip: '203.0.113.7',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) bench-audit',
    requestId: randomUUID(),
    details: { version: n, name: `prod/db/password-${n}` },
  };
}

/** What a stored audit event looks like, for the bare-insert baseline. */
function sameSizedDocument(n: number) {
  return {
    ...event(randomUUID(), n),
    _id: randomUUID(),
    seq: n,
    time: new Date(),
    prevHash: randomBytes(32).toString('hex'),
    hash: randomBytes(32).toString('hex'),
  };
}

async function measure(scenario: Scenario): Promise<Measurement> {
  const timed = await scenario.setup();
  const insertsBefore = insertCommands;
  const started = performance.now();
  await timed();
  return { ms: performance.now() - started, inserts: insertCommands - insertsBefore };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function concurrentCallers(log: AuditLog, tenants: string[]): Promise<void> {
  await Promise.all(
    Array.from({ length: CALLERS }, async (_, caller) => {
      for (let i = 0; i < EVENTS_PER_CALLER; i += 1) await log.append(event(tenants[caller % tenants.length]!, i));
    }),
  );
}

function scenarios(db: Db, log: AuditLog): Scenario[] {
  const baseline = db.collection<{ _id: string }>('bench_bare_inserts');
  /** New chains whose head this process already knows: the steady state of a running server. */
  const warmTenants = async (count: number) => {
    const tenants = Array.from({ length: count }, () => `bench-${randomUUID()}`);
    await log.append(...tenants.map((tenant) => event(tenant, 0)));
    return tenants;
  };
  return [
    {
      label: 'bare insertOne, sequential',
      events: SEQUENTIAL_EVENTS,
      setup: async () => async () => {
        for (let n = 0; n < SEQUENTIAL_EVENTS; n += 1) await baseline.insertOne(sameSizedDocument(n));
      },
    },
    {
      label: '(a) append, one by one',
      events: SEQUENTIAL_EVENTS,
      setup: async () => {
        const [tenant] = await warmTenants(1);
        return async () => {
          for (let n = 0; n < SEQUENTIAL_EVENTS; n += 1) await log.append(event(tenant!, n));
        };
      },
    },
    {
      label: '(a) append, one batch',
      events: SEQUENTIAL_EVENTS,
      setup: async () => {
        const [tenant] = await warmTenants(1);
        return () => log.append(...Array.from({ length: SEQUENTIAL_EVENTS }, (_, n) => event(tenant!, n)));
      },
    },
    {
      label: `(b) ${CALLERS} concurrent callers, 1 tenant`,
      events: CALLERS * EVENTS_PER_CALLER,
      setup: async () => {
        const tenants = await warmTenants(1);
        return () => concurrentCallers(log, tenants);
      },
    },
    {
      label: `(b) ${CALLERS} concurrent callers, ${SPREAD_TENANTS} tenants`,
      events: CALLERS * EVENTS_PER_CALLER,
      setup: async () => {
        const tenants = await warmTenants(SPREAD_TENANTS);
        return () => concurrentCallers(log, tenants);
      },
    },
    {
      label: 'first append of a chain (head read)',
      events: 1,
      setup: async () => {
        const tenant = `bench-${randomUUID()}`;
        return () => log.append(event(tenant, 0));
      },
    },
  ];
}

interface Row {
  label: string;
  events: number;
  inserts: number;
  usPerEvent: number;
}

/** One warm-up round, then ROUNDS rounds; per scenario the median round. */
async function runAll(list: Scenario[]): Promise<Row[]> {
  for (const scenario of list) await measure(scenario);
  const results = list.map(() => [] as Measurement[]);
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const [i, scenario] of list.entries()) results[i]!.push(await measure(scenario));
  }
  return list.map((scenario, i) => {
    const rounds = results[i]!;
    return {
      label: scenario.label,
      events: scenario.events,
      inserts: median(rounds.map((m) => m.inserts)),
      usPerEvent: median(rounds.map((m) => (m.ms * 1000) / scenario.events)),
    };
  });
}

const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

function printTable(rows: Row[]): void {
  const bare = rows[0]!.usPerEvent;
  const header = ['scenario', 'events', 'insert cmds', 'cost/event vs bare insertOne'];
  const lines = rows.map((r) => [r.label, String(r.events), String(r.inserts), ratio(r.usPerEvent, bare)]);
  const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c]!.length)));
  const format = (cells: string[]) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  console.log(format(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const line of lines) console.log(format(line));
}

function summary(rows: Row[]): string {
  const [bare, oneByOne, batch, oneTenant, tenTenants] = rows.map((r) => r.usPerEvent) as [number, number, number, number, number];
  return [
    `(a) a batch of ${SEQUENTIAL_EVENTS} is ${ratio(oneByOne, batch)} cheaper per event than one-by-one appends`,
    `(b) per event, 1 hot tenant costs ${ratio(oneTenant, tenTenants)} of ${SPREAD_TENANTS} tenants (group commit: ${rows[3]!.inserts} inserts for ${rows[3]!.events} events)`,
    `(c) an audited event costs ${ratio(oneByOne, bare)} a bare insertOne`,
  ].join('; ');
}

async function main(): Promise<void> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const resolved = await resolveDatabase({
    mongodbUri: process.env.MONGODB_URI || undefined,
    dbName: 'coffer_bench',
    projectRoot: root,
    log: (line) => console.error(line),
  });
  const client = new MongoClient(resolved.uri, { monitorCommands: true });
  client.on('commandStarted', (started) => {
    if (started.commandName === 'insert') insertCommands += 1;
  });
  const db = client.db(`bench_${randomUUID().slice(0, 8)}`);
  try {
    await client.connect();
    await ensureAuditIndexes(db);
    const log = new AuditLog({ db, macKeyFor, logger: createLogger('warn') });
    console.log(`audit log benchmark on ${resolved.engine}: median of ${ROUNDS} rounds after a warm-up; ratios only\n`);
    const rows = await runAll(scenarios(db, log));
    printTable(rows);
    console.log(`\n${summary(rows)}`);
    if (resolved.engine === 'ferretdb') {
      const stored = await db.collection(AUDIT_COLLECTION).countDocuments();
      console.log(`(FerretDB v1 pushes no sort down: the head read scans all ${stored} stored events; on MongoDB it is an index seek)`);
    }
  } finally {
    await db.dropDatabase().catch(() => {});
    await client.close();
    await resolved.stop();
  }
}

await main();
