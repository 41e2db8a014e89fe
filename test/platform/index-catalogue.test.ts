import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { describe, expect, inject, it } from 'vitest';
import { MODULES, ensureIndexes } from '../../src/modules/index.js';
import { indexTable, shardKeyOf, shardTable } from '../../src/modules/index-catalogue.js';
import { ROOT } from '../support/processes.js';

const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The README text between `<!-- <name>:start -->` and `<!-- <name>:end -->`. */
function section(name: string): string {
  const match = new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)\\n<!-- ${name}:end -->`).exec(README);
  if (!match) throw new Error(`README has no ${name} markers`);
  return match[1]!;
}

describe('README "Scaling": indexes and shard keys', () => {
  it('lists every declared index as generated from the module declarations (regenerate: npx tsx scripts/print-indexes.ts --write)', () => {
    expect(section('indexes')).toBe(indexTable());
    expect(section('shard-keys')).toBe(shardTable());
  });

  it('names a tenantId-prefixed shard key for every tenant collection, one that starts each of its unique indexes (as MongoDB requires)', () => {
    for (const module of MODULES) {
      for (const collection of module.collections.filter((c) => c.tenantData !== 'GLOBAL')) {
        const key = shardKeyOf(collection.indexes);
        expect(key[0], collection.name).toBe('tenantId');
        for (const unique of collection.indexes.filter((index) => index.unique)) {
          expect(Object.keys(unique.key).slice(0, key.length), `${collection.name}.${unique.name}`).toEqual(key);
        }
      }
    }
  });

  it('chooses the shared prefix of the unique indexes, and { tenantId, _id } without any', () => {
    expect(shardKeyOf([])).toEqual(['tenantId', '_id']);
    expect(shardKeyOf([{ key: { tenantId: 1, name: 1 }, unique: true }, { key: { tenantId: 1, other: 1 } }])).toEqual(['tenantId', 'name']);
    expect(shardKeyOf([{ key: { tenantId: 1, a: 1 }, unique: true }, { key: { tenantId: 1, b: 1 }, unique: true }])).toEqual(['tenantId']);
  });

  it('is what ensureIndexes creates on a fresh database: every listed index, with its keys and uniqueness', async () => {
    const client = new MongoClient(inject('mongoUri'));
    await client.connect();
    const db = client.db(`t_idx_${randomUUID().slice(0, 8)}`);
    try {
      await ensureIndexes(db);
      for (const module of MODULES) {
        for (const collection of module.collections.filter((c) => c.indexes.length)) {
          const existing = await db.collection(collection.name).listIndexes().toArray();
          for (const index of collection.indexes) {
            const found = existing.find((e) => e.name === index.name);
            expect(found, `${collection.name}.${index.name}`).toBeDefined();
            expect(found!.key, `${collection.name}.${index.name}`).toEqual(index.key);
            expect(Boolean(found!.unique), `${collection.name}.${index.name}`).toBe(Boolean(index.unique));
          }
        }
      }
    } finally {
      await db.dropDatabase().catch(() => {});
      await client.close();
    }
  });
});
