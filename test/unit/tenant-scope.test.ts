import { randomUUID } from 'node:crypto';
import { MongoClient, type Db, type Document } from 'mongodb';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { systemSweep } from '../../src/db/cross-tenant-sweep.js';
import { learnIdLookupShape, TenantScope, type TenantDocument } from '../../src/db/tenant-scope.js';

interface Note extends TenantDocument {
  text: string;
  n: number;
}

const COLLECTION = 'notes';
let client: MongoClient;
let db: Db;
/** Aggregate pipelines as the server received them. */
const pipelines: Document[][] = [];
/** Find filters as the server received them. */
const findFilters: Document[] = [];

beforeAll(async () => {
  client = new MongoClient(inject('mongoUri'), { monitorCommands: true });
  client.on('commandStarted', (event) => {
    if (event.commandName === 'aggregate') pipelines.push(event.command.pipeline as Document[]);
    if (event.commandName === 'find') findFilters.push(event.command.filter as Document);
  });
  await client.connect();
  db = client.db(`u_${randomUUID().slice(0, 8)}`);
});
afterAll(async () => {
  await db.dropDatabase().catch(() => {});
  await client.close();
});

const notesOf = (tenantId: string) => new TenantScope(db, tenantId).collection<Note>(COLLECTION);
const raw = () => db.collection<Note>(COLLECTION);

beforeEach(async () => {
  await raw().deleteMany({});
  await raw().insertMany([
    { _id: 'a1', tenantId: 'a', text: 'one', n: 1 },
    { _id: 'a2', tenantId: 'a', text: 'two', n: 2 },
    { _id: 'b1', tenantId: 'b', text: 'one', n: 1 },
  ]);
});

describe('TenantCollection', () => {
  it('findOneById names the tenant in its filter on MongoDB (shard-targeted) and `_id` alone on FerretDB v1; both refuse a foreign id', async () => {
    // A handle nobody asked about gets the MongoDB shape.
    findFilters.length = 0;
    expect((await notesOf('a').findOneById('a1'))?.text).toBe('one');
    expect(await notesOf('a').findOneById('b1')).toBeNull();
    expect(findFilters).toEqual([
      { _id: 'a1', tenantId: 'a' },
      { _id: 'b1', tenantId: 'a' },
    ]);
    // The test engine is FerretDB v1: once learned, `_id` alone, the tenant checked on the document.
    expect(await learnIdLookupShape(db)).toBe(inject('mongoEngine') === 'ferretdb' ? 'bare' : 'scoped');
    findFilters.length = 0;
    expect((await notesOf('a').findOneById('a1'))?.text).toBe('one');
    expect(await notesOf('a').findOneById('b1')).toBeNull();
    if (inject('mongoEngine') === 'ferretdb') expect(findFilters).toEqual([{ _id: 'a1' }, { _id: 'b1' }]);
  });

  it('refuses filters that name tenantId', () => {
    expect(() => notesOf('a').find({ tenantId: 'b' })).toThrow(/must not name tenantId/);
    expect(() => notesOf('a').deleteMany({ tenantId: 'b' })).toThrow(/must not name tenantId/);
  });

  it('refuses updates that set, unset or rename into tenantId, and pipeline updates', () => {
    const notes = notesOf('a');
    expect(() => notes.updateOne({ _id: 'a1' }, { $set: { tenantId: 'b' } })).toThrow(/must not change tenantId/);
    expect(() => notes.updateMany({}, { $unset: { tenantId: '' } })).toThrow(/must not change tenantId/);
    expect(() => notes.updateOne({ _id: 'a1' }, { $rename: { text: 'tenantId' } })).toThrow(/must not change tenantId/);
    expect(() => notes.updateOne({ _id: 'a1' }, [{ $set: { text: 'x' } }])).toThrow(/pipelines/);
  });

  it('insertMany stamps the tenant and refuses documents of another tenant before writing any', async () => {
    const notes = notesOf('a');
    const stored = await notes.insertMany([
      { _id: 'a3', text: 'three', n: 3 },
      { _id: 'a4', text: 'four', n: 4 },
    ]);
    expect(stored.map((d) => d.tenantId)).toEqual(['a', 'a']);
    expect(await raw().countDocuments({ tenantId: 'a' })).toBe(4);
    const foreign = { _id: 'a5', tenantId: 'b', text: 'five', n: 5 };
    await expect(notes.insertMany([{ _id: 'a6', text: 'six', n: 6 }, foreign])).rejects.toThrow(/another tenant/);
    expect(await raw().countDocuments({ _id: { $in: ['a5', 'a6'] } })).toBe(0);
  });

  it('aggregate puts the tenant $match first and sees only the tenant', async () => {
    pipelines.length = 0;
    const rows = await notesOf('a')
      .aggregate<{ _id: string; total: number }>([{ $group: { _id: '$text', total: { $sum: '$n' } } }, { $sort: { _id: 1 } }])
      .toArray();
    expect(rows).toEqual([
      { _id: 'one', total: 1 },
      { _id: 'two', total: 2 },
    ]);
    expect(pipelines[0]![0]).toEqual({ $match: { tenantId: 'a' } });
  });

  it('aggregate refuses stages that reach other collections, also inside $facet', () => {
    const notes = notesOf('a');
    expect(() => notes.aggregate([{ $lookup: { from: COLLECTION, localField: 'n', foreignField: 'n', as: 'all' } }])).toThrow(/\$lookup/);
    expect(() => notes.aggregate([{ $unionWith: COLLECTION }])).toThrow(/\$unionWith/);
    expect(() => notes.aggregate([{ $out: 'copy' }])).toThrow(/\$out/);
    expect(() => notes.aggregate([{ $merge: { into: 'copy' } }])).toThrow(/\$merge/);
    expect(() => notes.aggregate([{ $facet: { x: [{ $graphLookup: { from: COLLECTION } }] } }])).toThrow(/\$graphLookup/);
  });

  it('deleteOne and deleteMany stay inside the tenant', async () => {
    expect((await notesOf('a').deleteOne({ _id: 'b1' })).deletedCount).toBe(0);
    expect((await notesOf('a').deleteMany({ text: 'one' })).deletedCount).toBe(1);
    expect(await raw().countDocuments({ _id: 'b1' })).toBe(1);
  });
});

describe('systemSweep', () => {
  it('reads and deletes across tenants (for background sweeps only)', async () => {
    const sweep = systemSweep<Note>(db, COLLECTION);
    expect((await sweep.find({ text: 'one' }, { projection: { _id: 1, tenantId: 1 }, sort: { _id: 1 } })).map((d) => d.tenantId)).toEqual(['a', 'b']);
    expect((await sweep.deleteOne({ _id: 'b1', tenantId: 'b' })).deletedCount).toBe(1);
    expect((await sweep.deleteMany({ n: { $lte: 2 } })).deletedCount).toBe(2);
  });
});
