import { Binary, type Collection, type Db } from 'mongodb';

/** Platform-level keys (not tied to a tenant), each wrapped under the master keyring. */
export const PLATFORM_KEYS_COLLECTION = 'platform_keys';

export interface PlatformKeyDoc {
  _id: string;
  wrapped: Binary;
  masterKeyId: string;
  createdAt: Date;
}

/** A wrapped platform key as stored: the wrapped bytes and the master key that wrapped them. */
export interface StoredPlatformKey {
  wrapped: Buffer;
  masterKeyId: string;
}

/** The wrapped platform keys, one document per key id (e.g. the login-failure HMAC key). */
export class PlatformKeyRepository {
  private readonly keys: Collection<PlatformKeyDoc>;

  constructor(db: Db) {
    this.keys = db.collection<PlatformKeyDoc>(PLATFORM_KEYS_COLLECTION);
  }

  async find(id: string): Promise<StoredPlatformKey | null> {
    const doc = await this.keys.findOne({ _id: id });
    return doc ? { wrapped: Buffer.from(doc.wrapped.buffer), masterKeyId: doc.masterKeyId } : null;
  }

  /** Every platform key as stored (a handful: one per purpose), for `rewrap-keys`. */
  async list(): Promise<(StoredPlatformKey & { id: string })[]> {
    const docs = await this.keys.find({}).sort({ _id: 1 }).limit(1000).toArray();
    return docs.map((doc) => ({ id: doc._id, wrapped: Buffer.from(doc.wrapped.buffer), masterKeyId: doc.masterKeyId }));
  }

  /** Stores a new key; throws a duplicate-key error when another instance stored one first. */
  async insert(id: string, key: StoredPlatformKey, createdAt: Date): Promise<void> {
    await this.keys.insertOne({ _id: id, wrapped: new Binary(key.wrapped), masterKeyId: key.masterKeyId, createdAt });
  }

  /**
   * Replaces the stored key only while it is still wrapped under `expectedMasterKeyId`
   * (compare-and-set); `createdAt` is set when the key itself is new. Whether it replaced.
   */
  async replace(id: string, expectedMasterKeyId: string, key: StoredPlatformKey, createdAt?: Date): Promise<boolean> {
    const result = await this.keys.updateOne(
      { _id: id, masterKeyId: expectedMasterKeyId },
      { $set: { wrapped: new Binary(key.wrapped), masterKeyId: key.masterKeyId, ...(createdAt ? { createdAt } : {}) } },
    );
    return result.modifiedCount === 1;
  }
}
