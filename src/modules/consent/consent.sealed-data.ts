import { Binary, type Filter } from 'mongodb';
import type { TenantScope } from '../../db/tenant-scope.js';
import type { SealedDataKind } from '../keys/sealed-data.js';
import { ConsentRepository } from './consent.repository.js';
import { SUPPRESSION_KEYS_COLLECTION, type SuppressionKeyDoc } from './consent.document.js';

const keysIn = (scope: TenantScope) => new ConsentRepository(scope).suppressionKeys;
/** The AAD of the tenant's wrapped suppression key (the one definition: the service seals and opens with it, rotation re-wraps with it). */
export const suppressionKeyAad = (tenantId: string) => Buffer.from(JSON.stringify(['coffer:suppression-key:v1', tenantId]), 'utf8');

/** The tenant's suppression key as sealed data (one document per tenant): DEK rotation re-wraps it. */
export const suppressionKeySealedData: SealedDataKind<SuppressionKeyDoc> = {
  name: 'consent_suppression_keys',
  collection: SUPPRESSION_KEYS_COLLECTION,
  async countByDek(scope) {
    const rows = await keysIn(scope).aggregate<{ _id: number; count: number }>([{ $group: { _id: '$dekVersion', count: { $sum: 1 } } }]).toArray();
    return new Map(rows.map((row) => [row._id, row.count]));
  },
  async staleAfter(scope, target, cursor, limit) {
    const filter = (cursor === null ? {} : { _id: { $gt: cursor } }) as Filter<SuppressionKeyDoc>;
    const page = await keysIn(scope).find(filter, { sort: { _id: 1 }, limit }).toArray();
    return { items: page.filter((doc) => doc.dekVersion !== target), next: page.length < limit ? null : page[page.length - 1]!._id };
  },
  async findOne(scope, id) {
    return keysIn(scope).findOne({ _id: id });
  },
  async reseal(scope, doc, target, cipher) {
    if (doc.dekVersion === target) return 0;
    const blob = await cipher.reseal(scope.tenantId, suppressionKeyAad(scope.tenantId), Buffer.from(doc.wrapped.buffer), doc.dekVersion, target);
    const result = await keysIn(scope).updateOne({ _id: doc._id, dekVersion: doc.dekVersion }, { $set: { wrapped: new Binary(blob), dekVersion: target } });
    return result.matchedCount === 1 ? 1 : null;
  },
};
