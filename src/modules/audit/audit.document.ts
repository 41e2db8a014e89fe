import type { Db, IndexDescription } from 'mongodb';
import type { TenantDocument } from '../../db/tenant-scope.js';
import { createIndexesOneByOne } from '../../db/indexes.js';
import type { ActorType, AuditOutcome } from './audit-event.js';

export const AUDIT_COLLECTION = 'audit_events';

/** What `details` may hold once normalised: plain JSON, nothing else. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type AuditDetails = { [key: string]: JsonValue };

/** An event's own content: everything but its position in the chain. */
export interface AuditEventBody {
  _id: string;
  tenantId: string;
  time: Date;
  actor: { type: ActorType; id: string | null };
  action: string;
  resource: { type: string; id: string | null };
  outcome: AuditOutcome;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: AuditDetails;
}

/**
 * One stored audit event, a link in its chain. `tenantId` is the chain: a tenant
 * id or PLATFORM_CHAIN. `seq` runs 1, 2, 3… per chain without gaps;
 * `hash = HMAC(chain key, prevHash || canonical(every field but hash))`.
 */
export interface AuditEventDoc extends TenantDocument, AuditEventBody {
  seq: number;
  prevHash: string;
  hash: string;
}

/**
 * Every index leads with tenantId. `tenant_seq_unique` is what makes appends
 * race-free across server instances (a second writer of the same seq is
 * rejected) and is also the cursor index for listing and verification.
 */
export const AUDIT_INDEXES: readonly IndexDescription[] = [
  { key: { tenantId: 1, seq: 1 }, name: 'tenant_seq_unique', unique: true },
  { key: { tenantId: 1, action: 1, seq: -1 }, name: 'tenant_action_seq' },
  { key: { tenantId: 1, 'actor.id': 1, seq: -1 }, name: 'tenant_actor_seq' },
  { key: { tenantId: 1, 'resource.type': 1, 'resource.id': 1, seq: -1 }, name: 'tenant_resource_seq' },
  { key: { tenantId: 1, time: -1 }, name: 'tenant_time' },
];

/** Creates the audit indexes, one per command (FerretDB v1, see db/collections.ts); idempotent. */
export async function ensureAuditIndexes(db: Db): Promise<void> {
  await createIndexesOneByOne(db, AUDIT_COLLECTION, AUDIT_INDEXES);
}
