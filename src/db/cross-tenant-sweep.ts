import type { Collection, Db, DeleteResult, Document, Filter, FindOptions, WithId } from 'mongodb';

/**
 * The one reviewed door to a collection across every tenant, for background sweeps.
 *
 * Who may use it: jobs in `src/jobs/` that remove what queries already ignore
 * (expired sessions and invitations, used marks of expired consent confirmation links,
 * expired second-factor login challenges, secrets past their recovery window). Why: such a
 * sweep has no tenant to scope to; it looks for due documents everywhere. It can only
 * read and delete, never insert or update, so a sweep cannot move or rewrite data.
 * Request-serving code must use a TenantScope (tenant data) or a repository (global data).
 * A single deletion of a tenant document should name that document's `_id` and
 * `tenantId`, so it removes exactly what the sweep read.
 */
export class CrossTenantSweep<T extends Document> {
  /** @internal obtainable only through systemSweep */
  constructor(private readonly collection: Collection<T>) {}

  /** Documents matching `filter` in any tenant. */
  find(filter: Filter<T>, options?: FindOptions): Promise<WithId<T>[]> {
    return this.collection.find(filter, options).toArray();
  }

  /** Deletes the first document matching `filter`, in whatever tenant it is. */
  deleteOne(filter: Filter<T>): Promise<DeleteResult> {
    return this.collection.deleteOne(filter);
  }

  /** Deletes every document matching `filter`, in every tenant. */
  deleteMany(filter: Filter<T>): Promise<DeleteResult> {
    return this.collection.deleteMany(filter);
  }
}

/** Opens `collection` for a cross-tenant sweep (see CrossTenantSweep for who may). */
export function systemSweep<T extends Document>(db: Db, collection: string): CrossTenantSweep<T> {
  return new CrossTenantSweep<T>(db.collection<T>(collection));
}
