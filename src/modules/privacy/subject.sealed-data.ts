import { Binary, type Filter } from 'mongodb';
import type { TenantCollection, TenantScope } from '../../db/tenant-scope.js';
import type { SealedDataKind } from '../keys/sealed-data.js';
import { subjectKeyAad } from './subject-cipher.js';
import { indexKeyAad } from './subject-keys.js';
import { SubjectRepository } from './subject.repository.js';
import { SUBJECT_INDEX_KEYS_COLLECTION, SUBJECT_KEYS_COLLECTION, type IndexKeyDoc, type SubjectKeyDoc } from './subject.document.js';

type WrappedDoc = SubjectKeyDoc | IndexKeyDoc;

/** The parts of a kind common to both wrapped-key collections: one wrapped key per document. */
function wrappedKeys<T extends WrappedDoc>(
  name: string,
  collection: string,
  of: (scope: TenantScope) => TenantCollection<T>,
): Omit<SealedDataKind<T>, 'reseal'> {
  return {
    name,
    collection,
    async countByDek(scope) {
      const rows = await of(scope)
        .aggregate<{ _id: number; count: number }>([{ $group: { _id: '$dekVersion', count: { $sum: 1 } } }])
        .toArray();
      return new Map(rows.map((row) => [row._id, row.count]));
    },
    async staleAfter(scope, target, cursor, limit) {
      const filter = (cursor === null ? {} : { _id: { $gt: cursor } }) as Filter<T>;
      const page = (await of(scope).find(filter, { sort: { _id: 1 }, limit }).toArray()) as T[];
      return { items: page.filter((doc) => doc.dekVersion !== target), next: page.length < limit ? null : page[page.length - 1]!._id };
    },
    async findOne(scope, id) {
      return (await of(scope).findOne({ _id: id } as Filter<T>)) as T | null;
    },
  };
}

const subjectKeysIn = (scope: TenantScope) => new SubjectRepository(scope).keys;

/**
 * Subject keys as sealed data: DEK rotation re-wraps each small subject key under the new DEK
 * (the wrapping AAD names the DEK version, so the AAD changes with it: resealVersioned).
 * Personal data sealed under subject keys is never re-encrypted.
 */
export const subjectKeySealedData: SealedDataKind<SubjectKeyDoc> = {
  ...wrappedKeys<SubjectKeyDoc>('subject_keys', SUBJECT_KEYS_COLLECTION, subjectKeysIn),
  async reseal(scope, doc, target, cipher) {
    if (doc.dekVersion === target) return 0;
    const aadOf = (dekVersion: number) => subjectKeyAad(scope.tenantId, doc.subjectId, dekVersion);
    const wrapped = await cipher.resealVersioned(scope.tenantId, aadOf, Buffer.from(doc.wrapped.buffer), doc.dekVersion, target);
    const result = await subjectKeysIn(scope).updateOne({ _id: doc._id, dekVersion: doc.dekVersion }, { $set: { wrapped: new Binary(wrapped), dekVersion: target } });
    return result.matchedCount === 1 ? 1 : null;
  },
};

/** The tenant's blind-index key as sealed data (one document per tenant). */
export const subjectIndexKeySealedData: SealedDataKind<IndexKeyDoc> = {
  ...wrappedKeys<IndexKeyDoc>('subject_index_keys', SUBJECT_INDEX_KEYS_COLLECTION, (scope) => new SubjectRepository(scope).indexKeys),
  async reseal(scope, doc, target, cipher) {
    if (doc.dekVersion === target) return 0;
    const blob = await cipher.reseal(scope.tenantId, indexKeyAad(scope.tenantId), Buffer.from(doc.wrapped.buffer), doc.dekVersion, target);
    const result = await new SubjectRepository(scope).indexKeys.updateOne({ _id: doc._id, dekVersion: doc.dekVersion }, { $set: { wrapped: new Binary(blob), dekVersion: target } });
    return result.matchedCount === 1 ? 1 : null;
  },
};
