import type { CofferModule } from '../module.js';
import { AUDIT_COLLECTION, AUDIT_INDEXES } from './audit.document.js';
import { AuditResolver } from './audit.resolver.js';

/** The tamper-evident audit log: one hash chain per tenant plus the platform chain. */
export const auditModule: CofferModule = {
  name: 'audit',
  resolvers: [AuditResolver],
  collections: [{ name: AUDIT_COLLECTION, indexes: AUDIT_INDEXES, tenantData: 'RECORDS' }],
};
