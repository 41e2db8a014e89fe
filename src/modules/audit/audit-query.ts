/**
 * Listing: newest first, Relay-style connection, keyset pagination on seq
 * (the cursor names the last seq seen; no skip), filters served by indexes
 * that lead with tenantId.
 */
import { fromCursor, toCursor } from '../../db/cursor.js';
import type { Filter } from 'mongodb';
import { badInput } from '../../errors.js';
import type { AuditAction, AuditOutcome, AuditResourceType } from './audit-event.js';
import type { AuditChainStore } from './audit-store.js';
import type { AuditEventDoc } from './audit.document.js';

export const AUDIT_PAGE = { default: 50, max: 200 } as const;

export interface AuditEventFilter {
  action?: AuditAction | null;
  actorId?: string | null;
  resourceType?: AuditResourceType | null;
  resourceId?: string | null;
  outcome?: AuditOutcome | null;
  /** Inclusive lower bound on time. */
  from?: Date | null;
  /** Exclusive upper bound on time. */
  to?: Date | null;
}

export interface AuditEventEdgeData {
  cursor: string;
  node: AuditEventDoc;
}

export interface AuditEventPage {
  edges: AuditEventEdgeData[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  /** Events matching the filter, on all pages. */
  totalCount: number;
}

const CURSOR_PREFIX = 'audit:';

/** Opaque to clients: base64url of `audit:<seq>`. */
export function encodeCursor(seq: number): string {
  return toCursor(`${CURSOR_PREFIX}${seq}`);
}

/** The seq a cursor names, or null when it is not one of ours. */
export function decodeCursor(cursor: string): number | null {
  const text = fromCursor(cursor);
  if (!text.startsWith(CURSOR_PREFIX)) return null;
  const digits = text.slice(CURSOR_PREFIX.length);
  const seq = Number(digits);
  return /^[1-9][0-9]{0,15}$/.test(digits) && Number.isSafeInteger(seq) ? seq : null;
}

function timeRange(from: Date | null | undefined, to: Date | null | undefined): Filter<AuditEventDoc> {
  if (!from && !to) return {};
  return { time: { ...(from ? { $gte: from } : {}), ...(to ? { $lt: to } : {}) } };
}

/** The Mongo filter for a listing filter (tenantId is added by the scope). */
export function eventFilter(filter: AuditEventFilter): Filter<AuditEventDoc> {
  return {
    ...(filter.action ? { action: filter.action } : {}),
    ...(filter.actorId ? { 'actor.id': filter.actorId } : {}),
    ...(filter.resourceType ? { 'resource.type': filter.resourceType } : {}),
    ...(filter.resourceId ? { 'resource.id': filter.resourceId } : {}),
    ...(filter.outcome ? { outcome: filter.outcome } : {}),
    ...timeRange(filter.from, filter.to),
  };
}

function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return AUDIT_PAGE.default;
  if (!Number.isInteger(first) || first < 1 || first > AUDIT_PAGE.max) {
    throw badInput('first', `must be a whole number from 1 to ${AUDIT_PAGE.max}`);
  }
  return first;
}

function afterSeq(after: string | null | undefined): number | null {
  if (after === null || after === undefined) return null;
  const seq = decodeCursor(after);
  if (seq === null) throw badInput('after', 'is not a cursor returned by this connection');
  return seq;
}

export async function listEvents(
  store: AuditChainStore,
  filter: AuditEventFilter,
  first?: number | null,
  after?: string | null,
): Promise<AuditEventPage> {
  const limit = pageSize(first);
  const before = afterSeq(after);
  const query = eventFilter(filter);
  const [rows, totalCount] = await Promise.all([store.newestFirst(query, before, limit + 1), store.count(query)]);
  const edges = rows.slice(0, limit).map((node) => ({ cursor: encodeCursor(node.seq), node }));
  return {
    edges,
    pageInfo: { hasNextPage: rows.length > limit, endCursor: edges.at(-1)?.cursor ?? null },
    totalCount,
  };
}
