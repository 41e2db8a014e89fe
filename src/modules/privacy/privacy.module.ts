import type { CofferModule } from '../module.js';
import { ACCESS_LOG_COLLECTION, SUBJECT_INDEX_KEYS_COLLECTION, SUBJECT_KEYS_COLLECTION, SUBJECTS_COLLECTION } from './subject.document.js';
import { SubjectResolver } from './subject.resolver.js';
import { subjectIndexKeySealedData, subjectKeySealedData } from './subject.sealed-data.js';

/**
 * Privacy: data subjects sealed under keys of their own, blind-index lookups, the data-access
 * log, restriction, export and crypto-shredding erasure with signed receipts.
 */
export const privacyModule: CofferModule = {
  name: 'privacy',
  resolvers: [SubjectResolver],
  collections: [
    {
      name: SUBJECTS_COLLECTION,
      indexes: [
        { key: { tenantId: 1, lookup: 1 }, name: 'tenant_lookup' },
        { key: { tenantId: 1, externalKey: 1 }, name: 'tenant_external_unique', unique: true },
        { key: { tenantId: 1, status: 1 }, name: 'tenant_status' },
        { key: { tenantId: 1, _id: 1 }, name: 'tenant_id' },
      ],
      tenantData: 'RECORDS',
    },
    {
      name: SUBJECT_KEYS_COLLECTION,
      indexes: [
        { key: { tenantId: 1, subjectId: 1 }, name: 'tenant_subject' },
        { key: { tenantId: 1, dekVersion: 1 }, name: 'tenant_dek' },
      ],
      tenantData: 'KEYS',
    },
    // One document per tenant (`_id` bik:<tenantId>): the _id index is all it needs.
    { name: SUBJECT_INDEX_KEYS_COLLECTION, indexes: [], tenantData: 'KEYS' },
    { name: ACCESS_LOG_COLLECTION, indexes: [{ key: { tenantId: 1, subjectId: 1, at: -1 }, name: 'tenant_subject_at' }], tenantData: 'RECORDS' },
  ],
  // Subject keys and the tenant's blind-index key are wrapped by DEKs: rotation re-wraps them (never the personal data).
  sealedData: [subjectKeySealedData, subjectIndexKeySealedData],
};
