import type { Collection, Db } from 'mongodb';
import type { TenantCollection, TenantDocument, TenantScope } from '../../db/tenant-scope.js';
import type { Role } from '../../identity/roles.js';

export interface ApiKeyDoc extends TenantDocument {
  name: string;
  role: Role;
  prefixes: string[];
  /** What the key may reach; absent on keys made before scopes (they keep secret access: LEGACY_SCOPES). */
  scopes?: string[];
  /** SHA-256 of the secret part; the key itself is shown once and never stored. */
  secretHash: string;
  createdAt: Date;
  createdBy: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  useCount: number;
}

export const API_KEYS_COLLECTION = 'api_keys';

/** One tenant's API keys. */
export class ApiKeyRepository {
  private readonly keys: TenantCollection<ApiKeyDoc>;

  constructor(scope: TenantScope) {
    this.keys = scope.collection<ApiKeyDoc>(API_KEYS_COLLECTION);
  }

  create(doc: Omit<ApiKeyDoc, 'tenantId'>) {
    return this.keys.insertOne(doc);
  }

  list() {
    return this.keys.find({ revokedAt: null }, { sort: { createdAt: -1 } }).toArray();
  }

  /** A key that is not revoked yet, or null. */
  findActive(id: string) {
    return this.keys.findOne({ _id: id, revokedAt: null });
  }

  async revokeAllBy(createdBy: string): Promise<number> {
    const result = await this.keys.updateMany({ createdBy, revokedAt: null }, { $set: { revokedAt: new Date() } });
    return result.modifiedCount;
  }

  async revoke(id: string): Promise<boolean> {
    const result = await this.keys.updateOne({ _id: id, revokedAt: null }, { $set: { revokedAt: new Date() } });
    return result.modifiedCount === 1;
  }
}

/** Finds a key by the public id in the presented token, before the tenant is known. */
export class ApiKeyDirectory {
  private readonly keys: Collection<ApiKeyDoc>;

  constructor(db: Db) {
    this.keys = db.collection<ApiKeyDoc>(API_KEYS_COLLECTION);
  }

  findById(id: string) {
    return this.keys.findOne({ _id: id });
  }

  /** `count` uses, the latest at `at` (see ApiKeyUsage: uses are written in batches). */
  async recordUse(id: string, at: Date, count: number): Promise<void> {
    await this.keys.updateOne({ _id: id }, { $inc: { useCount: count }, $max: { lastUsedAt: at } });
  }
}
