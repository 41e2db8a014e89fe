import { randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';
import { badInput } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { PLATFORM_CHAIN, type AuditEventInput, type AuditSink } from './audit-event.js';
import { auditEvent } from './audit-builder.js';
import type { UnchainedEvent } from './audit-chain.js';
import { normaliseEvent } from './audit-input.js';
import { listEvents, type AuditEventFilter, type AuditEventPage } from './audit-query.js';
import { AuditChainStore } from './audit-store.js';
import { verifyChain, type AuditVerification } from './audit-verify.js';
import { ChainWriter, HeadCache, type MacKeyProvider } from './audit-writer.js';

/**
 * Told about events once they are durably stored (metrics, webhooks). Called synchronously
 * after the append resolves; it must not throw or block (a throw is logged and ignored).
 * It sees the stored events, which never hold a secret value or personal datum.
 */
export type AuditObserver = (events: readonly UnchainedEvent[]) => void;

export interface AuditLogDeps {
  db: Db;
  /**
   * Per-chain HMAC key from the keyring; never stored in plaintext in the database.
   * Called once per batch and per verify, so it should cache. It must not itself
   * await an append to the same chain (that append would queue behind the batch
   * waiting for this key).
   */
  macKeyFor: MacKeyProvider;
  logger: Logger;
  /** Attempts per batch when other instances keep winning the race for the next seq (default 20). */
  maxAttempts?: number;
  /** Soft cap on events per insertMany (default 500); one append() is never split. */
  maxBatchEvents?: number;
  /** Chains whose head this process remembers (default 10 000). */
  headCacheSize?: number;
}

function positiveInteger(value: number | null | undefined, field: string): number | null {
  if (value === null || value === undefined) return null;
  if (!Number.isInteger(value) || value < 1) throw badInput(field, 'must be a whole number of at least 1');
  return value;
}

/**
 * The tamper-evident audit log: one hash chain per tenant (plus PLATFORM_CHAIN),
 * appended with group commit (audit-writer.ts), verified by walking the chain
 * (audit-verify.ts), listed newest first (audit-query.ts).
 */
export class AuditLog implements AuditSink {
  private readonly writers = new Map<string, ChainWriter>();
  private readonly heads: HeadCache;
  private readonly observers: AuditObserver[] = [];

  constructor(private readonly deps: AuditLogDeps) {
    this.heads = new HeadCache(deps.headCacheSize ?? 10_000);
  }

  /**
   * Appends events (any mix of chains); resolves once all are stored. Invalid
   * input rejects with an AuditEventError before anything is queued.
   */
  async append(...inputs: AuditEventInput[]): Promise<void> {
    if (inputs.length === 0) return;
    const byChain = this.prepare(inputs);
    await Promise.all([...byChain].map(([chainId, events]) => this.writerFor(chainId).submit(events)));
    if (this.observers.length > 0) this.notify([...byChain.values()].flat());
  }

  /** Registers an observer of stored events (see AuditObserver). */
  observe(observer: AuditObserver): void {
    this.observers.push(observer);
  }

  private notify(events: readonly UnchainedEvent[]): void {
    for (const observer of this.observers) {
      try {
        observer(events);
      } catch (error) {
        this.deps.logger.error({ event: 'audit.observer_failed', err: error }, 'an audit observer failed');
      }
    }
  }

  /** Checks the chain of `tenantId` over seq from..to (inclusive; defaults: 1 to the newest). */
  async verify(tenantId: string, from?: number | null, to?: number | null): Promise<AuditVerification> {
    const start = positiveInteger(from, 'from') ?? 1;
    const end = positiveInteger(to, 'to');
    if (end !== null && end < start) throw badInput('to', 'must not be below from');
    const key = await this.deps.macKeyFor(tenantId);
    const result = await verifyChain(this.store(tenantId), key, { from: start, to: end });
    // A broken chain is itself an event (observers such as webhooks hear of it); recorded by the log, as SYSTEM.
    if (!result.valid) {
      const details = { checkedEvents: result.checkedEvents, ...(result.firstInvalidSequence === null ? {} : { firstInvalidSequence: result.firstInvalidSequence }) };
      await this.append(auditEvent('audit.verification_failed', { caller: { tenantId: tenantId === PLATFORM_CHAIN ? null : tenantId, actor: { type: 'SYSTEM', id: null } }, resource: { id: tenantId === PLATFORM_CHAIN ? null : tenantId }, outcome: 'FAILURE', details })).catch(
        (error: unknown) => this.deps.logger.error({ err: error, event: 'audit.verification_failed' }, 'could not record a failed audit verification'),
      );
    }
    return result;
  }

  /** One page of `tenantId`'s events, newest first (first: default 50, max 200). */
  list(tenantId: string, filter: AuditEventFilter, first?: number | null, after?: string | null): Promise<AuditEventPage> {
    return listEvents(this.store(tenantId), filter, first, after);
  }

  /** Up to `limit` events of one chain whose actor is `actorId`, newest first (exportMyData). */
  byActor(chainId: string, actorId: string, limit: number) {
    return this.store(chainId).newestFirst({ 'actor.id': actorId }, null, limit);
  }

  private prepare(inputs: readonly AuditEventInput[]): Map<string, UnchainedEvent[]> {
    const time = new Date();
    const byChain = new Map<string, UnchainedEvent[]>();
    for (const input of inputs) {
      const { event, truncated } = normaliseEvent(input, randomUUID(), time);
      if (truncated.length > 0) {
        this.deps.logger.warn({ event: 'audit.truncated', action: event.action, fields: truncated }, 'audit event text truncated');
      }
      const chain = byChain.get(event.tenantId) ?? [];
      chain.push(event);
      byChain.set(event.tenantId, chain);
    }
    return byChain;
  }

  private store(chainId: string): AuditChainStore {
    return new AuditChainStore(this.deps.db, chainId);
  }

  private writerFor(chainId: string): ChainWriter {
    const existing = this.writers.get(chainId);
    if (existing) return existing;
    const writer: ChainWriter = new ChainWriter({
      store: this.store(chainId),
      macKeyFor: this.deps.macKeyFor,
      heads: this.heads,
      logger: this.deps.logger,
      maxAttempts: this.deps.maxAttempts ?? 20,
      maxBatchEvents: this.deps.maxBatchEvents ?? 500,
      onIdle: () => {
        if (this.writers.get(chainId) === writer) this.writers.delete(chainId);
      },
    });
    this.writers.set(chainId, writer);
    return writer;
  }
}
