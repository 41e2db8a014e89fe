import { LRUCache } from 'lru-cache';
import { randomBytes } from 'node:crypto';
import { Binary, type Db } from 'mongodb';
import { KEY_BYTES, wrappedKeyAad } from '../../crypto/aes-gcm.js';
import { conflict } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { PLATFORM_CHAIN, type AuditEventInput, type AuditSink } from '../audit/audit-event.js';
import { auditEvent } from '../audit/audit-builder.js';
import { isDuplicateKey } from '../../db/mongo-errors.js';
import { TenantScope } from '../../db/tenant-scope.js';
import type { MasterKeyring } from './keyring.js';
import { rewrapPlatformKeys, type PlatformRewrapResult } from './platform-key-rewrap.js';
import { PlatformKeyRepository } from './platform-key.repository.js';
import type { SealedDataRegistry } from './sealed-data.js';
import {
  IDLE_REENCRYPTION,
  TenantKeyRepository,
  toBuffer,
  type DekDoc,
  type ReencryptionState,
  type RewrapAudit,
  type TenantKeyDoc,
  type WrappedKeyDoc,
} from './tenant-key.repository.js';

export type KeyActor = AuditEventInput['actor'];

/** The audit HMAC key is never rotated, so it always has version 1 in its AAD. */
const AUDIT_KEY_VERSION = 1;
const MAX_CAS_ATTEMPTS = 20;
const PAGE = 100;

export interface TenantKeyVersionView {
  version: number;
  createdAt: Date;
  masterKeyId: string;
  /** Live values sealed under this version, summed over every registered kind of sealed data. */
  secretVersionCount: number;
  retiredAt: Date | null;
}

export interface TenantKeyStatusView {
  activeDekVersion: number;
  versions: TenantKeyVersionView[];
  reencryption: { state: ReencryptionState; done: number; total: number };
}

export interface MasterKeyStatusView {
  activeMasterKeyId: string;
  keys: { id: string; inKeyring: boolean; wrappedKeyCount: number }[];
}

/** What rotate() needs of the re-encryption job (see ReencryptionJob). */
export interface ReencryptionStarter {
  start(tenantId: string): void;
}

/** A DEK whose key material was removed after re-encryption moved everything off it; re-read the secret. */
export class RetiredKeyError extends Error {
  constructor(tenantId: string, version: number) {
    super(`DEK version ${version} of tenant ${tenantId} is retired; re-read the data, it has been re-encrypted`);
    this.name = 'RetiredKeyError';
  }
}

export interface TenantKeyServiceDeps {
  db: Db;
  keyring: MasterKeyring;
  logger: Logger;
  audit?: AuditSink;
  /**
   * Every kind of data sealed under tenant DEKs: rotation, its progress and DEK retirement
   * walk these. Without it the service only hands out and re-wraps keys (status and
   * rotate refuse, rather than count nothing and retire a DEK still in use).
   */
  sealedData?: SealedDataRegistry;
  /** How long an unwrapped key stays in memory (default 5 minutes). */
  cacheTtlMs?: number;
  /** How many unwrapped keys stay in memory at most (default 1000, least recently used go first). */
  cacheMax?: number;
  /**
   * Platform keys a server replaces by itself when their master key has left the ring (the
   * login-failure key: counters start over): counted by masterKeyStatus, but not a reason to
   * refuse to start.
   */
  replaceablePlatformKeyIds?: readonly string[];
}

const dekAad = (tenantId: string, version: number) => wrappedKeyAad(tenantId, 'dek', version);
const auditAad = (chainId: string) => wrappedKeyAad(chainId, 'audit', AUDIT_KEY_VERSION);
const dekCacheId = (tenantId: string, version: number) => `dek|${tenantId}|${version}`;
const auditCacheId = (chainId: string) => `audit|${chainId}`;

function rotationConflict(): Error & { code: 'CONFLICT' } {
  return Object.assign(conflict('A re-encryption is already running for this tenant; rotate again once it is DONE'), { code: 'CONFLICT' as const });
}

function assertDataTenant(tenantId: string): void {
  if (!tenantId || tenantId === PLATFORM_CHAIN) throw new Error('data keys exist only for tenants');
}

/** Bounded, expiring map of unwrapped keys; a hit refreshes recency, not expiry. */
class KeyCache {
  private readonly entries: LRUCache<string, Buffer>;

  constructor(ttlMs: number, max: number) {
    this.entries = new LRUCache<string, Buffer>({ max, ttl: ttlMs });
  }

  /** A copy, so a caller wiping its key cannot wipe the cache. */
  get(id: string): Buffer | undefined {
    const key = this.entries.get(id);
    return key ? Buffer.from(key) : undefined;
  }

  set(id: string, key: Buffer): void {
    this.entries.set(id, Buffer.from(key));
  }

  delete(id: string): void {
    this.entries.delete(id);
  }
}

/**
 * Per-tenant keys (docs/ARCHITECTURE.md §5): versioned DEKs and the audit-chain HMAC key,
 * stored only wrapped under the master keyring, one document per tenant.
 * Returned keys are copies: callers may wipe them.
 */
export class TenantKeyService {
  private readonly repo: TenantKeyRepository;
  private readonly platformKeys: PlatformKeyRepository;
  private readonly cache: KeyCache;
  private reencryption: ReencryptionStarter | null = null;

  constructor(private readonly deps: TenantKeyServiceDeps) {
    this.repo = new TenantKeyRepository(deps.db);
    this.platformKeys = new PlatformKeyRepository(deps.db);
    this.cache = new KeyCache(deps.cacheTtlMs ?? 5 * 60_000, deps.cacheMax ?? 1000);
  }

  /** What is sealed under tenant DEKs; the re-encryption job walks the same registry. */
  get sealedData(): SealedDataRegistry {
    if (!this.deps.sealedData) throw new Error('this key service was built without a sealed-data registry; it cannot count or re-encrypt data');
    return this.deps.sealedData;
  }

  /** Connects the background job that rotate() starts. */
  useReencryption(job: ReencryptionStarter): void {
    this.reencryption = job;
  }

  /** The DEK new data is sealed with; creates version 1 on first use. */
  async activeDek(tenantId: string): Promise<{ version: number; key: Buffer }> {
    assertDataTenant(tenantId);
    const doc = await this.docFor(tenantId);
    return { version: doc.activeDekVersion, key: this.dekFrom(doc, doc.activeDekVersion) };
  }

  /** A DEK by version, for opening data sealed with it. RetiredKeyError once it is retired. */
  async dek(tenantId: string, version: number): Promise<Buffer> {
    const cached = this.cache.get(dekCacheId(tenantId, version));
    if (cached) return cached;
    const doc = await this.repo.find(tenantId);
    if (!doc) throw new Error(`tenant ${tenantId} has no keys yet`);
    return this.dekFrom(doc, version);
  }

  /** The HMAC key of an audit chain (a tenant id or PLATFORM_CHAIN); created on first use. */
  async auditKey(chainId: string): Promise<Buffer> {
    const cached = this.cache.get(auditCacheId(chainId));
    if (cached) return cached;
    const doc = await this.docFor(chainId);
    const key = this.deps.keyring.unwrap(toBuffer(doc.auditKey.wrapped), doc.auditKey.masterKeyId, auditAad(chainId));
    this.cache.set(auditCacheId(chainId), key);
    return key;
  }

  /** The tenant's key material by version (never bytes), or null when it has none (any more). */
  async inventory(tenantId: string): Promise<{ dekVersions: number[]; auditKey: boolean } | null> {
    assertDataTenant(tenantId);
    const doc = await this.repo.find(tenantId);
    return doc ? { dekVersions: doc.deks.filter((d) => d.wrapped !== null).map((d) => d.version), auditKey: true } : null;
  }

  /**
   * Crypto-shredding of a tenant being deleted: deletes its key document (every wrapped DEK and
   * the audit-chain key) and drops its unwrapped keys from this instance's memory, so nothing
   * sealed under them, in any copy, opens again. Other instances hold cached keys at most
   * `cacheTtlMs`. Safe to repeat; returns whether a document was deleted.
   */
  async destroyTenantKeys(tenantId: string, dekVersions: readonly number[]): Promise<boolean> {
    assertDataTenant(tenantId);
    const doc = await this.repo.find(tenantId);
    const versions = new Set([...dekVersions, ...(doc?.deks.map((d) => d.version) ?? [])]);
    const deleted = await this.repo.delete(tenantId);
    for (const version of versions) this.cache.delete(dekCacheId(tenantId, version));
    this.cache.delete(auditCacheId(tenantId));
    if (deleted) this.deps.logger.warn({ event: 'key.tenant_destroyed', tenantId, dekVersions: [...versions] }, 'tenant keys destroyed');
    return deleted > 0;
  }

  /** Drops a DEK from this instance's memory (after it was retired). */
  forgetDek(tenantId: string, version: number): void {
    this.cache.delete(dekCacheId(tenantId, version));
  }

  async status(tenantId: string): Promise<TenantKeyStatusView> {
    assertDataTenant(tenantId);
    const doc = await this.docFor(tenantId);
    const counts = await this.sealedData.countByDek(new TenantScope(this.deps.db, tenantId));
    return {
      activeDekVersion: doc.activeDekVersion,
      versions: doc.deks.map((d) => ({
        version: d.version,
        createdAt: d.createdAt,
        masterKeyId: d.masterKeyId,
        secretVersionCount: counts.get(d.version) ?? 0,
        retiredAt: d.retiredAt,
      })),
      reencryption: { state: doc.reencryption.state, done: doc.reencryption.done, total: doc.reencryption.total },
    };
  }

  /** Adds DEK version n+1 for new writes and starts re-encrypting existing data with it. CONFLICT while one is running. */
  async rotate(tenantId: string, actor: KeyActor): Promise<TenantKeyStatusView> {
    assertDataTenant(tenantId);
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const doc = await this.docFor(tenantId);
      if (doc.reencryption.state === 'RUNNING') throw rotationConflict();
      const version = Math.max(0, ...doc.deks.map((d) => d.version)) + 1;
      const key = randomBytes(KEY_BYTES);
      const total = await this.versionsNotOn(tenantId, version);
      const reencryption = { ...IDLE_REENCRYPTION, state: 'RUNNING' as const, targetVersion: version, total, startedAt: new Date() };
      if (!(await this.repo.startRotation(doc, this.newDek(tenantId, version, key), reencryption))) continue;
      this.cache.set(dekCacheId(tenantId, version), key);
      await this.afterRotation(tenantId, actor, doc.activeDekVersion, version, total);
      return this.status(tenantId);
    }
    throw new Error(`tenant ${tenantId}: key document kept changing; rotation not started`);
  }

  /**
   * What an operator's re-wrap does (the CLI's rewrap-keys and the rewrapTenantKeys mutation):
   * every tenant's keys (rewrapAll), then, unless stopped there, the platform keys.
   */
  async rewrapUnderActiveKey(
    actor: KeyActor,
    options: Parameters<TenantKeyService['rewrapAll']>[1] = {},
  ): Promise<{ tenants: number; rewrapped: number; stopped: boolean; platformKeys: PlatformRewrapResult }> {
    const result = await this.rewrapAll(actor, options);
    // Stopped (Ctrl-C): the platform keys wait for the run that finishes the tenants.
    const platformKeys = result.stopped ? { rewrapped: 0, unreadable: [] } : await this.rewrapPlatformKeys(actor);
    return { ...result, platformKeys };
  }

  /**
   * Re-wraps the platform keys (login-counter and TOTP keys) under the active master key;
   * audited on the platform chain (`key.platform_rewrapped`) when any moved or could not be read.
   */
  async rewrapPlatformKeys(actor: KeyActor): Promise<PlatformRewrapResult> {
    const result = await rewrapPlatformKeys(this.platformKeys, this.deps.keyring);
    if (result.rewrapped > 0 || result.unreadable.length > 0) {
      await this.deps.audit?.append(
        auditEvent('key.platform_rewrapped', {
          caller: { tenantId: PLATFORM_CHAIN, actor },
          resource: { id: PLATFORM_CHAIN },
          details: { masterKeyId: this.deps.keyring.activeId, rewrapped: result.rewrapped, unreadable: result.unreadable.length },
        }),
      );
    }
    return result;
  }

  /** Re-wraps every tenant's DEKs and audit key under the active master key. Safe to repeat. */
  async rewrapAll(
    actor: KeyActor,
    options: {
      /** After each tenant: tenants done so far. */
      onTenant?: (done: number) => void;
      /** Checked before each tenant: true stops the run there (a later run continues). */
      shouldStop?: () => boolean;
    } = {},
  ): Promise<{ tenants: number; rewrapped: number; stopped: boolean }> {
    let tenants = 0;
    let rewrapped = 0;
    let stopped = false;
    for await (const doc of this.allDocs()) {
      if (options.shouldStop?.()) {
        stopped = true;
        break;
      }
      tenants++;
      const { count, unaudited } = await this.rewrapTenant(doc);
      rewrapped += count;
      // Also a re-wrap an earlier run stored but was stopped before auditing (see TenantKeyDoc.rewrapAudit).
      if (unaudited) {
        await this.deps.audit?.append(
          auditEvent('key.master_rewrapped', {
            caller: { tenantId: doc.tenantId, actor },
            resource: { id: doc.tenantId },
            details: { masterKeyId: unaudited.masterKeyId, rewrapped: unaudited.rewrapped },
          }),
        );
        await this.repo.clearRewrapAudit(doc.tenantId, unaudited);
      }
      options.onTenant?.(tenants);
    }
    this.deps.logger.info({ event: 'key.master_rewrapped', tenants, rewrapped, stopped, masterKeyId: this.deps.keyring.activeId }, 'tenant keys re-wrapped');
    return { tenants, rewrapped, stopped };
  }

  /** How many live wrapped keys each master key protects; ids stored but missing from the ring show inKeyring false. */
  async masterKeyStatus(): Promise<MasterKeyStatusView> {
    return this.statusCounting(() => true);
  }

  /** Startup check: refuses to run when stored keys need a master key the ring lacks. */
  async assertKeyringCoversStoredKeys(): Promise<void> {
    const replaceable = new Set(this.deps.replaceablePlatformKeyIds ?? []);
    const status = await this.statusCounting((platformKeyId) => !replaceable.has(platformKeyId));
    const missing = status.keys.filter((k) => !k.inKeyring && k.wrappedKeyCount > 0);
    if (!missing.length) return;
    const list = missing.map((k) => `"${k.id}" (${k.wrappedKeyCount} wrapped keys)`).join(', ');
    throw new Error(
      `Stored keys (tenant and platform keys) are wrapped under master key(s) missing from the keyring: ${list}. ` +
        'Add them back to VAULT_MASTER_KEYS; remove an old master key only after `npm run cli -- rewrap-keys` ' +
        'and masterKeyStatus shows 0 wrapped keys under it.',
    );
  }

  /**
   * Wrapped keys per master key: every tenant's live DEKs and audit keys, and the platform keys
   * (the login-counter HMAC key, the TOTP secret key) `countPlatformKey` accepts: a master key
   * still wrapping any of them cannot be removed either.
   */
  private async statusCounting(countPlatformKey: (id: string) => boolean): Promise<MasterKeyStatusView> {
    const { keyring } = this.deps;
    const counts = new Map<string, number>([keyring.activeId, ...keyring.ids].map((id) => [id, 0]));
    const add = (id: string) => counts.set(id, (counts.get(id) ?? 0) + 1);
    for await (const doc of this.allDocs()) {
      for (const id of liveMasterKeyIds(doc)) add(id);
    }
    for (const key of await this.platformKeys.list()) if (countPlatformKey(key.id)) add(key.masterKeyId);
    return {
      activeMasterKeyId: keyring.activeId,
      keys: [...counts].map(([id, wrappedKeyCount]) => ({ id, inKeyring: keyring.has(id), wrappedKeyCount })),
    };
  }

  private async *allDocs(): AsyncGenerator<TenantKeyDoc> {
    let after: string | null = null;
    for (;;) {
      const page = await this.repo.page(after, PAGE);
      yield* page;
      if (page.length < PAGE) return;
      after = page[page.length - 1]!._id;
    }
  }

  private async afterRotation(tenantId: string, actor: KeyActor, from: number, to: number, total: number): Promise<void> {
    this.deps.logger.info({ event: 'key.tenant_rotated', tenantId, fromVersion: from, toVersion: to, total }, 'tenant DEK rotated');
    if (this.reencryption) this.reencryption.start(tenantId);
    else this.deps.logger.warn({ tenantId }, 'no re-encryption job attached; it resumes at the next start');
    await this.deps.audit?.append(
      auditEvent('key.tenant_rotated', { caller: { tenantId, actor }, resource: { id: tenantId }, details: { fromVersion: from, toVersion: to, secretVersionsToReencrypt: total } }),
    );
  }

  private async versionsNotOn(tenantId: string, version: number): Promise<number> {
    let total = 0;
    for (const [dekVersion, count] of await this.sealedData.countByDek(new TenantScope(this.deps.db, tenantId))) {
      if (dekVersion !== version) total += count;
    }
    return total;
  }

  /** The tenant's key document, created (DEK v1 + audit key) on first use; concurrent creators converge on one. */
  private async docFor(tenantId: string): Promise<TenantKeyDoc> {
    const existing = await this.repo.find(tenantId);
    return existing ?? this.create(tenantId);
  }

  private async create(tenantId: string): Promise<TenantKeyDoc> {
    const dek = tenantId === PLATFORM_CHAIN ? null : randomBytes(KEY_BYTES);
    const auditKey = randomBytes(KEY_BYTES);
    const doc = this.newDoc(tenantId, dek, auditKey);
    try {
      await this.repo.insert(doc);
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      const winner = await this.repo.find(tenantId);
      if (!winner) throw error;
      return winner;
    }
    if (dek) this.cache.set(dekCacheId(tenantId, 1), dek);
    this.cache.set(auditCacheId(tenantId), auditKey);
    this.deps.logger.info({ event: 'key.tenant_created', tenantId }, 'tenant keys created');
    return doc;
  }

  private newDoc(tenantId: string, dek: Buffer | null, auditKey: Buffer): TenantKeyDoc {
    const now = new Date();
    const audit = this.deps.keyring.wrap(auditKey, auditAad(tenantId));
    return {
      _id: tenantId,
      tenantId,
      activeDekVersion: dek ? 1 : 0,
      deks: dek ? [this.newDek(tenantId, 1, dek)] : [],
      auditKey: { wrapped: new Binary(audit.wrapped), masterKeyId: audit.masterKeyId, createdAt: now },
      reencryption: IDLE_REENCRYPTION,
      revision: 0,
      createdAt: now,
      updatedAt: now,
    };
  }

  private newDek(tenantId: string, version: number, key: Buffer): DekDoc {
    const { wrapped, masterKeyId } = this.deps.keyring.wrap(key, dekAad(tenantId, version));
    return { version, wrapped: new Binary(wrapped), masterKeyId, createdAt: new Date(), retiredAt: null };
  }

  private dekFrom(doc: TenantKeyDoc, version: number): Buffer {
    const cached = this.cache.get(dekCacheId(doc.tenantId, version));
    if (cached) return cached;
    const entry = doc.deks.find((d) => d.version === version);
    if (!entry) throw new Error(`tenant ${doc.tenantId} has no DEK version ${version}`);
    if (!entry.wrapped) throw new RetiredKeyError(doc.tenantId, version);
    const key = this.deps.keyring.unwrap(toBuffer(entry.wrapped), entry.masterKeyId, dekAad(doc.tenantId, version));
    this.cache.set(dekCacheId(doc.tenantId, version), key);
    return key;
  }

  /** Moves one tenant's live wrapped keys to the active master key; returns how many moved. */
  /** Re-wraps a tenant's keys under the active master key; returns how many moved and the re-wrap still to audit. */
  private async rewrapTenant(first: TenantKeyDoc): Promise<{ count: number; unaudited: RewrapAudit | null }> {
    let doc: TenantKeyDoc | null = first;
    for (let attempt = 0; doc && attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const plan = this.rewrapPlan(doc);
      if (plan.count === 0) return { count: 0, unaudited: doc.rewrapAudit ?? null };
      const pending = doc.rewrapAudit?.masterKeyId === this.deps.keyring.activeId ? doc.rewrapAudit.rewrapped : 0;
      const unaudited: RewrapAudit = { masterKeyId: this.deps.keyring.activeId, rewrapped: pending + plan.count };
      if (await this.repo.setWrappedKeys(doc, plan.deks, plan.auditKey, unaudited)) return { count: plan.count, unaudited };
      doc = await this.repo.find(doc._id);
    }
    if (!doc) return { count: 0, unaudited: null };
    throw new Error(`tenant ${first._id}: key document kept changing; run rewrap again`);
  }

  private rewrapPlan(doc: TenantKeyDoc): { deks: DekDoc[]; auditKey: WrappedKeyDoc; count: number } {
    const active = this.deps.keyring.activeId;
    let count = 0;
    const deks = doc.deks.map((d) => {
      if (!d.wrapped || d.masterKeyId === active) return d;
      count++;
      return { ...d, ...this.rewrapped(d.wrapped, d.masterKeyId, dekAad(doc.tenantId, d.version)) };
    });
    let auditKey = doc.auditKey;
    if (auditKey.masterKeyId !== active) {
      count++;
      auditKey = { ...auditKey, ...this.rewrapped(auditKey.wrapped, auditKey.masterKeyId, auditAad(doc.tenantId)) };
    }
    return { deks, auditKey, count };
  }

  private rewrapped(wrapped: Binary, masterKeyId: string, aad: Buffer): { wrapped: Binary; masterKeyId: string } {
    const key = this.deps.keyring.unwrap(toBuffer(wrapped), masterKeyId, aad);
    const result = this.deps.keyring.wrap(key, aad);
    key.fill(0);
    return { wrapped: new Binary(result.wrapped), masterKeyId: result.masterKeyId };
  }
}

/** Master key ids of the key material a document still holds (retired DEKs hold none). */
function liveMasterKeyIds(doc: TenantKeyDoc): string[] {
  return [...doc.deks.filter((d) => d.wrapped !== null).map((d) => d.masterKeyId), doc.auditKey.masterKeyId];
}
