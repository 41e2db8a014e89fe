import { randomBytes } from 'node:crypto';
import { Binary } from 'mongodb';
import { isDuplicateKey } from '../../db/mongo-errors.js';
import type { TenantCipher } from '../keys/tenant-cipher.js';
import { HASH_KEY_BYTES } from '../privacy/blind-index.js';
import { LEDGER_KEY_BYTES } from './consent-ledger.js';
import type { WrappedKeyDoc } from './consent.document.js';
import type { ConsentRepository } from './consent.repository.js';
import { ledgerKeyAad, suppressionKeyAad } from './consent.sealed-data.js';

export interface ConsentTenantKeysDeps {
  consentOf: (tenantId: string) => ConsentRepository;
  /** Wraps the tenant's suppression and ledger keys under its DEK. */
  cipher: TenantCipher;
}

/**
 * The tenant's own random consent keys (docs/ARCHITECTURE.md §14): the suppression key and the
 * ledger HMAC key, stored only wrapped under the DEK, created on first use, cached unwrapped for
 * at most 60 s. One instance is shared by the consent services (one cache).
 */
export class ConsentTenantKeys {
  /** Unwrapped tenant keys, by `<kind>:<tenantId>`, for at most 60 s. */
  private readonly tenantKeys = new Map<string, { key: Buffer; at: number }>();

  constructor(private readonly deps: ConsentTenantKeysDeps) {}

  /** The tenant's suppression key (32 random bytes, wrapped under its DEK, created on first use; cached 60 s). */
  suppressionKey(tenantId: string): Promise<Buffer> {
    const repo = this.deps.consentOf(tenantId);
    return this.tenantKey('suppression', tenantId, HASH_KEY_BYTES, suppressionKeyAad(tenantId), () => repo.findSuppressionKey(), (doc) => repo.insertSuppressionKey(doc));
  }

  /** The tenant's ledger HMAC key (32 random bytes of its own, wrapped under its DEK, created on first use; cached 60 s). */
  ledgerKey(tenantId: string): Promise<Buffer> {
    const repo = this.deps.consentOf(tenantId);
    return this.tenantKey('ledger', tenantId, LEDGER_KEY_BYTES, ledgerKeyAad(tenantId), () => repo.findLedgerKey(), (doc) => repo.insertLedgerKey(doc));
  }

  /**
   * A random per-tenant key stored only wrapped: read it, or create it on first use. Creation is
   * race-safe: the document has one fixed `_id`, so of two creators one insert fails on the
   * unique `_id` and that one reads the winner's key. The caller gets its own copy to zero.
   */
  private async tenantKey(
    kind: string,
    tenantId: string,
    bytes: number,
    aad: Buffer,
    find: () => Promise<WrappedKeyDoc | null>,
    insert: (doc: Omit<WrappedKeyDoc, '_id' | 'tenantId'>) => Promise<WrappedKeyDoc>,
  ): Promise<Buffer> {
    const cacheKey = `${kind}:${tenantId}`;
    const cached = this.tenantKeys.get(cacheKey);
    if (cached && Date.now() - cached.at < 60_000) return Buffer.from(cached.key);
    let doc = await find();
    if (!doc) {
      const key = randomBytes(bytes);
      const sealed = await this.deps.cipher.seal(tenantId, aad, key);
      key.fill(0);
      try {
        doc = await insert({ wrapped: new Binary(sealed.blob), dekVersion: sealed.dekVersion, createdAt: new Date() });
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        doc = await find();
      }
      if (!doc) throw new Error(`${kind} key vanished after creation`);
    }
    const key = await this.deps.cipher.open(tenantId, aad, Buffer.from(doc.wrapped.buffer), doc.dekVersion);
    this.tenantKeys.set(cacheKey, { key: Buffer.from(key), at: Date.now() });
    return key;
  }
}
