import type { Db, Filter, UpdateFilter } from 'mongodb';
import { systemSweep } from '../../db/cross-tenant-sweep.js';
import type { TenantCollection, TenantInsert, TenantScope } from '../../db/tenant-scope.js';
import type { DsrStatus, DsrType } from './dsr-state.js';
import { DSR_COLLECTION, RETENTION_POLICIES_COLLECTION, type DsrDoc, type RetentionPolicyDoc } from './dsr.document.js';
import { SUBJECTS_COLLECTION, type DataSubjectDoc } from './subject.document.js';

/** What a listing of requests asks for: statuses (index prefix), a dueAt range, a type. */
export interface DsrQuery {
  statuses: readonly DsrStatus[] | null;
  type: DsrType | null;
  dueFrom: Date | null;
  dueTo: Date | null;
  /** Exclusive lower bound on dueAt for `dueFrom` (overdue: strictly after the instant is not overdue). */
  dueBefore: Date | null;
}

function filterOf(query: DsrQuery): Filter<DsrDoc> {
  const filter: Filter<DsrDoc> = {};
  if (query.statuses) filter.status = query.statuses.length === 1 ? query.statuses[0]! : { $in: [...query.statuses] };
  if (query.type) filter.type = query.type;
  const due: { $gte?: Date; $lte?: Date; $lt?: Date } = {};
  if (query.dueFrom) due.$gte = query.dueFrom;
  if (query.dueTo) due.$lte = query.dueTo;
  if (query.dueBefore) due.$lt = query.dueBefore;
  if (Object.keys(due).length) filter.dueAt = due;
  return filter;
}

/** One tenant's data-subject requests and retention policy. */
export class DsrRepository {
  readonly requests: TenantCollection<DsrDoc>;
  readonly policies: TenantCollection<RetentionPolicyDoc>;

  constructor(readonly scope: TenantScope) {
    this.requests = scope.collection<DsrDoc>(DSR_COLLECTION);
    this.policies = scope.collection<RetentionPolicyDoc>(RETENTION_POLICIES_COLLECTION);
  }

  get tenantId(): string {
    return this.scope.tenantId;
  }

  insert(doc: TenantInsert<DsrDoc>): Promise<DsrDoc> {
    return this.requests.insertOne(doc);
  }

  find(id: string): Promise<DsrDoc | null> {
    return this.requests.findOne({ _id: id });
  }

  /** Compare-and-set on revision (and the status read): the updated request, or null when it moved meanwhile. */
  update(id: string, revision: number, status: DsrStatus, update: UpdateFilter<DsrDoc>): Promise<DsrDoc | null> {
    return this.requests.findOneAndUpdate({ _id: id, revision, status } as Filter<DsrDoc>, { ...update, $inc: { revision: 1 } });
  }

  /**
   * Requests in (dueAt, _id) order after the cursor, at most `limit`. The filter is a range on
   * the tenantId+status+dueAt index, and the cursor continues that range, so each page reads
   * only the documents it returns (FerretDB v1 does not push sorts down: the sort is in memory
   * over the page's range, never over the whole collection).
   */
  list(query: DsrQuery, after: { dueAt: Date; id: string } | null, limit: number): Promise<DsrDoc[]> {
    const filter = filterOf(query);
    if (after) {
      const range = (filter.dueAt ?? {}) as Record<string, Date>;
      filter.$or = [{ dueAt: { ...range, $gt: after.dueAt } }, { dueAt: after.dueAt, _id: { $gt: after.id } }];
      delete filter.dueAt;
    }
    return this.requests.find(filter, { sort: { dueAt: 1, _id: 1 }, limit }).toArray();
  }

  count(query: DsrQuery): Promise<number> {
    return this.requests.countDocuments(filterOf(query));
  }

  /** A subject's requests (for its export), oldest first. */
  ofSubject(subjectId: string): Promise<DsrDoc[]> {
    return this.requests.find({ subjectId }, { sort: { receivedAt: 1, _id: 1 }, limit: 10_000 }).toArray();
  }

  /** Deletes closed requests closed at or before `cutoff`. */
  async deleteClosedBefore(cutoff: Date): Promise<number> {
    return (await this.requests.deleteMany({ status: { $in: ['COMPLETED', 'REJECTED'] }, closedAt: { $lte: cutoff } })).deletedCount;
  }

  findPolicy(): Promise<RetentionPolicyDoc | null> {
    return this.policies.findOne({ _id: `ret:${this.tenantId}` });
  }

  insertPolicy(doc: Omit<TenantInsert<RetentionPolicyDoc>, '_id'>): Promise<RetentionPolicyDoc> {
    return this.policies.insertOne({ ...doc, _id: `ret:${this.tenantId}` });
  }

  updatePolicy(revision: number, set: Partial<RetentionPolicyDoc>): Promise<RetentionPolicyDoc | null> {
    return this.policies.findOneAndUpdate({ _id: `ret:${this.tenantId}`, revision } as Filter<RetentionPolicyDoc>, { $set: set, $inc: { revision: 1 } });
  }
}

/**
 * The retention sweep's cross-tenant reads (ids only), through the reviewed door
 * (docs/ARCHITECTURE.md §6): tenants with a retention policy, and tenants with a subject whose
 * own retention date has passed.
 */
export class RetentionDirectory {
  constructor(private readonly db: Db) {}

  async tenantsToSweep(now: Date): Promise<string[]> {
    const withPolicy = await systemSweep<RetentionPolicyDoc>(this.db, RETENTION_POLICIES_COLLECTION).find({}, { projection: { tenantId: 1 } });
    const withDueSubjects = await systemSweep<DataSubjectDoc>(this.db, SUBJECTS_COLLECTION).find(
      { retainUntil: { $lte: now }, status: 'ACTIVE' },
      { projection: { tenantId: 1 } },
    );
    return [...new Set([...withPolicy, ...withDueSubjects].map((doc) => doc.tenantId))].sort();
  }
}
