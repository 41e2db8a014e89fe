import { createHash } from 'node:crypto';
import { BSON, type Db, type Document } from 'mongodb';
import { JOB_LEASES_COLLECTION } from '../../src/jobs/job-lease.repository.js';
import { API_KEYS_COLLECTION } from '../../src/modules/apikeys/api-key.repository.js';
import { AUDIT_COLLECTION } from '../../src/modules/audit/audit.document.js';
import { LOGIN_FAILURES_COLLECTION } from '../../src/modules/auth/login-failure.repository.js';
import { RATE_LIMITS_COLLECTION } from '../../src/modules/limits/rate-limit.repository.js';

/**
 * A snapshot of every collection of the test database: per collection, each document's
 * hash by _id. What a refused request may legitimately change is left out, each for a
 * stated reason (README "Security model"):
 *
 * - audit events whose outcome is not SUCCESS: refusals are audited on purpose
 *   (permission denials as DENIED, failed sign-ins and bad input as FAILURE);
 * - `login_failures`: failed password checks are counted by design (lockout, backoff);
 * - `apikeys.useCount` / `apikeys.lastUsedAt`: counted for every request the key
 *   authenticates, refused or not;
 * - `job_leases`: the background jobs' own lease renewals, on their timers, not the request's;
 * - `rate_limits`: every request, refused or not, is counted against its address's budget (written in batches).
 */
export type Snapshot = Map<string, Map<string, string>>;

const IGNORED_COLLECTIONS = new Set([LOGIN_FAILURES_COLLECTION, JOB_LEASES_COLLECTION, RATE_LIMITS_COLLECTION]);
const IGNORED_FIELDS: Record<string, readonly string[]> = { [API_KEYS_COLLECTION]: ['useCount', 'lastUsedAt'] };

function kept(collection: string, doc: Document): boolean {
  if (collection === AUDIT_COLLECTION) return doc.outcome === 'SUCCESS';
  return true;
}

export async function snapshot(db: Db): Promise<Snapshot> {
  const result: Snapshot = new Map();
  const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
  for (const name of names) {
    if (IGNORED_COLLECTIONS.has(name) || name.startsWith('system.')) continue;
    const docs = new Map<string, string>();
    for (const doc of await db.collection(name).find({}).toArray()) {
      if (!kept(name, doc)) continue;
      for (const field of IGNORED_FIELDS[name] ?? []) delete doc[field];
      const id = BSON.EJSON.stringify(doc._id);
      docs.set(id, createHash('sha256').update(BSON.EJSON.stringify(doc, { relaxed: false })).digest('hex'));
    }
    result.set(name, docs);
  }
  return result;
}

/** What changed between two snapshots, one line per collection that differs (empty when none). */
export function diff(before: Snapshot, after: Snapshot): string[] {
  const lines: string[] = [];
  for (const name of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(name) ?? new Map<string, string>();
    const b = after.get(name) ?? new Map<string, string>();
    const added = [...b.keys()].filter((id) => !a.has(id));
    const removed = [...a.keys()].filter((id) => !b.has(id));
    const changed = [...b.keys()].filter((id) => a.has(id) && a.get(id) !== b.get(id));
    if (added.length || removed.length || changed.length) {
      lines.push(`${name}: ${a.size} → ${b.size} documents; added ${added.join(', ') || '-'}; removed ${removed.join(', ') || '-'}; changed ${changed.join(', ') || '-'}`);
    }
  }
  return lines;
}
