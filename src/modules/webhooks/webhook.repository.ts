import type { Collection, Db, Filter } from 'mongodb';
import { isDuplicateKey } from '../../db/mongo-errors.js';
import type { TenantCollection, TenantScope } from '../../db/tenant-scope.js';
import {
  WEBHOOK_DELIVERIES_COLLECTION,
  WEBHOOK_EVENTS_COLLECTION,
  WEBHOOKS_COLLECTION,
  type SealedSigningSecret,
  type DeliveryStatus,
  type WebhookDeliveryDoc,
  type WebhookDoc,
  type WebhookEventDoc,
} from './webhook.document.js';

/** What the delivery log shows (never the payload). */
const WITHOUT_PAYLOAD = { projection: { payload: 0 } } as const;

/** One tenant's webhooks and their delivery log, through its TenantScope. */
export class WebhookRepository {
  private readonly webhooks: TenantCollection<WebhookDoc>;
  private readonly deliveries: TenantCollection<WebhookDeliveryDoc>;

  constructor(scope: TenantScope) {
    this.webhooks = scope.collection<WebhookDoc>(WEBHOOKS_COLLECTION);
    this.deliveries = scope.collection<WebhookDeliveryDoc>(WEBHOOK_DELIVERIES_COLLECTION);
  }

  async create(doc: Omit<WebhookDoc, 'tenantId'>): Promise<WebhookDoc> {
    return this.webhooks.insertOne(doc);
  }

  findById(id: string): Promise<WebhookDoc | null> {
    return this.webhooks.findOneById(id);
  }

  /** A page in `_id` order (ids start with their creation time, so oldest first). */
  list(limit: number, after: string | null): Promise<WebhookDoc[]> {
    const filter: Filter<WebhookDoc> = after === null ? {} : { _id: { $gt: after } };
    return this.webhooks.find(filter, { sort: { _id: 1 }, limit }).toArray();
  }

  count(): Promise<number> {
    return this.webhooks.countDocuments({});
  }

  /** Enabled webhooks (id and event types only), to fan events out to. */
  enabledSubscriptions(): Promise<Pick<WebhookDoc, '_id' | 'events'>[]> {
    return this.webhooks.find({ enabled: true }, { projection: { _id: 1, events: 1 } }).toArray();
  }

  /** Sets `enabled`; the document after, or null when there is no such webhook. */
  setEnabled(id: string, enabled: boolean, now: Date): Promise<WebhookDoc | null> {
    return this.webhooks.findOneAndUpdate({ _id: id }, { $set: { enabled, updatedAt: now }, $inc: { revision: 1 } });
  }

  /** Replaces the secret, keeping the old one as `previousSecret` until `until` (compare-and-set on revision). */
  rotate(current: WebhookDoc, secret: SealedSigningSecret, until: Date, now: Date): Promise<WebhookDoc | null> {
    return this.webhooks.findOneAndUpdate(
      { _id: current._id, revision: current.revision },
      { $set: { secret, previousSecret: current.secret, previousSecretUntil: until, updatedAt: now }, $inc: { revision: 1 } },
    );
  }

  /** Deletes the webhook and its delivery log; whether it existed. */
  async delete(id: string): Promise<boolean> {
    const result = await this.webhooks.deleteOne({ _id: id });
    if (result.deletedCount === 1) await this.deliveries.deleteMany({ webhookId: id });
    return result.deletedCount === 1;
  }

  /** The delivery log of one webhook, newest first, paged by (createdAt, _id). */
  deliveriesOf(webhookId: string, limit: number, after: { createdAt: Date; id: string } | null): Promise<WebhookDeliveryDoc[]> {
    const filter: Filter<WebhookDeliveryDoc> =
      after === null
        ? { webhookId }
        : { webhookId, $or: [{ createdAt: { $lt: after.createdAt } }, { createdAt: after.createdAt, _id: { $gt: after.id } }] };
    return this.deliveries.find(filter, { sort: { createdAt: -1, _id: 1 }, limit, ...WITHOUT_PAYLOAD }).toArray();
  }

  countDeliveries(webhookId: string): Promise<number> {
    return this.deliveries.countDocuments({ webhookId });
  }

  /** One delivery of this tenant (no payload), or null. */
  findDelivery(id: string): Promise<WebhookDeliveryDoc | null> {
    return this.deliveries.findOne({ _id: id }, WITHOUT_PAYLOAD);
  }

  /**
   * Puts a given-up delivery queued at or after `notBefore` back to PENDING, due `now`, with its
   * attempts reset (compare-and-set on the status: of two concurrent calls one wins). The row
   * after, or null when it was not FAILED (any more) or is older than `notBefore`.
   */
  requeueFailed(id: string, notBefore: Date, now: Date): Promise<WebhookDeliveryDoc | null> {
    return this.deliveries.findOneAndUpdate(
      { _id: id, status: 'FAILED', createdAt: { $gte: notBefore } },
      { $set: { status: 'PENDING', attempts: 0, nextAttemptAt: now, leaseOwner: null, leaseUntil: null } },
    );
  }
}

/**
 * Webhooks across tenants, for the scan job: which tenants have an enabled webhook (only
 * those are scanned). Read only.
 */
export class WebhookDirectory {
  private readonly webhooks: Collection<WebhookDoc>;

  constructor(db: Db) {
    this.webhooks = db.collection<WebhookDoc>(WEBHOOKS_COLLECTION);
  }

  async tenantsWithEnabledWebhooks(): Promise<string[]> {
    const ids = await this.webhooks.distinct('tenantId', { enabled: true });
    return ids.filter((id): id is string => typeof id === 'string');
  }
}

/** A delivery as the job claims it. */
export type ClaimedDelivery = WebhookDeliveryDoc;

/**
 * The outbox and the delivery queue, across tenants (a delivery job serves every tenant).
 * Every write is one single-document atomic operation: inserts with deterministic `_id`s
 * (a duplicate is a no-op), a claim by findOneAndUpdate with a lease, and a finish guarded by
 * the lease owner. No transactions (FerretDB v1).
 */
export class DeliveryQueue {
  private readonly events: Collection<WebhookEventDoc>;
  private readonly deliveries: Collection<WebhookDeliveryDoc>;

  constructor(db: Db) {
    this.events = db.collection<WebhookEventDoc>(WEBHOOK_EVENTS_COLLECTION);
    this.deliveries = db.collection<WebhookDeliveryDoc>(WEBHOOK_DELIVERIES_COLLECTION);
  }

  /** Which of `ids` the outbox already holds. */
  async existingEvents(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const found = await this.events.find({ _id: { $in: [...ids] } }, { projection: { _id: 1 } }).toArray();
    return new Set(found.map((doc) => doc._id));
  }

  /** Records an event as fanned out; false when it was already there. */
  async recordEvent(doc: WebhookEventDoc): Promise<boolean> {
    return insertOnce(this.events, doc);
  }

  /** Queues a delivery; false when that (event, endpoint) pair was already queued. */
  async enqueue(doc: WebhookDeliveryDoc): Promise<boolean> {
    return insertOnce(this.deliveries, doc);
  }

  /**
   * Claims one due delivery for `owner` until `leaseUntil`, counting an attempt; null when none
   * is due. Atomic: two instances never claim the same row while its lease runs.
   */
  claim(owner: string, now: Date, leaseUntil: Date, heldTenants: readonly string[] = []): Promise<ClaimedDelivery | null> {
    const held: Filter<WebhookDeliveryDoc> = heldTenants.length > 0 ? { tenantId: { $nin: [...heldTenants] } } : {};
    return this.deliveries.findOneAndUpdate(
      { status: 'PENDING', nextAttemptAt: { $lte: now }, $or: [{ leaseUntil: null }, { leaseUntil: { $lte: now } }], ...held },
      { $set: { leaseOwner: owner, leaseUntil, lastAttemptAt: now }, $inc: { attempts: 1 } },
      { sort: { nextAttemptAt: 1 }, returnDocument: 'after' },
    );
  }

  /** Records the outcome of an attempt, if `owner` still holds the row's lease. */
  async finish(id: string, owner: string, update: Partial<WebhookDeliveryDoc>): Promise<boolean> {
    const result = await this.deliveries.updateOne({ _id: id, leaseOwner: owner }, { $set: { ...update, leaseOwner: null, leaseUntil: null } });
    return result.matchedCount === 1;
  }

  /**
   * Pending deliveries queued before `before` and not being sent (no running lease) become
   * CANCELLED (`lastError: expired`): too old to be sent (e.g. held while their tenant was
   * suspended). Served by `status_created`.
   */
  async expirePending(before: Date, now: Date): Promise<number> {
    const result = await this.deliveries.updateMany(
      { status: 'PENDING', createdAt: { $lt: before }, $or: [{ leaseUntil: null }, { leaseUntil: { $lte: now } }] },
      { $set: { status: 'CANCELLED', lastError: 'expired', nextAttemptAt: null, leaseOwner: null, leaseUntil: null } },
    );
    return result.modifiedCount;
  }

  /** Deletes finished deliveries (DELIVERED, FAILED, CANCELLED; never PENDING) queued before `before`. Served by `status_created`. */
  async pruneDeliveries(before: Date): Promise<number> {
    const result = await this.deliveries.deleteMany({ status: { $in: [...FINISHED_STATUSES] }, createdAt: { $lt: before } });
    return result.deletedCount;
  }

  /** Deletes outbox event records recorded before `before`. Served by `created`. */
  async pruneEvents(before: Date): Promise<number> {
    const result = await this.events.deleteMany({ createdAt: { $lt: before } });
    return result.deletedCount;
  }
}

/** The statuses a delivery does not leave by itself (retryWebhookDelivery takes FAILED back to PENDING). */
const FINISHED_STATUSES = ['DELIVERED', 'FAILED', 'CANCELLED'] as const satisfies readonly DeliveryStatus[];

async function insertOnce<T extends { _id: string }>(collection: Collection<T>, doc: T): Promise<boolean> {
  try {
    await collection.insertOne(doc as Parameters<Collection<T>['insertOne']>[0]);
    return true;
  } catch (error) {
    if (isDuplicateKey(error)) return false;
    throw error;
  }
}
