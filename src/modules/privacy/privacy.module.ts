import type { CofferModule } from '../module.js';
import { ACCESS_LOG_COLLECTION, SUBJECT_INDEX_KEYS_COLLECTION, SUBJECT_KEYS_COLLECTION, SUBJECTS_COLLECTION } from './subject.document.js';
import { DsrResolver } from './dsr.resolver.js';
import { DSR_COLLECTION, RETENTION_POLICIES_COLLECTION } from './dsr.document.js';
import { RetentionResolver } from './retention.resolver.js';
import { SubjectResolver } from './subject.resolver.js';
import { subjectIndexKeySealedData, subjectKeySealedData } from './subject.sealed-data.js';

/**
 * Privacy: data subjects sealed under keys of their own, blind-index lookups, the data-access
 * log, restriction, export and crypto-shredding erasure with signed receipts.
 */
export const privacyModule: CofferModule = {
  name: 'privacy',
  resolvers: [SubjectResolver, DsrResolver, RetentionResolver],
  collections: [
    {
      name: SUBJECTS_COLLECTION,
      indexes: [
        { key: { tenantId: 1, lookup: 1 }, name: 'tenant_lookup' },
        { key: { tenantId: 1, externalKey: 1 }, name: 'tenant_external_unique', unique: true },
        { key: { tenantId: 1, status: 1 }, name: 'tenant_status' },
        { key: { tenantId: 1, _id: 1 }, name: 'tenant_id' },
        // Retention: subjects past their own date or the policy's, as index ranges; the sweep finds tenants by retainUntil.
        { key: { tenantId: 1, status: 1, retainUntil: 1 }, name: 'tenant_status_retain' },
        { key: { tenantId: 1, status: 1, createdAt: 1 }, name: 'tenant_status_created' },
        { key: { retainUntil: 1 }, name: 'retain_until' },
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
    {
      name: ACCESS_LOG_COLLECTION,
      indexes: [
        { key: { tenantId: 1, subjectId: 1, at: -1 }, name: 'tenant_subject_at' },
        { key: { tenantId: 1, at: 1 }, name: 'tenant_at' },
      ],
      tenantData: 'RECORDS',
    },
    {
      name: DSR_COLLECTION,
      indexes: [
        // Listings (overdue, due soon, by status) are ranges on this index, paged by (dueAt, _id).
        { key: { tenantId: 1, status: 1, dueAt: 1 }, name: 'tenant_status_due' },
        { key: { tenantId: 1, subjectId: 1 }, name: 'tenant_subject' },
        { key: { tenantId: 1, closedAt: 1 }, name: 'tenant_closed' },
        // The metrics gauges count open requests past or near their deadline across tenants (observability/).
        { key: { status: 1, dueAt: 1 }, name: 'status_due' },
      ],
      tenantData: 'RECORDS',
    },
    // One document per tenant (`_id` ret:<tenantId>): the _id index is all it needs.
    { name: RETENTION_POLICIES_COLLECTION, indexes: [], tenantData: 'RECORDS' },
  ],
  // Subject keys and the tenant's blind-index key are wrapped by DEKs: rotation re-wraps them (never the personal data).
  sealedData: [subjectKeySealedData, subjectIndexKeySealedData],
};
