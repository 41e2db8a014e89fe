/**
 * Group commit for one chain.
 *
 * At most one write per chain is in flight in this process. Events appended
 * while it is in flight wait in a queue and go out together, as ONE insertMany,
 * when it finishes; each append() resolves once its own events are stored. So a
 * busy tenant pays one round trip per batch, not per event, and other tenants'
 * chains are written in parallel.
 *
 * Across server instances nothing is shared but the database: a batch links on
 * the head this process last saw (read from the latest stored event when it has
 * none), and the unique (tenantId, seq) index rejects it when another instance
 * got there first. Then the stored prefix (ordered inserts) is kept, the head is
 * re-read, the rest re-chained and retried, a bounded number of times with
 * jittered backoff.
 */
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../logger.js';
import { chainEvents, type ChainHead, type UnchainedEvent } from './audit-chain.js';
import { isDuplicateKey } from '../../db/mongo-errors.js';
import type { AuditChainStore } from './audit-store.js';

/** The per-chain HMAC key (from the keyring; never stored in the database). */
export type MacKeyProvider = (chainId: string) => Promise<Buffer>;

/** Last known head per chain, bounded: least recently used chains fall out. */
export class HeadCache {
  private readonly heads = new Map<string, ChainHead>();

  constructor(private readonly capacity: number) {}

  get(chainId: string): ChainHead | undefined {
    const head = this.heads.get(chainId);
    if (head) this.set(chainId, head);
    return head;
  }

  set(chainId: string, head: ChainHead): void {
    this.heads.delete(chainId);
    this.heads.set(chainId, head);
    if (this.heads.size > this.capacity) this.heads.delete(this.heads.keys().next().value!);
  }

  forget(chainId: string): void {
    this.heads.delete(chainId);
  }
}

export interface ChainWriterOptions {
  store: AuditChainStore;
  macKeyFor: MacKeyProvider;
  heads: HeadCache;
  logger: Logger;
  /** Attempts per batch when other instances keep winning the race. */
  maxAttempts: number;
  /** A batch takes whole append() calls until it holds at least this many events. */
  maxBatchEvents: number;
  /** Called when the queue is empty and nothing is in flight. */
  onIdle: () => void;
}

interface PendingAppend {
  events: readonly UnchainedEvent[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Full jitter: a random wait up to 2^attempt ms, capped at 100 ms. */
function backoffMs(attempt: number): number {
  return randomInt(0, Math.min(100, 2 ** attempt) + 1);
}

export class ChainWriter {
  private readonly queue: PendingAppend[] = [];
  private running = false;

  constructor(private readonly options: ChainWriterOptions) {}

  get chainId(): string {
    return this.options.store.chainId;
  }

  /** Queues events of this chain; resolves once all of them are stored. */
  submit(events: readonly UnchainedEvent[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ events, resolve, reject });
      if (this.running) return;
      this.running = true;
      // Start on the next microtask, so appends made in the same tick share the first batch.
      queueMicrotask(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) await this.commit(this.takeBatch());
    this.running = false;
    this.options.onIdle();
  }

  private takeBatch(): PendingAppend[] {
    let size = 0;
    let count = 0;
    while (count < this.queue.length && (count === 0 || size < this.options.maxBatchEvents)) {
      size += this.queue[count]!.events.length;
      count += 1;
    }
    return this.queue.splice(0, count);
  }

  /** Writes one batch and settles every append in it; never throws. */
  private async commit(batch: readonly PendingAppend[]): Promise<void> {
    const stored = new Set<string>();
    let failure: unknown = null;
    try {
      await this.store(batch.flatMap((pending) => pending.events), stored);
    } catch (error) {
      failure = error;
      this.options.logger.error({ event: 'audit.append_failed', chain: this.chainId, err: error }, 'audit append failed');
    }
    for (const pending of batch) {
      if (pending.events.every((event) => stored.has(event._id))) pending.resolve();
      else pending.reject(failure ?? new Error('audit events were not stored'));
    }
  }

  private async head(): Promise<ChainHead | null> {
    return this.options.heads.get(this.chainId) ?? (await this.options.store.head());
  }

  /** Chains and inserts `events`, retrying on lost races; adds every stored id to `stored`. */
  private async store(events: readonly UnchainedEvent[], stored: Set<string>): Promise<void> {
    const key = await this.options.macKeyFor(this.chainId);
    let remaining = events;
    for (let attempt = 1; ; attempt += 1) {
      const docs = chainEvents(key, await this.head(), remaining);
      try {
        await this.options.store.insertBatch(docs);
        for (const doc of docs) stored.add(doc._id);
        this.options.heads.set(this.chainId, { seq: docs.at(-1)!.seq, hash: docs.at(-1)!.hash });
        return;
      } catch (error) {
        this.options.heads.forget(this.chainId);
        const landed = await this.options.store.storedIds(docs.map((doc) => doc._id));
        for (const id of landed) stored.add(id);
        remaining = remaining.filter((event) => !landed.has(event._id));
        if (remaining.length === 0) return;
        if (!isDuplicateKey(error) || attempt >= this.options.maxAttempts) throw error;
        this.options.logger.debug({ event: 'audit.append_conflict', chain: this.chainId, attempt }, 'audit head moved; re-chaining');
        await sleep(backoffMs(attempt));
      }
    }
  }
}
