import type { Filter, UpdateFilter } from 'mongodb';
import type { TenantCollection, TenantScope } from '../../db/tenant-scope.js';
import { SECRETS_COLLECTION, type SecretDoc } from './secret.document.js';
import { scopePrefix, type SecretStatus } from './secret-rules.js';

export interface SecretListFilter {
  prefix?: string | null;
  tags?: string[] | null;
  status?: SecretStatus | null;
  /** API-key scoping: only names under these prefixes ("*" = all); null = no limit. */
  allowedPrefixes: readonly string[] | null;
}

/** Reads that only need metadata leave every version's ciphertext in the database. */
const WITHOUT_CIPHERTEXT = { projection: { 'versions.ciphertext': 0 } } as const;

/** A string range covering every name that starts with `prefix`. */
function prefixRange(prefix: string) {
  return { $gte: prefix, $lt: `${prefix}\uffff` };
}

function statusFilter(status: SecretStatus | null | undefined, now: Date): Filter<SecretDoc> {
  const live = { deletedAt: null };
  const notExpired = { $or: [{ expiresAt: null }, { expiresAt: { $gt: now } }] };
  switch (status) {
    case 'DELETED':
      return { deletedAt: { $ne: null } };
    case 'EXPIRED':
      return { ...live, expiresAt: { $ne: null, $lte: now } };
    case 'ROTATION_DUE':
      return { ...live, ...notExpired, rotationDueAt: { $lte: now } };
    case 'ACTIVE':
      return { ...live, ...notExpired, rotationDueAt: { $gt: now } };
    default:
      return live; // no status asked: everything not deleted
  }
}

/** One tenant's secrets. Every write is a compare-and-set on `revision`. */
export class SecretRepository {
  private readonly secrets: TenantCollection<SecretDoc>;

  constructor(scope: TenantScope) {
    this.secrets = scope.collection<SecretDoc>(SECRETS_COLLECTION);
  }

  /** The whole document, ciphertext included (writers need it to rebuild the version list). */
  findByName(name: string) {
    return this.secrets.findOne({ name });
  }

  /** Metadata only: versions without their ciphertext. */
  findMetadataByName(name: string) {
    return this.secrets.findOne({ name }, WITHOUT_CIPHERTEXT);
  }

  /** The whole document by id (ciphertext included): an `_id`-only lookup, see TenantCollection.findOneById. */
  findById(id: string) {
    return this.secrets.findOneById(id);
  }

  /** Metadata only, by id. */
  findMetadataById(id: string) {
    return this.secrets.findOneById(id, WITHOUT_CIPHERTEXT);
  }

  /** Whole documents by id, for revealing values. */
  findByIds(ids: string[]) {
    return this.secrets.find({ _id: { $in: ids } }).toArray();
  }

  /** Inserts a new secret; throws a duplicate-key error when the name is taken (deleted ones included). */
  async insert(doc: Omit<SecretDoc, 'tenantId'>): Promise<SecretDoc> {
    return this.secrets.insertOne(doc);
  }

  /**
   * Inserts new secrets in one unordered bulk insert. Returns the indexes (into `docs`) that
   * were refused because the name is taken; any other failure throws.
   */
  async insertNew(docs: Omit<SecretDoc, 'tenantId'>[]): Promise<Set<number>> {
    if (!docs.length) return new Set();
    try {
      await this.secrets.insertMany(docs, { ordered: false });
      return new Set();
    } catch (error) {
      const raw = (error as { writeErrors?: unknown }).writeErrors;
      const writeErrors = (Array.isArray(raw) ? raw : raw ? [raw] : []) as { index?: unknown; code?: unknown }[];
      if (!writeErrors.length || writeErrors.some((e) => e.code !== 11000 || typeof e.index !== 'number')) throw error;
      return new Set(writeErrors.map((e) => e.index as number));
    }
  }

  /** Applies `update` only if nobody wrote since `revision`; false when someone did. */
  async compareAndSet(id: string, revision: number, update: UpdateFilter<SecretDoc> & { $set: Partial<SecretDoc> }): Promise<boolean> {
    const result = await this.secrets.updateOne({ _id: id, revision }, { ...update, $inc: { revision: 1 } });
    return result.modifiedCount === 1;
  }

  async deleteIfRevision(id: string, revision: number): Promise<boolean> {
    const result = await this.secrets.deleteOne({ _id: id, revision });
    return result.deletedCount === 1;
  }

  private listQuery(filter: SecretListFilter, now: Date): Filter<SecretDoc> {
    const clauses: Filter<SecretDoc>[] = [statusFilter(filter.status, now)];
    if (filter.prefix) clauses.push({ name: prefixRange(filter.prefix) });
    if (filter.tags?.length) clauses.push({ tags: { $all: filter.tags } });
    const allowed = filter.allowedPrefixes;
    if (allowed && !allowed.includes('*')) clauses.push({ $or: allowed.map((p) => ({ name: prefixRange(scopePrefix(p)) })) });
    return clauses.length === 1 ? clauses[0]! : { $and: clauses };
  }

  /** Cursor pagination in name order on the (tenantId, name) index: no skip. */
  async list(filter: SecretListFilter, first: number, after: string | null, now: Date) {
    const query = this.listQuery(filter, now);
    const page = after ? { $and: [query, { name: { $gt: after } }] } : query;
    const docs = await this.secrets.find(page as Filter<SecretDoc>, { sort: { name: 1 }, limit: first + 1, ...WITHOUT_CIPHERTEXT }).toArray();
    // Counted only when asked for (the connection's totalCount field).
    const totalCount = () => this.secrets.countDocuments(query);
    return { docs: docs.slice(0, first), hasNextPage: docs.length > first, totalCount };
  }

  /** Live secrets whose rotation is due on or before `until`, soonest first. */
  dueForRotation(until: Date, allowedPrefixes: readonly string[] | null, limit: number) {
    const query: Filter<SecretDoc> = { deletedAt: null, rotationDueAt: { $lte: until } };
    const scoped =
      allowedPrefixes && !allowedPrefixes.includes('*')
        ? { $and: [query, { $or: allowedPrefixes.map((p) => ({ name: prefixRange(scopePrefix(p)) })) }] }
        : query;
    return this.secrets.find(scoped as Filter<SecretDoc>, { sort: { rotationDueAt: 1, name: 1 }, limit, ...WITHOUT_CIPHERTEXT }).toArray();
  }
}
