import { randomUUID } from 'node:crypto';
import { Binary, MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp, type CofferApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { TenantDocument, TenantScope } from '../../src/db/tenant-scope.js';
import { createLogger } from '../../src/logger.js';
import { MasterKeyring } from '../../src/modules/keys/keyring.js';
import type { SealedDataKind } from '../../src/modules/keys/sealed-data.js';
import { TenantCipher } from '../../src/modules/keys/tenant-cipher.js';
import { TenantKeyService } from '../../src/modules/keys/tenant-key.service.js';
import { expectOk, signUp, type Signed } from '../support/auth.js';
import { testEnv, type GraphQLResponse, type TestServer } from '../support/server.js';
import { mustCreate, reveal } from '../support/vault.js';

/**
 * A second kind of sealed data, as the privacy module will register one: notes in a
 * collection of their own, each sealed with the tenant cipher. Re-sealing can be held
 * at one note, to look at the rotation while that note still uses the old DEK.
 */
interface NoteDoc extends TenantDocument {
  blob: Binary;
  dekVersion: number;
  revision: number;
}

const NOTES = 'test_sealed_notes';
const noteAad = (tenantId: string, id: string) => Buffer.from(JSON.stringify(['coffer:test-note:v1', tenantId, id]));
const notesIn = (scope: TenantScope) => scope.collection<NoteDoc>(NOTES);

class Hold {
  at: string | null = null;
  private release: () => void = () => {};
  private reachedNow: () => void = () => {};
  readonly reached = new Promise<void>((resolve) => (this.reachedNow = resolve));
  private readonly released = new Promise<void>((resolve) => (this.release = resolve));

  async pass(id: string): Promise<void> {
    if (id !== this.at) return;
    this.reachedNow();
    await this.released;
  }

  open(): void {
    this.at = null;
    this.release();
  }
}

const hold = new Hold();

const notesKind: SealedDataKind<NoteDoc> = {
  name: 'test-notes',
  collection: NOTES,
  async countByDek(scope) {
    const rows = await notesIn(scope).aggregate<{ _id: number; count: number }>([{ $group: { _id: '$dekVersion', count: { $sum: 1 } } }]).toArray();
    return new Map(rows.map((row) => [row._id, row.count]));
  },
  async staleAfter(scope, target, cursor, limit) {
    const filter = cursor === null ? { dekVersion: { $ne: target } } : { _id: { $gt: cursor }, dekVersion: { $ne: target } };
    const items = await notesIn(scope).find(filter, { sort: { _id: 1 }, limit }).toArray();
    return { items, next: items.length < limit ? null : items[items.length - 1]!._id };
  },
  findOne(scope, id) {
    return notesIn(scope).findOne({ _id: id });
  },
  async reseal(scope, note, target, cipher) {
    if (note.dekVersion === target) return 0;
    await hold.pass(note._id);
    const blob = await cipher.reseal(scope.tenantId, noteAad(scope.tenantId, note._id), Buffer.from(note.blob.value()), note.dekVersion, target);
    const result = await notesIn(scope).updateOne({ _id: note._id, revision: note.revision }, { $set: { blob: new Binary(blob), dekVersion: target }, $inc: { revision: 1 } });
    return result.matchedCount === 1 ? 1 : null;
  },
};

const STATUS = '{ tenantKeyStatus { activeDekVersion versions { version secretVersionCount retiredAt } reencryption { state done total } } }';
interface Status {
  activeDekVersion: number;
  versions: { version: number; secretVersionCount: number; retiredAt: string | null }[];
  reencryption: { state: string; done: number; total: number };
}

let client: MongoClient;
let db: Db;
let app: CofferApp;
let server: TestServer;
/** Another instance's view of the same keys: seals and opens notes as the owning module would. */
let cipher: TenantCipher;
let owner: Signed;

beforeAll(async () => {
  const config = loadConfig(testEnv({ KEY_RETIRE_GRACE_SECONDS: '0', REENCRYPTION_BATCH_SIZE: '2', LOG_LEVEL: 'silent' }), { warn: () => {} });
  const logger = createLogger('silent');
  client = new MongoClient(inject('mongoUri'));
  await client.connect();
  db = client.db(`t_sealed_${randomUUID().slice(0, 8)}`);
  app = await createApp({ config, db, logger, sealedData: [notesKind] });
  const { url } = await app.listen(0, '127.0.0.1');
  server = {
    url,
    config,
    db,
    logs: [],
    writes: [],
    commands: [],
    async gql<T>(query: string, variables?: Record<string, unknown>, token?: string) {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as Omit<GraphQLResponse<T>, 'status' | 'headers'>;
      return { status: response.status, headers: response.headers, ...body };
    },
    close: async () => {},
  };
  cipher = new TenantCipher(new TenantKeyService({ db, keyring: MasterKeyring.fromConfig(config.vault), logger }));
  owner = await signUp(server, 'Sealed Kinds');
});
afterAll(async () => {
  hold.open(); // never leave the job waiting
  await app?.close();
  await db?.dropDatabase().catch(() => {});
  await client?.close();
});

async function sealNote(id: string, text: string): Promise<NoteDoc> {
  const sealed = await cipher.seal(owner.tenantId, noteAad(owner.tenantId, id), Buffer.from(text));
  return { _id: id, tenantId: owner.tenantId, blob: new Binary(sealed.blob), dekVersion: sealed.dekVersion, revision: 0 };
}

async function openNote(note: NoteDoc): Promise<string> {
  return (await cipher.open(owner.tenantId, noteAad(owner.tenantId, note._id), Buffer.from(note.blob.value()), note.dekVersion)).toString();
}

const status = async () => expectOk(await server.gql<{ tenantKeyStatus: Status }>(STATUS, {}, owner.accessToken)).tenantKeyStatus;
const notes = () => db.collection<NoteDoc>(NOTES).find({ tenantId: owner.tenantId }).sort({ _id: 1 }).toArray();

describe('a second kind of sealed data, registered with the app', () => {
  it('is counted, re-sealed by rotation, and keeps the old DEK alive until its last item has moved', async () => {
    await mustCreate(server, owner, 'svc/one', 'first value');
    await mustCreate(server, owner, 'svc/two', 'second value');
    await db.collection<NoteDoc>(NOTES).insertMany([await sealNote('n1', 'note one'), await sealNote('n2', 'note two'), await sealNote('n3', 'note three')]);
    // A writer that sealed under DEK v1 just before the rotation, landing later behind the walk's cursor.
    const late = await sealNote('n0', 'late note');
    expect(late.dekVersion).toBe(1);

    // Usage per DEK version sums over kinds: 2 secret versions + 3 notes.
    expect((await status()).versions).toEqual([{ version: 1, secretVersionCount: 5, retiredAt: null }]);

    hold.at = 'n2';
    const rotated = expectOk(await server.gql<{ rotateTenantKey: Status }>('mutation { rotateTenantKey { activeDekVersion reencryption { state total } } }', {}, owner.accessToken)).rotateTenantKey;
    expect(rotated).toEqual({ activeDekVersion: 2, reencryption: { state: 'RUNNING', total: 5 } });

    // The job has moved the secrets and n1, and is held at n2; the late note lands meanwhile.
    await hold.reached;
    await db.collection<NoteDoc>(NOTES).insertOne(late);
    const during = await status();
    expect(during.reencryption).toMatchObject({ state: 'RUNNING', total: 5 });
    expect(during.versions).toEqual([
      { version: 1, secretVersionCount: 3, retiredAt: null }, // n0, n2, n3
      { version: 2, secretVersionCount: 3, retiredAt: null }, // 2 secret versions + n1
    ]);
    expect((await notes()).map((n) => [n._id, n.dekVersion])).toEqual([['n0', 1], ['n1', 2], ['n2', 1], ['n3', 1]]);

    hold.open();
    let after = during;
    for (let i = 0; i < 100 && after.reencryption.state !== 'DONE'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = await status();
    }
    expect(after.reencryption).toEqual({ state: 'DONE', done: 5, total: 5 });
    expect(after.versions.map((v) => [v.version, v.secretVersionCount, v.retiredAt !== null])).toEqual([
      [1, 0, true],
      [2, 6, false], // 2 secret versions + 4 notes, the late one included
    ]);
    const stored = await notes();
    expect(stored.map((n) => n.dekVersion)).toEqual([2, 2, 2, 2]);
    expect(await Promise.all(stored.map(openNote))).toEqual(['late note', 'note one', 'note two', 'note three']);
    expect(expectOk(await reveal(server, owner, 'svc/one')).secret!.value).toBe('first value');
    // A fresh instance (nothing cached) finds DEK v1 retired.
    const fresh = new TenantCipher(new TenantKeyService({ db, keyring: MasterKeyring.fromConfig(server.config.vault), logger: createLogger('silent') }));
    await expect(fresh.open(owner.tenantId, noteAad(owner.tenantId, 'n0'), Buffer.from(late.blob.value()), 1)).rejects.toThrow(/retired/);
  });
});
