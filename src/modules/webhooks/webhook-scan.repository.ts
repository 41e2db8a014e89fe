import type { TenantCollection, TenantScope } from '../../db/tenant-scope.js';
import { DSR_COLLECTION, type DsrDoc } from '../privacy/dsr.document.js';
import { SECRETS_COLLECTION, type SecretDoc } from '../secrets/secret.document.js';

/** The most items of one kind the scan reads per tenant and pass (the rest follow next pass). */
export const SCAN_LIMIT = 1000;

/** What the scan reads of a secret: id, name and dates; never its versions (the ciphertext). */
export type ScannedSecret = Pick<SecretDoc, '_id' | 'name' | 'rotationDueAt' | 'expiresAt'>;
const SECRET_VIEW = { projection: { _id: 1, name: 1, rotationDueAt: 1, expiresAt: 1 } } as const;

/** What the scan reads of a data-subject request: id, type, deadline (no subject, no sealed text). */
export type ScannedRequest = Pick<DsrDoc, '_id' | 'type' | 'dueAt'>;
const REQUEST_VIEW = { projection: { _id: 1, type: 1, dueAt: 1 } } as const;

const OPEN_REQUESTS = ['RECEIVED', 'IN_PROGRESS'] as const;

/**
 * One tenant's dates that raise events (webhook-scan.ts), read through its TenantScope, each
 * query a range on an index: secrets' `tenant_rotation_due` and `tenant_expires`, requests'
 * `tenant_status_due`.
 */
export class WebhookScanRepository {
  private readonly secrets: TenantCollection<SecretDoc>;
  private readonly requests: TenantCollection<DsrDoc>;

  constructor(scope: TenantScope) {
    this.secrets = scope.collection<SecretDoc>(SECRETS_COLLECTION);
    this.requests = scope.collection<DsrDoc>(DSR_COLLECTION);
  }

  /** Live secrets due for rotation at `now`, since `since` (the retention horizon). */
  rotationDue(now: Date, since: Date): Promise<ScannedSecret[]> {
    return this.secrets.find({ rotationDueAt: { $gte: since, $lte: now }, deletedAt: null }, { sort: { rotationDueAt: 1 }, limit: SCAN_LIMIT, ...SECRET_VIEW }).toArray();
  }

  /** Live secrets whose expiry is at or before `until` (expired ones included, since `since`). */
  expiringBy(until: Date, since: Date): Promise<ScannedSecret[]> {
    return this.secrets.find({ expiresAt: { $ne: null, $gte: since, $lte: until }, deletedAt: null }, { sort: { expiresAt: 1 }, limit: SCAN_LIMIT, ...SECRET_VIEW }).toArray();
  }

  /** Open requests whose deadline is at or before `until` (overdue ones included, since `since`). */
  openRequestsDueBy(until: Date, since: Date): Promise<ScannedRequest[]> {
    return this.requests.find({ status: { $in: [...OPEN_REQUESTS] }, dueAt: { $gte: since, $lte: until } }, { sort: { dueAt: 1 }, limit: SCAN_LIMIT, ...REQUEST_VIEW }).toArray();
  }
}
