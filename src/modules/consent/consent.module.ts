import type { CofferModule } from '../module.js';
import { LEDGER_COLLECTION, LEDGER_HEADS_COLLECTION, LEDGER_KEYS_COLLECTION, PURPOSES_COLLECTION, SUPPRESSION_KEYS_COLLECTION, SUPPRESSIONS_COLLECTION, USED_LINKS_COLLECTION } from './consent.document.js';
import { ConsentResolver } from './consent.resolver.js';
import { ledgerKeySealedData, suppressionKeySealedData } from './consent.sealed-data.js';

/**
 * Consent: purposes and notices, the immutable chained consent ledger with signed receipts,
 * opt-outs, the suppression list that outlives erasure, contact decisions, public unsubscribe
 * and confirmation pages (docs/ARCHITECTURE.md §14).
 */
export const consentModule: CofferModule = {
  name: 'consent',
  resolvers: [ConsentResolver],
  collections: [
    { name: PURPOSES_COLLECTION, indexes: [{ key: { tenantId: 1, key: 1 }, name: 'tenant_key_unique', unique: true }], tenantData: 'RECORDS' },
    {
      name: LEDGER_COLLECTION,
      indexes: [
        { key: { tenantId: 1, seq: 1 }, name: 'tenant_seq_unique', unique: true },
        { key: { tenantId: 1, subjectId: 1, seq: -1 }, name: 'tenant_subject_seq' },
        { key: { tenantId: 1, kind: 1, at: 1 }, name: 'tenant_kind_at' },
        { key: { tenantId: 1, purposeId: 1 }, name: 'tenant_purpose' },
      ],
      tenantData: 'RECORDS',
    },
    // One head per tenant (`_id` head:<tenantId>): the _id index is all it needs.
    { name: LEDGER_HEADS_COLLECTION, indexes: [], tenantData: 'RECORDS' },
    {
      name: SUPPRESSIONS_COLLECTION,
      indexes: [
        { key: { tenantId: 1, entry: 1 }, name: 'tenant_entry_unique', unique: true },
        { key: { tenantId: 1, hash: 1 }, name: 'tenant_hash' },
      ],
      tenantData: 'RECORDS',
    },
    { name: SUPPRESSION_KEYS_COLLECTION, indexes: [], tenantData: 'KEYS' },
    // The ledger's random HMAC key (`_id` ledger:<tenantId>), wrapped under the DEK; shredded with the tenant.
    { name: LEDGER_KEYS_COLLECTION, indexes: [], tenantData: 'KEYS' },
    // Used double opt-in tokens (`_id` confirm:<tenantId>:<jti>): the unique _id makes each single-use.
    { name: USED_LINKS_COLLECTION, indexes: [], tenantData: 'RECORDS' },
  ],
  sealedData: [suppressionKeySealedData, ledgerKeySealedData],
};
