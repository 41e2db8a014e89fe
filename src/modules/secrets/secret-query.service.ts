import { LRUCache } from 'lru-cache';
import { fromCursor, toCursor } from '../../db/cursor.js';
import { IntegrityError } from '../../crypto/aes-gcm.js';
import { appError, badInput, notFound, notFoundBecause } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { AuditSink, CataloguedEvent } from '../audit/audit-event.js';
import type { TenantCaller } from '../../identity/caller.js';
import type { SecretSealer } from './secret-sealer.js';
import type { SecretDoc } from './secret.document.js';
import type { SecretListFilter, SecretRepository } from './secret.repository.js';
import { validName, validPrefix, withinPrefixes, type SecretStatus } from './secret-rules.js';
import { auditEvent } from '../audit/audit-builder.js';

interface QueryDeps {
  secretsOf: (tenantId: string) => SecretRepository;
  cipher: SecretSealer;
  audit: AuditSink;
  logger: Logger;
}

export const PAGE_MAX = 200;
/** Values one request may reveal; more is refused (a list page is at most PAGE_MAX). */
export const REVEALS_PER_REQUEST = 200;

/**
 * Collects the reveal events of one request and appends them in one batch, so
 * a list of 50 values costs one audit write, not 50.
 */
export class RevealBatch {
  private pending: CataloguedEvent[] = [];
  private flushing: Promise<void> | null = null;
  private reveals = 0;

  constructor(private readonly audit: AuditSink) {}

  /** Counts one more reveal in this request; refuses past the per-request limit. */
  admit(): void {
    this.reveals += 1;
    if (this.reveals > REVEALS_PER_REQUEST) throw badInput('value', `at most ${REVEALS_PER_REQUEST} values can be revealed in one request`);
  }

  record(event: CataloguedEvent): Promise<void> {
    this.pending.push(event);
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      const events = this.pending;
      this.pending = [];
      this.flushing = null;
      return this.audit.append(...events);
    });
    return this.flushing;
  }
}

/**
 * Loads the ciphertext-bearing documents that one request reveals with one
 * query per tenant (listings load metadata only).
 */
interface Waiter {
  resolve: (doc: SecretDoc | null) => void;
  reject: (error: unknown) => void;
}

class CiphertextLoader {
  private pending = new Map<string, { tenantId: string; waiters: Waiter[] }>();
  private scheduled = false;

  constructor(private readonly secretsOf: (tenantId: string) => SecretRepository) {}

  load(tenantId: string, id: string): Promise<SecretDoc | null> {
    return new Promise((resolve, reject) => {
      const entry = this.pending.get(id) ?? { tenantId, waiters: [] };
      entry.waiters.push({ resolve, reject });
      this.pending.set(id, entry);
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => void this.flush());
    });
  }

  /** Settles every waiter of the batch: with its document, or with the error that stopped the load. */
  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    this.scheduled = false;
    const byTenant = new Map<string, string[]>();
    for (const [id, { tenantId }] of batch) byTenant.set(tenantId, [...(byTenant.get(tenantId) ?? []), id]);
    for (const [tenantId, ids] of byTenant) {
      try {
        const docs = new Map((await this.secretsOf(tenantId).findByIds(ids)).map((d) => [d._id, d]));
        for (const id of ids) for (const waiter of batch.get(id)!.waiters) waiter.resolve(docs.get(id) ?? null);
      } catch (error) {
        for (const id of ids) for (const waiter of batch.get(id)!.waiters) waiter.reject(error);
      }
    }
  }
}

function decodeCursor(after: string | null | undefined): string | null {
  if (!after) return null;
  const name = fromCursor(after);
  if (!name) throw badInput('after', 'is not a cursor from this connection');
  return name;
}

export const encodeCursor = (name: string) => toCursor(name);

/** Reading secrets: metadata never decrypts; values only through reveal, always audited. */
export class SecretQueryService {
  /** One ciphertext loader per request (keyed by the request's reveal batch). */
  private readonly loaders = new WeakMap<RevealBatch, CiphertextLoader>();
  /**
   * name → id per tenant, remembered from lookups by name: the next read of that name is a
   * lookup by `_id`, which every engine serves from the primary key (FerretDB v1 serves no
   * other filter from an index). Only a hint: each use is checked against the document.
   */
  private readonly ids = new LRUCache<string, string>({ max: 100_000 });

  constructor(private readonly deps: QueryDeps) {}

  /**
   * The secret, or null when missing, another tenant's, or outside an API key's prefixes.
   * `withValues`: the caller will reveal a value, so the document comes with its ciphertext
   * in the same read (one round trip instead of two); otherwise metadata only.
   */
  async get(principal: TenantCaller, name: string, withValues = false): Promise<SecretDoc | null> {
    validName(name);
    if (!withinPrefixes(name, principal.prefixes)) return null;
    const repo = this.deps.secretsOf(principal.tenantId);
    const key = `${principal.tenantId}\u0000${name}`;
    const id = this.ids.get(key);
    if (id) {
      // A secret's id never changes and its name never moves to another id, so a document
      // found under the remembered id with this name is the answer; anything else (purged,
      // recreated) falls through to the lookup by name.
      const byId = withValues ? await repo.findById(id) : await repo.findMetadataById(id);
      if (byId && byId.name === name) return byId;
      this.ids.delete(key);
    }
    const doc = withValues ? await repo.findByName(name) : await repo.findMetadataByName(name);
    if (doc) this.ids.set(key, doc._id);
    return doc;
  }

  async list(principal: TenantCaller, filter: { prefix?: string | null; tags?: string[] | null; status?: SecretStatus | null }, first: number | null | undefined, after: string | null | undefined) {
    const size = first ?? 50;
    if (!Number.isInteger(size) || size < 1 || size > PAGE_MAX) throw badInput('first', `must be 1 to ${PAGE_MAX}`);
    if (filter.prefix) validPrefix(filter.prefix);
    const listFilter: SecretListFilter = { ...filter, allowedPrefixes: principal.prefixes };
    return this.deps.secretsOf(principal.tenantId).list(listFilter, size, decodeCursor(after), new Date());
  }

  async dueForRotation(principal: TenantCaller, withinDays: number | null | undefined): Promise<SecretDoc[]> {
    const days = withinDays ?? 0;
    if (!Number.isInteger(days) || days < 0 || days > 3650) throw badInput('withinDays', 'must be 0 to 3650');
    const until = new Date(Date.now() + days * 86_400_000);
    return this.deps.secretsOf(principal.tenantId).dueForRotation(until, principal.prefixes, 1000);
  }

  /** Decrypts one version (default: current) and records the reveal; the value is returned only once audited. */
  async reveal(principal: TenantCaller, doc: SecretDoc, version: number | null | undefined, batch: RevealBatch): Promise<string> {
    if (doc.tenantId !== principal.tenantId || !withinPrefixes(doc.name, principal.prefixes)) throw notFound(`Secret "${doc.name}"`);
    if (doc.deletedAt) throw notFoundBecause(`Secret "${doc.name}" is deleted; restore it to read its value`);
    const wanted = version ?? doc.currentVersion;
    const listed = doc.versions.find((v) => v.version === wanted);
    if (!listed) throw notFound(`Version ${wanted} of secret "${doc.name}"`);
    if (listed.destroyedAt) throw notFoundBecause(`Version ${wanted} of secret "${doc.name}" was destroyed; its value is gone`);
    batch.admit();
    const stored = await this.ciphertextOf(principal.tenantId, doc, wanted, batch);
    if (!stored) throw notFound(`Version ${wanted} of secret "${doc.name}"`);
    let value: string;
    try {
      value = await this.deps.cipher.open(principal.tenantId, doc._id, stored);
    } catch (error) {
      if (!(error instanceof IntegrityError)) throw error;
      await batch.record(auditEvent('secret.revealed', { caller: principal, resource: { id: doc._id }, details: { name: doc.name, version: wanted }, outcome: 'FAILURE' }));
      this.deps.logger.error({ event: 'secret.integrity_failure', tenantId: principal.tenantId, secretId: doc._id, version: wanted }, 'secret version failed its integrity check');
      throw appError('INTERNAL_SERVER_ERROR', 'Secret version failed its integrity check');
    }
    await batch.record(auditEvent('secret.revealed', { caller: principal, resource: { id: doc._id }, details: { name: doc.name, version: wanted } }));
    return value;
  }

  /** The version with its ciphertext: from `doc` when it carries it, else loaded (batched per request). */
  private async ciphertextOf(tenantId: string, doc: SecretDoc, version: number, batch: RevealBatch) {
    const inDoc = doc.versions.find((v) => v.version === version);
    if (inDoc?.ciphertext) return inDoc;
    let loader = this.loaders.get(batch);
    if (!loader) {
      loader = new CiphertextLoader(this.deps.secretsOf);
      this.loaders.set(batch, loader);
    }
    const full = await loader.load(tenantId, doc._id);
    const stored = full?.versions.find((v) => v.version === version);
    return stored?.ciphertext ? stored : null;
  }
}
