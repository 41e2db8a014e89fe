import type {
  AggregateOptions,
  AggregationCursor,
  BulkWriteOptions,
  Collection,
  Db,
  Document,
  Filter,
  FindOptions,
  OptionalUnlessRequiredId,
  UpdateFilter,
  WithId,
} from 'mongodb';

/** Every tenant document carries the tenant it belongs to. */
export interface TenantDocument extends Document {
  _id: string;
  tenantId: string;
}

/** What callers may insert: everything but tenantId, which the scope adds itself. */
export type TenantInsert<T extends TenantDocument> = Omit<T, 'tenantId'>;

/** Stages that read or write other collections: they would step outside the tenant's documents. */
const ESCAPING_STAGES = new Set(['$lookup', '$graphLookup', '$unionWith', '$out', '$merge']);

/** Throws when a pipeline (or a $facet inside it) holds a stage that reaches beyond its collection. */
function checkPipeline(pipeline: readonly Document[]): void {
  for (const stage of pipeline) {
    for (const [name, body] of Object.entries(stage)) {
      if (ESCAPING_STAGES.has(name)) throw new Error(`tenant-scoped pipelines must not use ${name}`);
      if (name === '$facet' && body && typeof body === 'object') {
        for (const inner of Object.values(body as Record<string, unknown>)) {
          if (Array.isArray(inner)) checkPipeline(inner as Document[]);
        }
      }
    }
  }
}

/**
 * A collection seen through one tenant. It adds `tenantId` to every filter,
 * update and insert, and refuses attempts to set or change it, so a repository
 * built on it cannot reach another tenant's documents.
 */
export class TenantCollection<T extends TenantDocument> {
  /** @internal obtainable only through TenantScope.collection */
  constructor(
    private readonly collection: Collection<T>,
    readonly tenantId: string,
    private readonly bareIdLookups = false,
  ) {}

  private scoped(filter: Filter<T>): Filter<T> {
    if (Object.prototype.hasOwnProperty.call(filter, 'tenantId')) {
      throw new Error('tenant-scoped filters must not name tenantId');
    }
    return { ...filter, tenantId: this.tenantId } as Filter<T>;
  }

  private checkedUpdate(update: UpdateFilter<T>): UpdateFilter<T> {
    if (Array.isArray(update)) throw new Error('tenant-scoped updates must be update documents, not pipelines');
    for (const [operator, fields] of Object.entries(update)) {
      if (!operator.startsWith('$')) throw new Error('tenant-scoped updates must use update operators');
      if (!fields || typeof fields !== 'object') continue;
      const renamesIntoTenantId = operator === '$rename' && Object.values(fields).includes('tenantId');
      if ('tenantId' in fields || renamesIntoTenantId) throw new Error('tenant-scoped updates must not change tenantId');
    }
    return update;
  }

  findOne(filter: Filter<T>, options?: FindOptions): Promise<WithId<T> | null> {
    return this.collection.findOne(this.scoped(filter), options);
  }

  /**
   * The document with this `_id`, if it is this tenant's. The filter names `_id` alone and
   * the tenant is checked on the document: engines that can only serve a bare `_id` lookup
   * from an index (FerretDB v1 scans the whole collection for any other filter, see
   * docs/ARCHITECTURE.md §7) answer it from the primary key; `_id` is unique, so the
   * result is the same as filtering on both. On MongoDB the filter names the tenant too, so a
   * cluster sharded on a `tenantId`-prefixed key sends the lookup to one shard, not all
   * (which shape is used: learnIdLookupShape, once per database handle).
   */
  async findOneById(id: string, options?: FindOptions): Promise<WithId<T> | null> {
    if (!this.bareIdLookups) return this.collection.findOne({ _id: id, tenantId: this.tenantId } as Filter<T>, options);
    const doc: WithId<T> | null = await this.collection.findOne({ _id: id } as Filter<T>, options);
    return doc && (doc as Document).tenantId === this.tenantId ? doc : null;
  }

  find(filter: Filter<T>, options?: FindOptions) {
    return this.collection.find(this.scoped(filter), options);
  }

  countDocuments(filter: Filter<T>): Promise<number> {
    return this.collection.countDocuments(this.scoped(filter));
  }

  async insertOne(doc: TenantInsert<T>): Promise<T> {
    const full = { ...doc, tenantId: this.tenantId } as unknown as T;
    await this.collection.insertOne(full as OptionalUnlessRequiredId<T>);
    return full;
  }

  /**
   * Inserts documents stamped with this tenant (ordered unless told otherwise). A document
   * that already names a tenant must name this one: anything else is refused before any write.
   */
  async insertMany(docs: readonly TenantInsert<T>[], options?: BulkWriteOptions): Promise<T[]> {
    const full = docs.map((doc) => {
      const named: unknown = (doc as Document).tenantId;
      if (named !== undefined && named !== this.tenantId) throw new Error('tenant-scoped inserts must not name another tenant');
      return { ...doc, tenantId: this.tenantId } as unknown as T;
    });
    if (full.length) await this.collection.insertMany(full as OptionalUnlessRequiredId<T>[], options);
    return full;
  }

  /**
   * Runs `pipeline` over this tenant's documents only: the scope puts its own
   * `{ $match: { tenantId } }` first and refuses stages that reach other collections.
   */
  aggregate<R extends Document = Document>(pipeline: readonly Document[], options?: AggregateOptions): AggregationCursor<R> {
    checkPipeline(pipeline);
    return this.collection.aggregate<R>([{ $match: { tenantId: this.tenantId } }, ...pipeline], options);
  }

  updateOne(filter: Filter<T>, update: UpdateFilter<T>) {
    return this.collection.updateOne(this.scoped(filter), this.checkedUpdate(update));
  }

  updateMany(filter: Filter<T>, update: UpdateFilter<T>) {
    return this.collection.updateMany(this.scoped(filter), this.checkedUpdate(update));
  }

  findOneAndUpdate(filter: Filter<T>, update: UpdateFilter<T>) {
    return this.collection.findOneAndUpdate(this.scoped(filter), this.checkedUpdate(update), {
      returnDocument: 'after',
    });
  }

  deleteOne(filter: Filter<T>) {
    return this.collection.deleteOne(this.scoped(filter));
  }

  deleteMany(filter: Filter<T>) {
    return this.collection.deleteMany(this.scoped(filter));
  }
}

/**
 * The only door to tenant data: repositories are built from a scope, and a scope
 * is made for exactly one tenant id.
 */
export class TenantScope {
  constructor(
    private readonly db: Db,
    readonly tenantId: string,
  ) {
    if (!tenantId) throw new Error('a tenant scope needs a tenant id');
  }

  collection<T extends TenantDocument>(name: string): TenantCollection<T> {
    return new TenantCollection<T>(this.db.collection<T>(name), this.tenantId, BARE_ID_LOOKUPS.has(this.db));
  }
}

/** Database handles whose engine serves only a bare `{ _id }` filter from an index (FerretDB v1). */
const BARE_ID_LOOKUPS = new WeakSet<Db>();

/**
 * Asks the server what it is (buildInfo) and picks findOneById's filter for this handle:
 * `{ _id }` alone on FerretDB (the only filter it serves from an index), `{ _id, tenantId }`
 * on MongoDB (shard-targeted; the default when the server does not say). Call once, before
 * serving requests (createServices does).
 */
export async function learnIdLookupShape(db: Db): Promise<'bare' | 'scoped'> {
  const info = await db.admin().command({ buildInfo: 1 }).catch(() => ({}) as Document);
  const ferret = typeof info.ferretdbVersion === 'string' || (info.ferretdbFeatures !== undefined);
  if (ferret) BARE_ID_LOOKUPS.add(db);
  else BARE_ID_LOOKUPS.delete(db);
  return ferret ? 'bare' : 'scoped';
}
