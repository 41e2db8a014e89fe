import type { Db, Filter, FindCursor } from 'mongodb';
import { TenantScope, type TenantCollection } from '../../db/tenant-scope.js';
import type { ChainHead } from './audit-chain.js';
import { AUDIT_COLLECTION, type AuditEventDoc } from './audit.document.js';

/** Documents fetched per round trip when streaming a chain. */
const STREAM_BATCH = 500;


/**
 * One chain's events (chain = tenant id or PLATFORM_CHAIN), all through a
 * TenantScope; inserts refuse documents of any other chain.
 */
export class AuditChainStore {
  private readonly events: TenantCollection<AuditEventDoc>;

  constructor(db: Db, readonly chainId: string) {
    this.events = new TenantScope(db, chainId).collection<AuditEventDoc>(AUDIT_COLLECTION);
  }

  /** The latest stored event, or null for an empty chain. */
  async head(): Promise<ChainHead | null> {
    const doc = await this.events.findOne({}, { sort: { seq: -1 }, projection: { seq: 1, hash: 1 } });
    return doc ? { seq: doc.seq, hash: doc.hash } : null;
  }

  /**
   * One ordered insertMany. On failure a prefix of `docs` may be stored (ordered
   * inserts stop at the first error); storedIds tells which.
   */
  async insertBatch(docs: readonly AuditEventDoc[]): Promise<void> {
    if (docs.some((doc) => doc.tenantId !== this.chainId)) throw new Error('audit batch names another chain');
    await this.events.insertMany(docs, { ordered: true });
  }

  /** Which of these event ids are stored. */
  async storedIds(ids: readonly string[]): Promise<Set<string>> {
    const found = await this.events.find({ _id: { $in: [...ids] } }, { projection: { _id: 1 } }).toArray();
    return new Set(found.map((doc) => doc._id));
  }

  at(seq: number): Promise<AuditEventDoc | null> {
    return this.events.findOne({ seq });
  }

  /** Events with from ≤ seq ≤ to (to null = to the end), oldest first, streamed. */
  range(from: number, to: number | null): FindCursor<AuditEventDoc> {
    const seq = to === null ? { $gte: from } : { $gte: from, $lte: to };
    return this.events.find({ seq }, { sort: { seq: 1 }, batchSize: STREAM_BATCH });
  }

  /** Up to `limit` events matching `filter` with seq below `beforeSeq`, newest first. */
  newestFirst(filter: Filter<AuditEventDoc>, beforeSeq: number | null, limit: number): Promise<AuditEventDoc[]> {
    const page = beforeSeq === null ? filter : { ...filter, seq: { $lt: beforeSeq } };
    return this.events.find(page, { sort: { seq: -1 }, limit }).toArray();
  }

  count(filter: Filter<AuditEventDoc>): Promise<number> {
    return this.events.countDocuments(filter);
  }
}
