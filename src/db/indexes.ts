import type { Db, IndexDescription } from 'mongodb';

/**
 * Creates `indexes` on `collection`, one per command (FerretDB v1 crashes on a repeated
 * multi-index createIndexes, see modules/index.ts); idempotent.
 */
export async function createIndexesOneByOne(db: Db, collection: string, indexes: readonly IndexDescription[]): Promise<void> {
  for (const index of indexes) await db.collection(collection).createIndexes([index]);
}
