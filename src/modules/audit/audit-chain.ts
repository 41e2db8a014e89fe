/**
 * The hash chain, as small pure functions: canonical form, link hash, chaining
 * a batch onto a head, and checking one stored link.
 *
 * hash(n) = HMAC-SHA256(chain key, prevHash(n) || canonical(event n without `hash`))
 * prevHash(1) = GENESIS_HASH, prevHash(n) = hash(n − 1).
 *
 * The canonical form covers every stored field except `hash` (so `_id`, `tenantId`,
 * `seq` and `prevHash` too, and any field an attacker adds). Because the key comes
 * from the keyring and never touches the database, someone with database access
 * alone cannot produce a valid hash for an edited, inserted or renumbered event.
 */
import { createHmac } from 'node:crypto';
import { digestsEqual } from '../../crypto/random.js';
import type { AuditEventBody, AuditEventDoc } from './audit.document.js';

/** prevHash of the first event of every chain. */
export const GENESIS_HASH = '0'.repeat(64);

const HEX_DIGEST = /^[0-9a-f]{64}$/;

/** The latest stored event of a chain: where the next batch links on. */
export interface ChainHead {
  seq: number;
  hash: string;
}

/** An event ready to be chained: everything but its position in the chain. */
export type UnchainedEvent = AuditEventBody;

/** A value that has no canonical form (e.g. an ObjectId or NaN planted in the database). */
export class CanonicalFormError extends Error {
  override name = 'CanonicalFormError';
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function canonicalNumber(value: number): string {
  if (!Number.isFinite(value)) throw new CanonicalFormError('non-finite number');
  return JSON.stringify(value); // -0 becomes "0", as BSON round-trips it
}

function canonicalObject(value: Record<string, unknown>): string {
  const members = Object.keys(value)
    .sort()
    .map((key) => {
      const member = value[key];
      if (member === undefined) throw new CanonicalFormError(`undefined value at ${key}`);
      return `${JSON.stringify(key)}:${canonicalJson(member)}`;
    });
  return `{${members.join(',')}}`;
}

/**
 * Deterministic JSON: object keys sorted (UTF-16 code unit order) at every depth,
 * no whitespace, dates as ISO-8601 strings. Throws CanonicalFormError for anything
 * that is not null, boolean, finite number, string, Date, array or plain object.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      return canonicalNumber(value);
    case 'object':
      break;
    default:
      throw new CanonicalFormError(`unsupported ${typeof value}`);
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new CanonicalFormError('invalid date');
    return JSON.stringify(value.toISOString());
  }
  if (Array.isArray(value)) return `[${value.map((item: unknown) => canonicalJson(item)).join(',')}]`;
  if (isPlainObject(value)) return canonicalObject(value);
  throw new CanonicalFormError(`unsupported object ${value.constructor?.name ?? ''}`.trim());
}

/** HMAC-SHA256(key, prevHash || canonical(fields)) as hex; `fields` must not contain `hash`. */
export function linkHash(key: Buffer, prevHash: string, fields: Record<string, unknown>): string {
  return createHmac('sha256', key).update(prevHash, 'utf8').update(canonicalJson(fields), 'utf8').digest('hex');
}

/** Numbers `events` on from `head` (or from 1 on the genesis hash) and hashes each link. */
export function chainEvents(key: Buffer, head: ChainHead | null, events: readonly UnchainedEvent[]): AuditEventDoc[] {
  let seq = head?.seq ?? 0;
  let prevHash = head?.hash ?? GENESIS_HASH;
  return events.map((event) => {
    seq += 1;
    const linked = { ...event, seq, prevHash };
    prevHash = linkHash(key, linked.prevHash, linked);
    return { ...linked, hash: prevHash };
  });
}

/** Why a stored event breaks the chain. */
export type LinkFailure = 'sequence' | 'prevHash' | 'hash';

/** What the next event must look like: its seq and the hash of the one before. */
export interface ExpectedLink {
  seq: number;
  prevHash: string;
}

function recomputedHash(key: Buffer, stored: Record<string, unknown>): string | null {
  const { hash: _hash, ...fields } = stored;
  try {
    return linkHash(key, String(stored.prevHash), fields);
  } catch (error) {
    if (error instanceof CanonicalFormError) return null;
    throw error;
  }
}

/**
 * Checks one stored event against what the chain expects: continuity of seq
 * (a deleted event is a gap), linkage to the previous hash, then the HMAC over
 * its content (an edited or forged event). Null when the link holds.
 */
export function checkLink(key: Buffer, expected: ExpectedLink, stored: Record<string, unknown>): LinkFailure | null {
  if (stored.seq !== expected.seq) return 'sequence';
  if (stored.prevHash !== expected.prevHash) return 'prevHash';
  if (typeof stored.hash !== 'string' || !HEX_DIGEST.test(stored.hash)) return 'hash';
  const recomputed = recomputedHash(key, stored);
  return recomputed !== null && digestsEqual(stored.hash, recomputed) ? null : 'hash';
}
