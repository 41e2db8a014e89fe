import { randomBytes } from 'node:crypto';
import { isDuplicateKey } from '../../db/mongo-errors.js';
import { checkLink, GENESIS_HASH, linkHash } from '../audit/audit-chain.js';
import type { LedgerProblem } from './consent-vocab.js';
import type { LedgerRecordDoc } from './consent.document.js';
import type { ConsentRepository } from './consent.repository.js';

/**
 * The consent ledger's tamper evidence (docs/ARCHITECTURE.md §14): one HMAC chain per tenant,
 * linked exactly like the audit log (audit-chain.ts: hash = HMAC(key, prevHash || canonical
 * record without `hash`), covering every stored field, tenantId and seq included).
 *
 * Key decision: the ledger key is a random 32-byte key of its own per tenant, created on first
 * use and stored only wrapped under the tenant DEK (`consent_ledger_keys`, a registered
 * sealed-data kind, so DEK rotation re-wraps it and tenant deletion shreds it). It is never
 * derived from another key's bytes (the audit-chain key included): each key has one use.
 */

/** Size of the tenant's random ledger HMAC key. */
export const LEDGER_KEY_BYTES = 32;

/** A record before it is linked: everything but its place in the chain. */
export type UnlinkedRecord = Omit<LedgerRecordDoc, 'tenantId' | '_id' | 'seq' | 'prevHash' | 'hash'>;

const MAX_APPEND_TRIES = 50;

export const newRecordId = () => `cr_${randomBytes(12).toString('hex')}`;

/**
 * Appends one record: links it onto the head, inserts it (the unique (tenantId, seq) index
 * refuses a second record at the same place), then moves the head by compare-and-set. A writer
 * that lost the race, or finds a record a crashed writer inserted without moving the head,
 * moves the head on to that record and tries again. Single-document writes only.
 */
export async function appendRecord(repo: ConsentRepository, key: Buffer, record: UnlinkedRecord, id = newRecordId()): Promise<LedgerRecordDoc> {
  for (let attempt = 0; attempt < MAX_APPEND_TRIES; attempt += 1) {
    let head = await repo.findHead();
    if (!head) {
      try {
        head = await repo.insertHead(0, GENESIS_HASH);
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        continue;
      }
    }
    const seq = head.seq + 1;
    const linked = { _id: id, tenantId: repo.tenantId, ...record, seq, prevHash: head.hash };
    const hash = linkHash(key, head.hash, linked);
    try {
      const { tenantId: _t, ...insert } = { ...linked, hash };
      const stored = await repo.insertRecord(insert);
      await repo.advanceHead(head.seq, seq, hash);
      return stored;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      const taken = await repo.recordAt(seq);
      if (taken) await repo.advanceHead(head.seq, taken.seq, taken.hash);
    }
  }
  throw new Error('could not append to the consent ledger: too much contention');
}

export interface LedgerFinding {
  seq: number | null;
  recordId: string | null;
  problem: LedgerProblem;
}

export interface LedgerVerification {
  valid: boolean;
  checked: number;
  headSeq: number;
  findings: LedgerFinding[];
}

const PAGE = 500;

/**
 * Walks the tenant's chain in seq order and reports what was changed in the raw database:
 * EDITED (a record's content or link no longer matches its HMAC), DELETED (a gap in the
 * sequence, or records missing at the end below the head), INSERTED (a record with a seq the
 * chain never issued: not a whole number, repeated, or beyond the head with a hash that does
 * not verify).
 */
export async function verifyLedger(repo: ConsentRepository, key: Buffer): Promise<LedgerVerification> {
  const head = await repo.findHead();
  const headSeq = head?.seq ?? 0;
  const findings: LedgerFinding[] = [];
  let expected = { seq: 1, prevHash: GENESIS_HASH };
  let checked = 0;
  let after = 0;
  for (;;) {
    const page = await repo.chainAfter(after, PAGE);
    for (const stored of page) {
      checked += 1;
      const raw = stored as unknown as Record<string, unknown>;
      const seq = raw.seq;
      const recordId = typeof raw._id === 'string' ? raw._id : null;
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < expected.seq) {
        findings.push({ seq: Number.isSafeInteger(seq) ? (seq as number) : null, recordId, problem: 'INSERTED' });
        continue;
      }
      if (seq > expected.seq) {
        for (let missing = expected.seq; missing < seq && findings.length < 1000; missing += 1) findings.push({ seq: missing, recordId: null, problem: 'DELETED' });
        expected = { seq, prevHash: String(raw.prevHash) }; // resynchronise after the gap
      }
      const failure = checkLink(key, expected, raw);
      if (failure) findings.push({ seq, recordId, problem: seq > headSeq ? 'INSERTED' : 'EDITED' });
      expected = { seq: seq + 1, prevHash: String(raw.hash) };
    }
    if (page.length < PAGE) break;
    const last = page[page.length - 1]!.seq;
    after = typeof last === 'number' ? last : after + PAGE;
  }
  for (let missing = expected.seq; missing <= headSeq && findings.length < 1000; missing += 1) findings.push({ seq: missing, recordId: null, problem: 'DELETED' });
  return { valid: findings.length === 0, checked, headSeq, findings };
}
