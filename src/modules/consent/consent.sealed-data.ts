import { Binary, type Filter } from 'mongodb';
import type { TenantCollection, TenantScope } from '../../db/tenant-scope.js';
import type { SealedDataKind } from '../keys/sealed-data.js';
import { ConsentRepository } from './consent.repository.js';
import { LEDGER_KEYS_COLLECTION, SUPPRESSION_KEYS_COLLECTION, type WrappedKeyDoc } from './consent.document.js';

/**
 * The consent module's own random keys, each stored only wrapped under the tenant DEK (one
 * document per tenant and key) and registered as sealed data, so DEK rotation re-wraps them.
 * The AADs are defined here once: the service seals and opens with them, rotation re-wraps with them.
 */

/** The AAD of the tenant's wrapped suppression key. */
export const suppressionKeyAad = (tenantId: string) => Buffer.from(JSON.stringify(['coffer:suppression-key:v1', tenantId]), 'utf8');

/** The AAD of the tenant's wrapped consent-ledger key. */
export const ledgerKeyAad = (tenantId: string) => Buffer.from(JSON.stringify(['coffer:consent-ledger-key:v1', tenantId]), 'utf8');

function wrappedKeyKind(name: string, collection: string, keysIn: (scope: TenantScope) => TenantCollection<WrappedKeyDoc>, aad: (tenantId: string) => Buffer): SealedDataKind<WrappedKeyDoc> {
  return {
    name,
    collection,
    async countByDek(scope) {
      const rows = await keysIn(scope).aggregate<{ _id: number; count: number }>([{ $group: { _id: '$dekVersion', count: { $sum: 1 } } }]).toArray();
      return new Map(rows.map((row) => [row._id, row.count]));
    },
    async staleAfter(scope, target, cursor, limit) {
      const filter = (cursor === null ? {} : { _id: { $gt: cursor } }) as Filter<WrappedKeyDoc>;
      const page = await keysIn(scope).find(filter, { sort: { _id: 1 }, limit }).toArray();
      return { items: page.filter((doc) => doc.dekVersion !== target), next: page.length < limit ? null : page[page.length - 1]!._id };
    },
    async findOne(scope, id) {
      return keysIn(scope).findOne({ _id: id });
    },
    async reseal(scope, doc, target, cipher) {
      if (doc.dekVersion === target) return 0;
      const blob = await cipher.reseal(scope.tenantId, aad(scope.tenantId), Buffer.from(doc.wrapped.buffer), doc.dekVersion, target);
      const result = await keysIn(scope).updateOne({ _id: doc._id, dekVersion: doc.dekVersion }, { $set: { wrapped: new Binary(blob), dekVersion: target } });
      return result.matchedCount === 1 ? 1 : null;
    },
  };
}

/** The tenant's suppression key as sealed data: DEK rotation re-wraps it. */
export const suppressionKeySealedData = wrappedKeyKind('consent_suppression_keys', SUPPRESSION_KEYS_COLLECTION, (scope) => new ConsentRepository(scope).suppressionKeys, suppressionKeyAad);

/** The tenant's consent-ledger HMAC key as sealed data: DEK rotation re-wraps it. */
export const ledgerKeySealedData = wrappedKeyKind('consent_ledger_keys', LEDGER_KEYS_COLLECTION, (scope) => new ConsentRepository(scope).ledgerKeys, ledgerKeyAad);
