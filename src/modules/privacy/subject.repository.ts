import type { Db, Filter, UpdateFilter } from 'mongodb';
import { systemSweep } from '../../db/cross-tenant-sweep.js';
import type { TenantCollection, TenantInsert, TenantScope } from '../../db/tenant-scope.js';
import {
  ACCESS_LOG_COLLECTION,
  SUBJECT_INDEX_KEYS_COLLECTION,
  SUBJECT_KEYS_COLLECTION,
  SUBJECTS_COLLECTION,
  type AccessLogDoc,
  type DataSubjectDoc,
  type IndexKeyDoc,
  type SubjectKeyDoc,
} from './subject.document.js';

/** An exact lookup: a blind-index entry or the external-id hash. */
export interface SubjectLookup {
  lookup?: string;
  externalKey?: string;
}

function liveMatching(filter: SubjectLookup): Filter<DataSubjectDoc> {
  const query: Filter<DataSubjectDoc> = { status: 'ACTIVE' };
  if (filter.lookup) query.lookup = filter.lookup;
  if (filter.externalKey) query.externalKey = filter.externalKey;
  return query;
}

/** One tenant's data subjects, their keys and their access log. */
export class SubjectRepository {
  readonly subjects: TenantCollection<DataSubjectDoc>;
  readonly keys: TenantCollection<SubjectKeyDoc>;
  readonly indexKeys: TenantCollection<IndexKeyDoc>;
  readonly accessLog: TenantCollection<AccessLogDoc>;

  constructor(readonly scope: TenantScope) {
    this.subjects = scope.collection<DataSubjectDoc>(SUBJECTS_COLLECTION);
    this.keys = scope.collection<SubjectKeyDoc>(SUBJECT_KEYS_COLLECTION);
    this.indexKeys = scope.collection<IndexKeyDoc>(SUBJECT_INDEX_KEYS_COLLECTION);
    this.accessLog = scope.collection<AccessLogDoc>(ACCESS_LOG_COLLECTION);
  }

  get tenantId(): string {
    return this.scope.tenantId;
  }

  findSubject(id: string): Promise<DataSubjectDoc | null> {
    return this.subjects.findOne({ _id: id });
  }

  /** Several subjects by id (any status), one `$in` seek (batched contact checks). */
  findSubjects(ids: string[]): Promise<DataSubjectDoc[]> {
    return ids.length ? this.subjects.find({ _id: { $in: ids } }).toArray() : Promise.resolve([]);
  }

  /** Live subjects carrying any of these blind-index entries, one `$in` seek on the lookup index. */
  findByLookups(entries: string[]): Promise<DataSubjectDoc[]> {
    return entries.length ? this.subjects.find({ status: 'ACTIVE', lookup: { $in: entries } }).toArray() : Promise.resolve([]);
  }

  insertSubject(doc: TenantInsert<DataSubjectDoc>): Promise<DataSubjectDoc> {
    return this.subjects.insertOne(doc);
  }

  /** Compare-and-set on the revision; the updated document, or null when it changed meanwhile. */
  updateSubject(id: string, revision: number, update: UpdateFilter<DataSubjectDoc>): Promise<DataSubjectDoc | null> {
    return this.subjects.findOneAndUpdate({ _id: id, revision } as Filter<DataSubjectDoc>, { ...update, $inc: { revision: 1 } });
  }

  /** Live subjects in `_id` order after `after`, at most `limit`, optionally only those carrying a blind-index entry. */
  listSubjects(filter: SubjectLookup, after: string | null, limit: number): Promise<DataSubjectDoc[]> {
    const query = liveMatching(filter);
    if (after) query._id = { $gt: after };
    return this.subjects.find(query, { sort: { _id: 1 }, limit }).toArray();
  }

  /** How many live subjects match (the total of a listing). */
  countSubjects(filter: SubjectLookup): Promise<number> {
    return this.subjects.countDocuments(liveMatching(filter));
  }

  /** Subjects (any status) still carrying a blind-index entry. */
  idsWithLookup(entry: string): Promise<string[]> {
    return this.subjects
      .find({ lookup: entry }, { projection: { _id: 1 } })
      .toArray()
      .then((docs) => docs.map((d) => d._id));
  }

  /** Subjects whose erasure has not finished. */
  erasing(): Promise<DataSubjectDoc[]> {
    return this.subjects.find({ status: 'ERASING' }).toArray();
  }

  findKey(subjectId: string, keyId: string): Promise<SubjectKeyDoc | null> {
    return this.keys.findOne({ _id: keyId, subjectId });
  }

  /** Several wrapped subject keys by id, one `$in` seek. */
  findKeys(keyIds: string[]): Promise<SubjectKeyDoc[]> {
    return keyIds.length ? this.keys.find({ _id: { $in: keyIds } }).toArray() : Promise.resolve([]);
  }

  insertKey(doc: TenantInsert<SubjectKeyDoc>): Promise<SubjectKeyDoc> {
    return this.keys.insertOne(doc);
  }

  async deleteKeysOf(subjectId: string): Promise<number> {
    return (await this.keys.deleteMany({ subjectId })).deletedCount;
  }

  countKeysOf(subjectId: string): Promise<number> {
    return this.keys.countDocuments({ subjectId });
  }

  findIndexKey(): Promise<IndexKeyDoc | null> {
    return this.indexKeys.findOne({ _id: `bik:${this.tenantId}` });
  }

  insertIndexKey(doc: Omit<TenantInsert<IndexKeyDoc>, '_id'>): Promise<IndexKeyDoc> {
    return this.indexKeys.insertOne({ ...doc, _id: `bik:${this.tenantId}` });
  }

  recordAccess(entries: TenantInsert<AccessLogDoc>[]): Promise<AccessLogDoc[]> {
    return this.accessLog.insertMany(entries);
  }

  /** Access-log entries of a subject, newest first, after the cursor (`<iso at>|<id>`), at most `limit`. */
  accessLogOf(subjectId: string, before: { at: Date; id: string } | null, limit: number): Promise<AccessLogDoc[]> {
    const filter: Filter<AccessLogDoc> = { subjectId };
    if (before) filter.$or = [{ at: { $lt: before.at } }, { at: before.at, _id: { $lt: before.id } }];
    return this.accessLog.find(filter, { sort: { at: -1, _id: -1 }, limit }).toArray();
  }

  countAccessLogOf(subjectId: string): Promise<number> {
    return this.accessLog.countDocuments({ subjectId });
  }

  async deleteAccessLogOf(subjectId: string): Promise<number> {
    return (await this.accessLog.deleteMany({ subjectId })).deletedCount;
  }

  /**
   * Live, unrestricted subjects past retention (ids, at most `limit`): their own `retainUntil`
   * has passed, or, without one, their last change (updatedAt, else createdAt) is at or before
   * `policyCutoff`. Both are ranges on indexes (tenantId+status+retainUntil, tenantId+status+createdAt);
   * updatedAt ≥ createdAt, so the createdAt range finds every candidate and the rest is checked here.
   */
  async pastRetention(now: Date, policyCutoff: Date | null, limit: number): Promise<string[]> {
    const projection = { _id: 1, createdAt: 1, updatedAt: 1, retainUntil: 1 };
    const own = await this.subjects.find({ status: 'ACTIVE', retainUntil: { $lte: now }, restriction: null }, { projection, limit }).toArray();
    const byPolicy = policyCutoff
      ? await this.subjects.find({ status: 'ACTIVE', createdAt: { $lte: policyCutoff }, restriction: null }, { projection, limit }).toArray()
      : [];
    const lapsed = byPolicy.filter((doc) => !doc.retainUntil && (doc.updatedAt ?? doc.createdAt).getTime() <= policyCutoff!.getTime());
    return [...new Set([...own, ...lapsed].map((doc) => doc._id))].slice(0, limit);
  }

  /** Deletes access-log entries recorded before `cutoff` (retention). */
  async deleteAccessLogBefore(cutoff: Date): Promise<number> {
    return (await this.accessLog.deleteMany({ at: { $lt: cutoff } })).deletedCount;
  }
}

/**
 * The one cross-tenant read of the privacy module: which tenants have an unfinished erasure
 * (at start, to resume them). Ids only, through the reviewed sweep door (docs/ARCHITECTURE.md §6).
 */
export class SubjectErasureDirectory {
  constructor(private readonly db: Db) {}

  async tenantsWithErasures(): Promise<string[]> {
    const docs = await systemSweep<DataSubjectDoc>(this.db, SUBJECTS_COLLECTION).find({ status: 'ERASING' }, { projection: { tenantId: 1 } });
    return [...new Set(docs.map((doc) => doc.tenantId))];
  }
}
