import { randomUUID } from 'node:crypto';
import { Binary, type Db } from 'mongodb';
import { open, seal, secretVersionAad } from '../../crypto/aes-gcm.js';
import type { Logger } from '../../logger.js';
import type { AuditSink } from '../audit/audit-event.js';
import type { SecretVersionDoc } from '../secrets/secret.document.js';
import { SecretKeyUsage, TenantKeyRepository, toBuffer, type DekDoc, type SecretKeyView, type TenantKeyDoc } from './tenant-key.repository.js';
import type { ReencryptionStarter, TenantKeyService } from './tenant-key.service.js';

export interface ReencryptionJobDeps {
  db: Db;
  keys: TenantKeyService;
  logger: Logger;
  audit?: AuditSink;
  /** Secrets per batch; progress is saved after each (default 100). */
  batchSize?: number;
  /** How long a run's lease lasts without renewal; renewed every batch (default 60 s). */
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
  targetKey: Buffer;
  total: number;
  startedAt: Date;
  usage: SecretKeyUsage;
  progress: { cursor: string | null; done: number };
}

const MAX_CAS_ATTEMPTS = 20;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Moves every secret version of a tenant onto the target DEK after a rotation,
 * one secret per compare-and-set update, resumable from a cursor, guarded by a
 * lease so one instance works on a tenant at a time. Retires old DEKs at the end.
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
  private stopped = false;

  constructor(private readonly deps: ReencryptionJobDeps) {
    this.repo = new TenantKeyRepository(deps.db);
    this.batchSize = deps.batchSize ?? 100;
    this.leaseMs = deps.leaseMs ?? 60_000;
    this.retireGraceMs = deps.retireGraceMs ?? 30_000;
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
    return {
      tenantId: doc.tenantId,
      owner: this.owner,
      target,
      targetKey: await this.deps.keys.dek(doc.tenantId, target),
      total: reencryption.total,
      startedAt: reencryption.startedAt ?? new Date(0),
      usage: new SecretKeyUsage(this.deps.db, doc.tenantId),
      progress: { cursor: reencryption.cursor, done: reencryption.done },
    };
  }

  /** Walks the secrets after the saved cursor, saving progress after each batch. */
  private async walk(ctx: RunContext, maxBatches: number): Promise<RunOutcome> {
    for (let batches = 0; ; batches++) {
      if (batches >= maxBatches || this.stopped) return 'PAUSED';
      const secrets = await ctx.usage.batchAfter(ctx.progress.cursor, this.batchSize);
      if (!secrets.length) return 'DONE';
      for (const secret of secrets) ctx.progress.done += await this.reencryptSecret(ctx, secret);
      ctx.progress.cursor = secrets[secrets.length - 1]!._id;
      if (!(await this.saveProgress(ctx))) return 'LOST_LEASE';
      if (secrets.length < this.batchSize) return 'DONE';
    }
  }

  private saveProgress(ctx: RunContext, extraLeaseMs = 0): Promise<boolean> {
    const progress = { cursor: ctx.progress.cursor, done: Math.min(ctx.progress.done, ctx.total) };
    return this.repo.saveProgress(ctx.tenantId, ctx.owner, ctx.target, progress, this.leaseMs + extraLeaseMs);
  }

  /** Re-seals a secret's versions that are not on the target DEK; retries on a concurrent write. Returns how many it re-sealed. */
  private async reencryptSecret(ctx: RunContext, first: SecretKeyView): Promise<number> {
    let secret: SecretKeyView | null = first;
    for (let attempt = 0; secret && attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current: SecretKeyView = secret;
      const stale = current.versions.filter((v) => v.ciphertext !== null && v.dekVersion !== ctx.target).length;
      if (stale === 0) return 0;
      const versions = await Promise.all(current.versions.map((v) => this.resealed(ctx, current._id, v)));
      if (await ctx.usage.replaceVersions(current, versions)) return stale;
      secret = await ctx.usage.findOne(current._id);
    }
    if (!secret) return 0; // deleted meanwhile
    throw new Error(`secret ${first._id} of tenant ${ctx.tenantId} kept changing during re-encryption`);
  }

  private async resealed(ctx: RunContext, secretId: string, version: SecretVersionDoc): Promise<SecretVersionDoc> {
    if (version.ciphertext === null || version.dekVersion === ctx.target) return version;
    const aad = secretVersionAad(ctx.tenantId, secretId, version.version);
    const plaintext = open(await this.deps.keys.dek(ctx.tenantId, version.dekVersion), toBuffer(version.ciphertext), aad);
    const ciphertext = seal(ctx.targetKey, plaintext, aad);
    plaintext.fill(0);
    return { ...version, ciphertext: new Binary(ciphertext), dekVersion: ctx.target };
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

  /** Re-encrypts secrets that still hold versions on an old DEK (written meanwhile, or before the cursor). */
  private async sweepStale(ctx: RunContext): Promise<boolean> {
    for (;;) {
      const ids = await ctx.usage.staleIds(ctx.target, this.batchSize);
      if (!ids.length) return true;
      for (const id of ids) {
        const secret = await ctx.usage.findOne(id);
        if (secret) ctx.progress.done += await this.reencryptSecret(ctx, secret);
      }
      if (!(await this.saveProgress(ctx))) return false;
    }
  }

  private async oldDekInUse(ctx: RunContext): Promise<boolean> {
    for (const [version, count] of await ctx.usage.countByDek()) {
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
      await this.deps.audit?.append({
        tenantId: ctx.tenantId,
        actor: { type: 'SYSTEM', id: null },
        action: 'key.reencryption_completed',
        resource: { type: 'TENANT_KEYS', id: ctx.tenantId },
        outcome: 'SUCCESS',
        details,
      });
    } catch (error) {
      this.deps.logger.error({ err: error, tenantId: ctx.tenantId }, 'could not audit key.reencryption_completed');
    }
  }
}

/** A DEK nothing uses any more: its key material is removed. */
function retired(dek: DekDoc): DekDoc {
  return { ...dek, wrapped: null, retiredAt: new Date() };
}
