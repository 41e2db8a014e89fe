import { randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';
import { TenantScope } from '../../db/tenant-scope.js';
import type { Logger } from '../../logger.js';
import type { AuditSink } from '../audit/audit-event.js';
import { auditEvent } from '../audit/audit-builder.js';
import type { SealedDataKind, SealedItem } from './sealed-data.js';
import { TenantCipher } from './tenant-cipher.js';
import { TenantKeyRepository, type DekDoc, type ReencryptionProgress, type TenantKeyDoc } from './tenant-key.repository.js';
import type { ReencryptionStarter, TenantKeyService } from './tenant-key.service.js';

export interface ReencryptionJobDeps {
  db: Db;
  keys: TenantKeyService;
  logger: Logger;
  audit?: AuditSink;
  /** Items per batch; progress is saved after each (default 100). */
  batchSize?: number;
  /** How long a run's lease lasts without renewal; renewed every batch (REENCRYPTION_LEASE_SECONDS; default 60 s). */
  leaseMs?: number;
  /**
   * Old DEKs are retired no sooner than this long after the rotation, so a write that
   * fetched the previous active DEK just before the rotation has landed and been swept (default 30 s).
   */
  retireGraceMs?: number;
}

/** DONE: finished now. PAUSED: stopped early (maxBatches or stop()). BUSY: another run holds the lease. */
export type RunOutcome = 'DONE' | 'PAUSED' | 'BUSY' | 'LOST_LEASE' | 'NOT_RUNNING';

interface RunContext {
  tenantId: string;
  owner: string;
  target: number;
  total: number;
  startedAt: Date;
  scope: TenantScope;
  kinds: readonly SealedDataKind[];
  /** Which kind the walk is in (null: the first, as progress saved before kinds existed) and where. */
  progress: ReencryptionProgress;
}

const MAX_CAS_ATTEMPTS = 20;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Moves every value sealed under an old DEK of a tenant onto the target DEK after a
 * rotation: it walks each registered SealedDataKind in turn (the key service's registry),
 * one item per compare-and-set update, resumable from its progress (kind + cursor),
 * guarded by a lease so one instance works on a tenant at a time. Retires old DEKs at
 * the end, once no registered kind uses them.
 */
export class ReencryptionJob implements ReencryptionStarter {
  private readonly repo: TenantKeyRepository;
  /** Lease holder id of this instance: a restarted process is a new owner and waits for the old lease to lapse. */
  private readonly owner = randomUUID();
  /** Tenants with a run() in progress here. */
  private readonly active = new Set<string>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly batchSize: number;
  private readonly leaseMs: number;
  private readonly retireGraceMs: number;
  /** Seals through deps.keys, so re-sealing sees exactly the keys the service hands out. */
  private readonly cipher: TenantCipher;
  private stopped = false;

  constructor(private readonly deps: ReencryptionJobDeps) {
    this.repo = new TenantKeyRepository(deps.db);
    this.batchSize = deps.batchSize ?? 100;
    this.leaseMs = deps.leaseMs ?? 60_000;
    this.retireGraceMs = deps.retireGraceMs ?? 30_000;
    this.cipher = new TenantCipher(deps.keys);
  }

  /** Runs a tenant's job in the background; failures are logged and retried once the lease has expired. */
  start(tenantId: string): void {
    if (this.stopped || this.running.has(tenantId)) return;
    this.clearTimer(tenantId);
    const run = this.runInBackground(tenantId).finally(() => this.running.delete(tenantId));
    this.running.set(tenantId, run);
  }

  /**
   * At startup: picks up every RUNNING re-encryption (those whose lease is still held are retried
   * when it lapses). Never rejects: a failure is logged. Returns the tenants picked up.
   */
  async resumeAll(): Promise<string[]> {
    try {
      const docs = await this.repo.listRunning();
      for (const doc of docs) this.start(doc.tenantId);
      return docs.map((doc) => doc.tenantId);
    } catch (error) {
      this.deps.logger.error({ err: error }, 'could not look for interrupted re-encryptions');
      return [];
    }
  }

  /** Resolves when this instance has no run in progress. */
  async settled(): Promise<void> {
    while (this.running.size) await Promise.all(this.running.values());
  }

  /** No new runs or retries; runs in progress pause after their current batch. */
  stop(): void {
    this.stopped = true;
    for (const tenantId of [...this.timers.keys()]) this.clearTimer(tenantId);
  }

  /**
   * One pass for a tenant, in the foreground. `maxBatches` stops early, keeping the lease as a crash
   * would (this instance may carry on at once; another waits for the lease to lapse).
   */
  async run(tenantId: string, options: { maxBatches?: number } = {}): Promise<RunOutcome> {
    if (this.active.has(tenantId)) return 'BUSY';
    this.active.add(tenantId);
    try {
      const doc = await this.repo.acquireLease(tenantId, this.owner, this.leaseMs);
      if (!doc) return (await this.repo.find(tenantId))?.reencryption.state === 'RUNNING' ? 'BUSY' : 'NOT_RUNNING';
      const ctx = await this.contextFor(doc);
      const walked = await this.walk(ctx, options.maxBatches ?? Number.POSITIVE_INFINITY);
      return walked === 'DONE' ? await this.complete(ctx) : walked;
    } finally {
      this.active.delete(tenantId);
    }
  }

  private async runInBackground(tenantId: string): Promise<void> {
    try {
      const outcome = await this.run(tenantId);
      this.deps.logger.info({ event: 'key.reencryption_run', tenantId, outcome }, 're-encryption run ended');
      if (outcome === 'BUSY') this.retryLater(tenantId);
    } catch (error) {
      this.deps.logger.error({ err: error, tenantId }, 're-encryption failed; retrying once the lease expires');
      this.retryLater(tenantId);
    }
  }

  private retryLater(tenantId: string): void {
    if (this.stopped) return;
    this.clearTimer(tenantId);
    const timer = setTimeout(() => {
      this.timers.delete(tenantId);
      this.start(tenantId);
    }, this.leaseMs + 50);
    timer.unref();
    this.timers.set(tenantId, timer);
  }

  private clearTimer(tenantId: string): void {
    clearTimeout(this.timers.get(tenantId));
    this.timers.delete(tenantId);
  }

  private async contextFor(doc: TenantKeyDoc): Promise<RunContext> {
    const { reencryption } = doc;
    const target = reencryption.targetVersion;
    if (target === null) throw new Error(`tenant ${doc.tenantId}: re-encryption RUNNING without a target version`);
    const kinds = this.deps.keys.sealedData.list();
    let progress: ReencryptionProgress = { kind: reencryption.kind ?? null, cursor: reencryption.cursor, done: reencryption.done };
    if (progress.kind !== null && !kinds.some((k) => k.name === progress.kind)) {
      this.deps.logger.warn({ tenantId: doc.tenantId, kind: progress.kind }, 're-encryption progress names an unregistered kind; walking everything again');
      progress = { kind: null, cursor: null, done: progress.done };
    }
    return {
      tenantId: doc.tenantId,
      owner: this.owner,
      target,
      total: reencryption.total,
      startedAt: reencryption.startedAt ?? new Date(0),
      scope: new TenantScope(this.deps.db, doc.tenantId),
      kinds,
      progress,
    };
  }

  /** Walks each kind from the saved progress (kind + cursor), saving progress after each batch. */
  private async walk(ctx: RunContext, maxBatches: number): Promise<RunOutcome> {
    const first = ctx.progress.kind === null ? 0 : ctx.kinds.findIndex((k) => k.name === ctx.progress.kind);
    let batches = 0;
    for (let index = first; index < ctx.kinds.length; index++) {
      const kind = ctx.kinds[index]!;
      const next = ctx.kinds[index + 1];
      for (;;) {
        if (batches >= maxBatches || this.stopped) return 'PAUSED';
        batches++;
        const batch = await kind.staleAfter(ctx.scope, ctx.target, ctx.progress.cursor, this.batchSize);
        for (const item of batch.items) ctx.progress.done += await this.resealItem(ctx, kind, item);
        if (batch.next !== null) ctx.progress = { ...ctx.progress, kind: kind.name, cursor: batch.next };
        else if (next) ctx.progress = { ...ctx.progress, kind: next.name, cursor: null };
        if (!(await this.saveProgress(ctx))) return 'LOST_LEASE';
        if (batch.next === null) break;
      }
    }
    return 'DONE';
  }

  private saveProgress(ctx: RunContext, extraLeaseMs = 0): Promise<boolean> {
    const progress = { ...ctx.progress, done: Math.min(ctx.progress.done, ctx.total) };
    return this.repo.saveProgress(ctx.tenantId, ctx.owner, ctx.target, progress, this.leaseMs + extraLeaseMs);
  }

  /** Re-seals one item's values that are not on the target DEK; re-reads and retries on a concurrent write. Returns how many it re-sealed. */
  private async resealItem(ctx: RunContext, kind: SealedDataKind, first: SealedItem): Promise<number> {
    let item: SealedItem | null = first;
    for (let attempt = 0; item && attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const resealed = await kind.reseal(ctx.scope, item, ctx.target, this.cipher);
      if (resealed !== null) return resealed;
      item = await kind.findOne(ctx.scope, item._id);
    }
    if (!item) return 0; // deleted meanwhile
    throw new Error(`${kind.name} item ${first._id} of tenant ${ctx.tenantId} kept changing during re-encryption`);
  }

  /** After the walk: waits out the grace period, sweeps stragglers, then retires old DEKs once nothing uses them. */
  private async complete(ctx: RunContext): Promise<RunOutcome> {
    const wait = ctx.startedAt.getTime() + this.retireGraceMs - Date.now();
    if (wait > 0) {
      if (!(await this.saveProgress(ctx, wait))) return 'LOST_LEASE';
      if (!(await this.pause(wait))) return 'PAUSED';
    }
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      if (!(await this.sweepStale(ctx))) return 'LOST_LEASE';
      const doc = await this.repo.find(ctx.tenantId);
      if (!doc || doc.reencryption.state !== 'RUNNING' || doc.reencryption.leaseOwner !== ctx.owner) return 'LOST_LEASE';
      if (await this.oldDekInUse(ctx)) continue;
      const deks = doc.deks.map((d) => (d.version === ctx.target || d.retiredAt ? d : retired(d)));
      if (await this.repo.finish(doc, ctx.owner, deks)) {
        await this.announce(ctx, doc, deks);
        return 'DONE';
      }
    }
    throw new Error(`tenant ${ctx.tenantId}: could not finish re-encryption; will retry`);
  }

  /** Waits `ms` unless stop() is called meanwhile; false when stopped. */
  private async pause(ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (!this.stopped && Date.now() < until) await sleep(Math.min(250, until - Date.now()));
    return !this.stopped;
  }

  /** Re-seals items of every kind that still hold values on an old DEK (written meanwhile, or before the cursor). */
  private async sweepStale(ctx: RunContext): Promise<boolean> {
    for (const kind of ctx.kinds) {
      let cursor: string | null = null;
      do {
        const batch = await kind.staleAfter(ctx.scope, ctx.target, cursor, this.batchSize);
        for (const item of batch.items) ctx.progress.done += await this.resealItem(ctx, kind, item);
        if (batch.items.length && !(await this.saveProgress(ctx))) return false;
        cursor = batch.next;
      } while (cursor !== null);
    }
    return true;
  }

  /** Whether any registered kind still holds a live value on a DEK other than the target. */
  private async oldDekInUse(ctx: RunContext): Promise<boolean> {
    for (const [version, count] of await this.deps.keys.sealedData.countByDek(ctx.scope)) {
      if (version !== ctx.target && count > 0) return true;
    }
    return false;
  }

  private async announce(ctx: RunContext, before: TenantKeyDoc, deks: DekDoc[]): Promise<void> {
    const retiredVersions = deks.filter((d, i) => d.retiredAt && !before.deks[i]?.retiredAt).map((d) => d.version);
    for (const version of retiredVersions) this.deps.keys.forgetDek(ctx.tenantId, version);
    const details = { targetVersion: ctx.target, retiredVersions, total: ctx.total };
    this.deps.logger.info({ event: 'key.reencryption_completed', tenantId: ctx.tenantId, ...details }, 're-encryption completed');
    try {
      await this.deps.audit?.append(
        auditEvent('key.reencryption_completed', { caller: { tenantId: ctx.tenantId, actor: { type: 'SYSTEM', id: null } }, resource: { id: ctx.tenantId }, details }),
      );
    } catch (error) {
      this.deps.logger.error({ err: error, tenantId: ctx.tenantId }, 'could not audit key.reencryption_completed');
    }
  }
}

/** A DEK nothing uses any more: its key material is removed. */
function retired(dek: DekDoc): DekDoc {
  return { ...dek, wrapped: null, retiredAt: new Date() };
}
