import type { Filter } from 'mongodb';
import { isDuplicateKey } from '../../db/mongo-errors.js';
import type { TenantCollection, TenantInsert, TenantScope } from '../../db/tenant-scope.js';
import {
  LEDGER_COLLECTION,
  LEDGER_HEADS_COLLECTION,
  LEDGER_KEYS_COLLECTION,
  USED_LINKS_COLLECTION,
  PURPOSES_COLLECTION,
  SUPPRESSION_KEYS_COLLECTION,
  SUPPRESSIONS_COLLECTION,
  type LedgerHeadDoc,
  type LedgerKeyDoc,
  type LedgerRecordDoc,
  type PurposeDoc,
  type SuppressionDoc,
  type SuppressionKeyDoc,
  type UsedLinkDoc,
} from './consent.document.js';

/**
 * One tenant's purposes, consent ledger and its key, suppression list and suppression key. The ledger has
 * no update and no delete method: records are only ever inserted (the chain head is the one
 * document that moves, by compare-and-set).
 */
export class ConsentRepository {
  readonly purposes: TenantCollection<PurposeDoc>;
  readonly ledger: TenantCollection<LedgerRecordDoc>;
  readonly heads: TenantCollection<LedgerHeadDoc>;
  readonly suppressions: TenantCollection<SuppressionDoc>;
  readonly suppressionKeys: TenantCollection<SuppressionKeyDoc>;
  readonly ledgerKeys: TenantCollection<LedgerKeyDoc>;
  readonly usedLinks: TenantCollection<UsedLinkDoc>;

  constructor(readonly scope: TenantScope) {
    this.purposes = scope.collection<PurposeDoc>(PURPOSES_COLLECTION);
    this.ledger = scope.collection<LedgerRecordDoc>(LEDGER_COLLECTION);
    this.heads = scope.collection<LedgerHeadDoc>(LEDGER_HEADS_COLLECTION);
    this.suppressions = scope.collection<SuppressionDoc>(SUPPRESSIONS_COLLECTION);
    this.suppressionKeys = scope.collection<SuppressionKeyDoc>(SUPPRESSION_KEYS_COLLECTION);
    this.ledgerKeys = scope.collection<LedgerKeyDoc>(LEDGER_KEYS_COLLECTION);
    this.usedLinks = scope.collection<UsedLinkDoc>(USED_LINKS_COLLECTION);
  }

  get tenantId(): string {
    return this.scope.tenantId;
  }

  // ---- purposes
  insertPurpose(doc: TenantInsert<PurposeDoc>): Promise<PurposeDoc> {
    return this.purposes.insertOne(doc);
  }

  findPurposeByKey(key: string): Promise<PurposeDoc | null> {
    return this.purposes.findOne({ key });
  }

  findPurposesByKeys(keys: string[]): Promise<PurposeDoc[]> {
    return this.purposes.find({ key: { $in: keys } }).toArray();
  }

  listPurposes(): Promise<PurposeDoc[]> {
    return this.purposes.find({}, { sort: { key: 1 }, limit: 1000 }).toArray();
  }

  updatePurpose(id: string, revision: number, set: Partial<PurposeDoc>): Promise<PurposeDoc | null> {
    return this.purposes.findOneAndUpdate({ _id: id, revision } as Filter<PurposeDoc>, { $set: set, $inc: { revision: 1 } });
  }

  // ---- the ledger (insert only)
  findHead(): Promise<LedgerHeadDoc | null> {
    return this.heads.findOne({ _id: `head:${this.tenantId}` });
  }

  insertHead(seq: number, hash: string): Promise<LedgerHeadDoc> {
    return this.heads.insertOne({ _id: `head:${this.tenantId}`, seq, hash });
  }

  /** Moves the head from `fromSeq` to the record just linked; false when another writer moved it first. */
  async advanceHead(fromSeq: number, seq: number, hash: string): Promise<boolean> {
    const result = await this.heads.updateOne({ _id: `head:${this.tenantId}`, seq: fromSeq }, { $set: { seq, hash } });
    return result.modifiedCount === 1;
  }

  insertRecord(doc: TenantInsert<LedgerRecordDoc>): Promise<LedgerRecordDoc> {
    return this.ledger.insertOne(doc);
  }

  recordAt(seq: number): Promise<LedgerRecordDoc | null> {
    return this.ledger.findOne({ seq });
  }

  findRecord(id: string): Promise<LedgerRecordDoc | null> {
    return this.ledger.findOne({ _id: id });
  }

  /** The chain in seq order after `afterSeq`, at most `limit` records (verification). */
  chainAfter(afterSeq: number, limit: number): Promise<LedgerRecordDoc[]> {
    return this.ledger.find({ seq: { $gt: afterSeq } }, { sort: { seq: 1 }, limit }).toArray();
  }

  /** Every record of these subjects (index tenantId+subjectId+seq): what contact decisions are computed from. */
  recordsOfSubjects(subjectIds: string[]): Promise<LedgerRecordDoc[]> {
    return this.ledger.find({ subjectId: { $in: subjectIds } }).toArray();
  }

  /** A subject's records newest first, before `beforeSeq` (a cursor), at most `limit`. */
  historyOf(subjectId: string, beforeSeq: number | null, limit: number): Promise<LedgerRecordDoc[]> {
    const filter: Filter<LedgerRecordDoc> = { subjectId };
    if (beforeSeq !== null) filter.seq = { $lt: beforeSeq };
    return this.ledger.find(filter, { sort: { seq: -1 }, limit }).toArray();
  }

  countHistoryOf(subjectId: string): Promise<number> {
    return this.ledger.countDocuments({ subjectId });
  }

  countRecordsOfPurpose(purposeId: string): Promise<number> {
    return this.ledger.countDocuments({ purposeId });
  }

  /** Opt-outs recorded in [from, to), for statistics (index tenantId+kind+at). */
  optOutsBetween(from: Date, to: Date): Promise<Pick<LedgerRecordDoc, 'channel' | 'reason'>[]> {
    return this.ledger.find({ kind: 'OPT_OUT', at: { $gte: from, $lt: to } }, { projection: { channel: 1, reason: 1 } }).toArray();
  }

  // ---- suppression
  async addSuppressions(docs: TenantInsert<SuppressionDoc>[]): Promise<number> {
    let added = 0;
    for (const doc of docs) {
      try {
        await this.suppressions.insertOne(doc);
        added += 1;
      } catch (error) {
        if (!isDuplicateKey(error)) throw error; // already suppressed: unique (tenantId, entry)
      }
    }
    return added;
  }

  async removeSuppressions(entries: string[]): Promise<number> {
    if (entries.length === 0) return 0;
    return (await this.suppressions.deleteMany({ entry: { $in: entries } })).deletedCount;
  }

  suppressedAmong(entries: string[]): Promise<SuppressionDoc[]> {
    if (entries.length === 0) return Promise.resolve([]);
    return this.suppressions.find({ entry: { $in: entries } }).toArray();
  }

  suppressionsWithHashes(hashes: string[]): Promise<SuppressionDoc[]> {
    if (hashes.length === 0) return Promise.resolve([]);
    return this.suppressions.find({ hash: { $in: hashes } }).toArray();
  }

  // ---- the suppression key
  findSuppressionKey(): Promise<SuppressionKeyDoc | null> {
    return this.suppressionKeys.findOne({ _id: `sup:${this.tenantId}` });
  }

  insertSuppressionKey(doc: Omit<TenantInsert<SuppressionKeyDoc>, '_id'>): Promise<SuppressionKeyDoc> {
    return this.suppressionKeys.insertOne({ ...doc, _id: `sup:${this.tenantId}` });
  }

  // ---- the ledger key (random, wrapped; the loser of a creation race reads the winner's)
  findLedgerKey(): Promise<LedgerKeyDoc | null> {
    return this.ledgerKeys.findOne({ _id: `ledger:${this.tenantId}` });
  }

  insertLedgerKey(doc: Omit<TenantInsert<LedgerKeyDoc>, '_id'>): Promise<LedgerKeyDoc> {
    return this.ledgerKeys.insertOne({ ...doc, _id: `ledger:${this.tenantId}` });
  }

  // ---- single-use confirmation tokens
  /**
   * Marks a confirmation token used: true for the one caller whose insert created the mark,
   * false when it was used already (the unique `_id` refuses a second mark, atomically).
   */
  async claimConfirmation(tokenId: string, expiresAt: Date): Promise<boolean> {
    try {
      await this.usedLinks.insertOne({ _id: this.usedLinkId(tokenId), usedAt: new Date(), expiresAt });
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }

  /** Gives a claimed token back (the consent could not be recorded), so the subject can try again. */
  async releaseConfirmation(tokenId: string): Promise<void> {
    await this.usedLinks.deleteOne({ _id: this.usedLinkId(tokenId) });
  }

  private usedLinkId(tokenId: string): string {
    return `confirm:${this.tenantId}:${tokenId}`;
  }
}
