/**
 * Verification: walks a chain in seq order over a streaming cursor (constant
 * memory) and stops at the first link that does not hold.
 *
 * Detected: an edited event (HMAC), a deleted event (gap in seq), an inserted or
 * renumbered event (its seq or prevHash is in the HMAC input, and without the key
 * no valid hash can be made), events re-hashed with another key.
 * Not detectable from the chain alone: removing the newest events (the shortened
 * chain is still a valid chain). Recording the latest seq/hash elsewhere
 * (another system, a signed export) closes that gap.
 */
import { checkLink, GENESIS_HASH, type ExpectedLink } from './audit-chain.js';
import type { AuditChainStore } from './audit-store.js';

export interface AuditVerification {
  /** True when every event in the range links correctly. */
  valid: boolean;
  /** Events in the range that were verified before the first failure (all of them when valid). */
  checkedEvents: number;
  /** The first seq at which the chain cannot be trusted; null when valid. */
  firstInvalidSequence: number | null;
}

/** Inclusive seq range; to = null runs to the newest event. */
export interface SeqRange {
  from: number;
  to: number | null;
}

const invalidAt = (seq: number, checkedEvents: number): AuditVerification => ({
  valid: false,
  checkedEvents,
  firstInvalidSequence: seq,
});

type Anchor = { prevHash: string } | { invalidAt: number } | { empty: true };

/**
 * What event `from` must link to: the genesis hash for from = 1, otherwise the
 * stored hash of event from − 1, whose own HMAC is checked (its link further
 * back is outside the range and not checked).
 */
async function anchor(store: AuditChainStore, key: Buffer, from: number): Promise<Anchor> {
  if (from === 1) return { prevHash: GENESIS_HASH };
  const before = await store.at(from - 1);
  if (before === null) {
    const head = await store.head();
    return head === null || head.seq < from ? { empty: true } : { invalidAt: from - 1 };
  }
  const failure = checkLink(key, { seq: from - 1, prevHash: before.prevHash }, before);
  return failure === null ? { prevHash: before.hash } : { invalidAt: from - 1 };
}

export async function verifyChain(store: AuditChainStore, key: Buffer, range: SeqRange): Promise<AuditVerification> {
  const start = await anchor(store, key, range.from);
  if ('empty' in start) return { valid: true, checkedEvents: 0, firstInvalidSequence: null };
  if ('invalidAt' in start) return invalidAt(start.invalidAt, 0);
  let expected: ExpectedLink = { seq: range.from, prevHash: start.prevHash };
  let checked = 0;
  for await (const event of store.range(range.from, range.to)) {
    if (checkLink(key, expected, event) !== null) return invalidAt(expected.seq, checked);
    checked += 1;
    expected = { seq: expected.seq + 1, prevHash: event.hash };
  }
  return { valid: true, checkedEvents: checked, firstInvalidSequence: null };
}
