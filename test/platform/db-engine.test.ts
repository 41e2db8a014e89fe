import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient, MongoServerError } from 'mongodb';
import { redactUri, resolveDatabase, type ResolvedDatabase } from '../../src/db/engine.js';
import { startFerretDb } from '../../src/db/ferretdb.js';

// Real servers, no mocks. Without MONGODB_URI or a local mongod this resolves to
// embedded FerretDB, whose first `go build` can take a minute or two.
const SLOW = { timeout: 180_000 };
const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dbName = 'coffer_engine_test';

function recorder(): { lines: string[]; log: (line: string) => void } {
  const lines: string[] = [];
  return { lines, log: (line) => void lines.push(line) };
}

async function withDb<T>(db: ResolvedDatabase, fn: (client: MongoClient) => Promise<T>): Promise<T> {
  const client = new MongoClient(db.uri, { serverSelectionTimeoutMS: 5_000 });
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.close();
  }
}

function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Runs `fn` with os.tmpdir() pointing at a fresh directory (this test file runs in its own worker). */
async function withOwnTmpdir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-engine-test-'));
  const saved = process.env['TMPDIR'];
  process.env['TMPDIR'] = dir;
  try {
    return await fn(dir);
  } finally {
    if (saved === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = saved;
    await rm(dir, { recursive: true, force: true });
  }
}

describe('resolveDatabase with no MONGODB_URI (embedded server)', () => {
  let db: ResolvedDatabase;
  const logged = recorder();

  beforeAll(async () => {
    db = await resolveDatabase({ dbName, projectRoot, log: logged.log });
  }, SLOW.timeout);

  afterAll(async () => {
    await db?.stop();
  });

  it('resolves to an embedded engine with the database name in the URI', () => {
    expect(['mongodb-memory-server', 'ferretdb']).toContain(db.engine);
    expect(db.dbName).toBe(dbName);
    expect(db.uri).toMatch(/^mongodb:\/\/127\.0\.0\.1:\d+\/coffer_engine_test$/);
  });

  it('logs exactly one "database: " line, without credentials', () => {
    const databaseLines = logged.lines.filter((line) => line.startsWith('database: '));
    expect(databaseLines).toEqual([`database: ${db.description}`]);
    expect(db.description).toContain(db.uri);
    expect(db.description).not.toContain('@');
  });

  it('stores and finds documents', async () => {
    await withDb(db, async (client) => {
      const things = client.db(db.dbName).collection<{ name: string; n: number }>('things');
      await things.insertOne({ name: 'alpha', n: 1 });
      const found = await things.findOne({ name: 'alpha' });
      expect(found).toMatchObject({ name: 'alpha', n: 1 });
    });
  });

  it('enforces unique indexes', async () => {
    await withDb(db, async (client) => {
      const users = client.db(db.dbName).collection<{ email: string }>('users');
      await users.createIndex({ email: 1 }, { unique: true });
      await users.insertOne({ email: 'a@example.com' });
      const duplicate = users.insertOne({ email: 'a@example.com' });
      await expect(duplicate).rejects.toBeInstanceOf(MongoServerError);
      await expect(duplicate).rejects.toMatchObject({ code: 11000 });
    });
  });
});

describe('stop() of an ephemeral embedded server', () => {
  it(
    'removes its temp dir and stops listening; calling it twice is fine',
    async () => {
      await withOwnTmpdir(async (scratch) => {
        const db = await resolveDatabase({ dbName, projectRoot, log: () => undefined });
        const port = Number(new URL(db.uri).port);
        expect(await readdir(scratch)).toHaveLength(1); // coffer-ferretdb-* or coffer-mongod-*
        expect(await acceptsConnections(port)).toBe(true);

        await db.stop();
        await db.stop();

        expect(await readdir(scratch)).toEqual([]);
        expect(await acceptsConnections(port)).toBe(false);
      });
    },
    SLOW.timeout,
  );
});

describe('persistent mode', () => {
  let persistentDir: string;

  beforeAll(async () => {
    persistentDir = await mkdtemp(path.join(tmpdir(), 'coffer-engine-persist-'));
  });

  afterAll(async () => {
    await rm(persistentDir, { recursive: true, force: true });
  });

  it(
    'keeps documents across stop and a new resolve in the same directory',
    async () => {
      const first = await resolveDatabase({ dbName, projectRoot, persistentDir, log: () => undefined });
      try {
        await withDb(first, (client) => client.db(first.dbName).collection('notes').insertOne({ text: 'kept' }));
      } finally {
        await first.stop();
      }
      const engineDir = first.engine === 'ferretdb' ? 'ferretdb' : 'mongodb';
      expect((await stat(path.join(persistentDir, engineDir))).isDirectory()).toBe(true);
      expect(first.description).toContain(persistentDir);

      const second = await resolveDatabase({ dbName, projectRoot, persistentDir, log: () => undefined });
      try {
        expect(second.engine).toBe(first.engine);
        const found = await withDb(second, (client) =>
          client.db(second.dbName).collection('notes').findOne({ text: 'kept' }),
        );
        expect(found).toMatchObject({ text: 'kept' });
      } finally {
        await second.stop();
      }
    },
    SLOW.timeout,
  );
});

describe('an embedded FerretDB that dies on its own', () => {
  it('is reported through warn with how it ended; a stop() it was asked for is not', async () => {
    const warned: string[] = [];
    const logged = recorder();
    const dying = await startFerretDb({ dbName, projectRoot, log: logged.log, warn: (line) => void warned.push(line) });
    process.kill(dying.pid!, 'SIGKILL');
    for (let i = 0; i < 100 && !warned.length; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(warned).toEqual([expect.stringMatching(new RegExp(`^embedded FerretDB \\(pid ${dying.pid}\\) exited unexpectedly \\(signal SIGKILL\\)`))]);
    await dying.stop();

    const stopped = await startFerretDb({ dbName, projectRoot, log: logged.log, warn: (line) => void warned.push(line) });
    expect(typeof stopped.recentOutput?.()).toBe('string');
    await stopped.stop();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(warned).toHaveLength(1);
    expect(logged.lines.filter((line) => line.includes('unexpectedly'))).toEqual([]);
  }, SLOW.timeout);
});

describe('resolveDatabase with MONGODB_URI (external)', () => {
  it('uses the URI as-is and never shows its credentials', async () => {
    const logged = recorder();
    const mongodbUri = 'mongodb://coffer-user:s3cret@db.example.com:27017/vault?authSource=admin';
    const db = await resolveDatabase({ mongodbUri, dbName, projectRoot, log: logged.log });

    expect(db.engine).toBe('external');
    expect(db.uri).toBe(mongodbUri);
    expect(db.dbName).toBe('vault');
    expect(db.description).toContain('mongodb://db.example.com:27017/vault?authSource=admin');
    expect(db.description).not.toMatch(/coffer-user|s3cret/);
    expect(logged.lines).toEqual([`database: ${db.description}`]);
    await db.stop();
    await db.stop();
  });

  it('takes the database name from options when the URI has none', async () => {
    const db = await resolveDatabase({
      mongodbUri: 'mongodb+srv://u:p@cluster0.example.net/?retryWrites=true',
      dbName,
      projectRoot,
      log: () => undefined,
    });
    expect(db.dbName).toBe(dbName);
    expect(db.description).not.toMatch(/u:p/);
  });
});

describe('redactUri', () => {
  it('strips user:password@', () => {
    expect(redactUri('mongodb://user:pass@localhost:27017/coffer')).toBe('mongodb://localhost:27017/coffer');
    expect(redactUri('mongodb+srv://user:pass@cluster0.example.net/coffer?w=majority')).toBe(
      'mongodb+srv://cluster0.example.net/coffer?w=majority',
    );
    expect(redactUri('mongodb://user@h1:1,h2:2/db')).toBe('mongodb://h1:1,h2:2/db');
  });

  it('also handles unescaped @ and / in passwords and secret query options', () => {
    expect(redactUri('mongodb://user:p@ss/w0rd@localhost/coffer')).toBe('mongodb://localhost/coffer');
    expect(redactUri('mongodb://localhost/?authMechanismProperties=AWS_SESSION_TOKEN:abc&tls=true')).toBe(
      'mongodb://localhost/?authMechanismProperties=***&tls=true',
    );
  });

  it('leaves URIs without credentials unchanged', () => {
    expect(redactUri('mongodb://127.0.0.1:40123/coffer')).toBe('mongodb://127.0.0.1:40123/coffer');
  });
});

describe('when no engine is available', () => {
  it(
    'throws an error naming all three ways out and why each step failed',
    async () => {
      // A MONGOMS_SYSTEM_BINARY that does not exist makes step 2 fail on any machine;
      // a project root without tools/ferretdb makes step 3 fail.
      const emptyRoot = await mkdtemp(path.join(tmpdir(), 'coffer-engine-noroot-'));
      const saved = process.env['MONGOMS_SYSTEM_BINARY'];
      process.env['MONGOMS_SYSTEM_BINARY'] = path.join(emptyRoot, 'no-such-mongod');
      const logged = recorder();
      try {
        const attempt = resolveDatabase({ dbName, projectRoot: emptyRoot, log: logged.log });
        await expect(attempt).rejects.toThrow(/MONGODB_URI/);
        const message = await attempt.then(
          () => '',
          (err: unknown) => (err instanceof Error ? err.message : String(err)),
        );
        expect(message).toMatch(/MONGOMS_SYSTEM_BINARY/);
        expect(message).toMatch(/install Go/);
        expect(message).toMatch(/- mongodb-memory-server: .*no-such-mongod/);
        expect(message).toMatch(/- embedded FerretDB: .*tools\/ferretdb/);
        expect(logged.lines.some((line) => line.startsWith('database: '))).toBe(false);
      } finally {
        if (saved === undefined) delete process.env['MONGOMS_SYSTEM_BINARY'];
        else process.env['MONGOMS_SYSTEM_BINARY'] = saved;
        await rm(emptyRoot, { recursive: true, force: true });
      }
    },
    SLOW.timeout,
  );
});

describe('first-run build of the embedded FerretDB', () => {
  const hasGo = (process.env['PATH'] ?? '').split(path.delimiter).some((dir) => existsSync(path.join(dir, 'go')));

  it.skipIf(!hasGo)(
    'says what it builds and where, reports progress while building, then how long it took',
    async () => {
      // A project root of its own with a copy of tools/ferretdb: no cached binary, so it builds.
      const root = await mkdtemp(path.join(tmpdir(), 'coffer-build-'));
      try {
        await cp(path.join(projectRoot, 'tools', 'ferretdb'), path.join(root, 'tools', 'ferretdb'), { recursive: true });
        const logged = recorder();
        const db = await startFerretDb({ dbName, projectRoot: root, log: logged.log, buildProgressMs: 100 });
        await db.stop();
        const [first, ...rest] = logged.lines;
        expect(first).toMatch(/^building the embedded FerretDB \(first run only\): `go build` of /);
        expect(first).toContain(path.join(root, 'tools', 'ferretdb'));
        expect(first).toContain(path.join(root, '.cache', 'ferretdb'));
        expect(first).toMatch(/1 to 4 minutes/);
        expect(rest.some((line) => /^still building the embedded FerretDB\.\.\. \d+ s$/.test(line)), logged.lines.join('\n')).toBe(true);
        expect(rest.at(-1)).toMatch(/^built the embedded FerretDB in \d+\.\d s$/);
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    },
    SLOW.timeout,
  );
});
