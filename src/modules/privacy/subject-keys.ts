import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { Binary } from 'mongodb';
import { isDuplicateKey } from '../../db/mongo-errors.js';
import type { DataKeys, TenantCipher } from '../keys/tenant-cipher.js';
import { HASH_KEY_BYTES } from './blind-index.js';
import { generateSubjectKey, unwrapSubjectKey, wrapSubjectKey } from './subject-cipher.js';
import type { SubjectRepository } from './subject.repository.js';

/** AAD of the tenant's wrapped blind-index key (no DEK version inside: TenantCipher.reseal keeps the AAD). */
export function indexKeyAad(tenantId: string): Buffer {
  return Buffer.from(JSON.stringify(['coffer:subject-index-key:v1', tenantId]), 'utf8');
}

/** Default lifetime of an unwrapped subject or index key in memory. */
export const SUBJECT_KEY_CACHE_MS = 60_000;

/**
 * Subject keys and the tenant's blind-index key (DESIGN.md §8): random, stored only wrapped
 * by the tenant DEK, unwrapped keys cached in memory for at most `cacheTtlMs`. Destroying a
 * subject key deletes its wrapped copy and evicts it from this instance's cache at once;
 * other instances refuse the subject as soon as they read its ERASING state, and drop the
 * key within the cache lifetime.
 */
export class SubjectKeyStore {
  private readonly cache: LRUCache<string, Buffer>;

  constructor(private readonly deps: { keys: DataKeys; cipher: TenantCipher; cacheTtlMs?: number }) {
    this.cache = new LRUCache<string, Buffer>({ max: 10_000, ttl: deps.cacheTtlMs ?? SUBJECT_KEY_CACHE_MS });
  }

  /** The tenant's blind-index key, created (32 random bytes, wrapped) on first use. */
  async indexKey(repo: SubjectRepository): Promise<Buffer> {
    const cacheId = `bik|${repo.tenantId}`;
    const cached = this.cache.get(cacheId);
    if (cached) return Buffer.from(cached);
    let doc = await repo.findIndexKey();
    if (!doc) {
      const key = randomBytes(HASH_KEY_BYTES);
      const sealed = await this.deps.cipher.seal(repo.tenantId, indexKeyAad(repo.tenantId), key);
      try {
        doc = await repo.insertIndexKey({ wrapped: new Binary(sealed.blob), dekVersion: sealed.dekVersion, createdAt: new Date() });
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        doc = await repo.findIndexKey(); // another request created it first
      } finally {
        key.fill(0);
      }
      if (!doc) throw new Error('blind-index key vanished after creation');
    }
    const key = await this.deps.cipher.open(repo.tenantId, indexKeyAad(repo.tenantId), Buffer.from(doc.wrapped.buffer), doc.dekVersion);
    this.cache.set(cacheId, Buffer.from(key));
    return key;
  }

  /** A fresh subject key, stored wrapped under the tenant's active DEK. */
  async createSubjectKey(repo: SubjectRepository, subjectId: string): Promise<{ keyId: string; key: Buffer }> {
    const key = generateSubjectKey();
    const keyId = `sk_${randomBytes(12).toString('hex')}`;
    const dek = await this.deps.keys.activeDek(repo.tenantId);
    try {
      const wrapped = wrapSubjectKey(dek.key, key, repo.tenantId, subjectId, dek.version);
      await repo.insertKey({ _id: keyId, subjectId, wrapped: new Binary(wrapped), dekVersion: dek.version, createdAt: new Date() });
    } finally {
      dek.key.fill(0);
    }
    this.cache.set(this.cacheId(repo.tenantId, keyId), Buffer.from(key));
    return { keyId, key };
  }

  /** The subject's key, or null once it has been destroyed. */
  async subjectKey(repo: SubjectRepository, subjectId: string, keyId: string): Promise<Buffer | null> {
    const cached = this.cache.get(this.cacheId(repo.tenantId, keyId));
    if (cached) return Buffer.from(cached);
    const doc = await repo.findKey(subjectId, keyId);
    if (!doc) return null;
    const dek = await this.deps.keys.dek(repo.tenantId, doc.dekVersion);
    try {
      const key = unwrapSubjectKey(dek, Buffer.from(doc.wrapped.buffer), repo.tenantId, subjectId, doc.dekVersion);
      this.cache.set(this.cacheId(repo.tenantId, keyId), Buffer.from(key));
      return key;
    } finally {
      dek.fill(0);
    }
  }

  /** Keys of several subjects (absent: destroyed), cached ones from memory and the rest in one `$in` read. Callers wipe them. */
  async subjectKeys(repo: SubjectRepository, refs: readonly { subjectId: string; keyId: string }[]): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    const missing: { subjectId: string; keyId: string }[] = [];
    for (const ref of refs) {
      const cached = this.cache.get(this.cacheId(repo.tenantId, ref.keyId));
      if (cached) out.set(ref.subjectId, Buffer.from(cached));
      else missing.push(ref);
    }
    const docs = await repo.findKeys(missing.map((ref) => ref.keyId));
    const deks = new Map<number, Buffer>();
    try {
      for (const doc of docs) {
        if (!missing.some((ref) => ref.keyId === doc._id && ref.subjectId === doc.subjectId)) continue;
        let dek = deks.get(doc.dekVersion);
        if (!dek) deks.set(doc.dekVersion, (dek = await this.deps.keys.dek(repo.tenantId, doc.dekVersion)));
        const key = unwrapSubjectKey(dek, Buffer.from(doc.wrapped.buffer), repo.tenantId, doc.subjectId, doc.dekVersion);
        this.cache.set(this.cacheId(repo.tenantId, doc._id), Buffer.from(key));
        out.set(doc.subjectId, key);
      }
    } finally {
      for (const dek of deks.values()) dek.fill(0);
    }
    return out;
  }

  /** Crypto-shredding: evicts the key here, then deletes every wrapped copy. Returns how many were deleted. */
  async destroy(repo: SubjectRepository, subjectId: string, keyId: string): Promise<number> {
    this.evict(repo.tenantId, keyId);
    const deleted = await repo.deleteKeysOf(subjectId);
    this.evict(repo.tenantId, keyId); // a read racing the deletion may have cached it again
    return deleted;
  }

  evict(tenantId: string, keyId: string): void {
    const id = this.cacheId(tenantId, keyId);
    this.cache.get(id)?.fill(0);
    this.cache.delete(id);
  }

  private cacheId(tenantId: string, keyId: string): string {
    return `sk|${tenantId}|${keyId}`;
  }
}
