import type { IndexDescription } from 'mongodb';
import { MODULES } from './index.js';

/**
 * The README's index list and shard-key advice, generated from the modules' declarations
 * (`<m>.module.ts` collections; README "Scaling", printed by `npx tsx scripts/print-indexes.ts`,
 * checked current by test/platform/index-catalogue.test.ts).
 */

/** `{ tenantId: 1, name: 1 }` as written in mongosh. */
export function keyText(key: IndexDescription['key']): string {
  const entries = key instanceof Map ? [...key.entries()] : Object.entries(key);
  return `{ ${entries.map(([field, order]) => `${/^[A-Za-z_][A-Za-z0-9_]*$/.test(field) ? field : `'${field}'`}: ${typeof order === 'string' ? `'${order}'` : String(order)}`).join(', ')} }`;
}

const fieldsOf = (key: IndexDescription['key']): string[] => (key instanceof Map ? [...key.keys()] : Object.keys(key));

/**
 * The shard key for a tenant collection: `tenantId` first, so one tenant's documents stay
 * together and every tenant-scoped query targets one shard. MongoDB requires each unique index
 * to start with the whole shard key, so the key is the longest prefix all unique indexes share
 * (at least `tenantId`); without unique indexes, `{ tenantId: 1, _id: 1 }` spreads a large tenant
 * over chunks.
 */
export function shardKeyOf(indexes: readonly IndexDescription[]): string[] {
  const unique = indexes.filter((index) => index.unique).map((index) => fieldsOf(index.key));
  if (!unique.length) return ['tenantId', '_id'];
  const prefix: string[] = [];
  for (let i = 0; unique.every((fields) => fields[i] !== undefined && fields[i] === unique[0]![i]); i++) prefix.push(unique[0]![i]!);
  return prefix[0] === 'tenantId' ? prefix : ['tenantId'];
}

/** Every declared index, one row each, in module order. */
export function indexTable(): string {
  const rows = ['| collection | module | tenant data | index | keys | unique |', '| --- | --- | --- | --- | --- | :-: |'];
  for (const module of MODULES) {
    for (const collection of module.collections) {
      if (!collection.indexes.length) {
        rows.push(`| \`${collection.name}\` | ${module.name} | ${collection.tenantData} | – (\`_id\` only) | | |`);
        continue;
      }
      for (const index of collection.indexes) {
        rows.push(`| \`${collection.name}\` | ${module.name} | ${collection.tenantData} | \`${index.name ?? ''}\` | \`${keyText(index.key)}\` | ${index.unique ? '✓' : ''} |`);
      }
    }
  }
  return rows.join('\n');
}

/** The sharding advice: a shard key per tenant collection; global collections stay unsharded. */
export function shardTable(): string {
  const rows = ['| collection | tenant data | shard key |', '| --- | --- | --- |'];
  for (const module of MODULES) {
    for (const collection of module.collections) {
      const key = collection.tenantData === 'GLOBAL' ? 'unsharded (global, not per tenant)' : `\`${keyText(Object.fromEntries(shardKeyOf(collection.indexes).map((field) => [field, 1])))}\``;
      rows.push(`| \`${collection.name}\` | ${collection.tenantData} | ${key} |`);
    }
  }
  return rows.join('\n');
}
