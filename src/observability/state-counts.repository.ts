import type { Collection, Db, Document } from 'mongodb';
import { DSR_COLLECTION } from '../modules/privacy/dsr.document.js';
import { SECRETS_COLLECTION } from '../modules/secrets/secret.document.js';
import { TENANT_KEYS_COLLECTION } from '../modules/keys/tenant-key.repository.js';
import type { StateSnapshot } from './metrics.js';

/** Open data-subject request statuses (privacy/dsr-state.ts: everything but the final ones). */
const OPEN_DSR_STATUSES = ['RECEIVED', 'IN_PROGRESS'];
const DAY_MS = 86_400_000;
/** "Due soon": within this many days of the deadline. */
export const DSR_DUE_SOON_DAYS = 7;

/**
 * Counts across every tenant for the scrape-time gauges: read-only, numbers only, never a
 * document. The DSR and secret counts are ranges on global indexes declared by their modules
 * (`status_due` on data_subject_requests; `deleted_rotation_due` and `deleted_expires` on
 * secrets); re-encryption reads the few tenant_keys documents with a running re-encryption
 * (two numbers each), as the re-encryption job does at start.
 */
export class StateCountsRepository {
  private readonly dsr: Collection<Document>;
  private readonly secrets: Collection<Document>;
  private readonly tenantKeys: Collection<Document>;

  constructor(db: Db) {
    this.dsr = db.collection(DSR_COLLECTION);
    this.secrets = db.collection(SECRETS_COLLECTION);
    this.tenantKeys = db.collection(TENANT_KEYS_COLLECTION);
  }

  async snapshot(now: Date): Promise<StateSnapshot> {
    const soon = new Date(now.getTime() + DSR_DUE_SOON_DAYS * DAY_MS);
    const open = { status: { $in: OPEN_DSR_STATUSES } };
    const [dsrOpen, dsrOverdue, dsrDueSoon, secretsRotationDue, secretsExpired, running] = await Promise.all([
      this.dsr.countDocuments(open),
      this.dsr.countDocuments({ ...open, dueAt: { $lt: now } }),
      this.dsr.countDocuments({ ...open, dueAt: { $gte: now, $lt: soon } }),
      this.secrets.countDocuments({ deletedAt: null, rotationDueAt: { $lte: now } }),
      this.secrets.countDocuments({ deletedAt: null, expiresAt: { $lte: now } }),
      this.tenantKeys
        .find({ 'reencryption.state': 'RUNNING' }, { projection: { _id: 0, 'reencryption.total': 1, 'reencryption.done': 1 } })
        .toArray(),
    ]);
    const reencryptionValues = running.reduce((sum, doc) => {
      const r = (doc as { reencryption?: { total?: unknown; done?: unknown } }).reencryption;
      const left = Number(r?.total ?? 0) - Number(r?.done ?? 0);
      return sum + (Number.isFinite(left) && left > 0 ? left : 0);
    }, 0);
    return { dsrOpen, dsrDueSoon, dsrOverdue, secretsRotationDue, secretsExpired, reencryptionTenants: running.length, reencryptionValues };
  }
}

/** Caches `read` for `ttlMs`, so frequent scrapes (or several Prometheus servers) cannot hammer the database. */
export function cachedSnapshot(read: () => Promise<StateSnapshot>, ttlMs: number): () => Promise<StateSnapshot> {
  let cached: { at: number; value: Promise<StateSnapshot> } | null = null;
  return () => {
    const now = Date.now();
    if (!cached || now - cached.at >= ttlMs) {
      const value = read();
      cached = { at: now, value };
      // A failure is not cached: the next scrape tries again.
      value.catch(() => {
        if (cached?.value === value) cached = null;
      });
    }
    return cached.value;
  };
}
