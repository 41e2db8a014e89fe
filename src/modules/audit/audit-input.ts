/**
 * Turns an AuditEventInput into the exact values that get stored and hashed.
 *
 * Policy (the log records, it does not judge):
 * - Callers must never pass secret values, passwords or tokens (audit-event.ts).
 *   The log does NOT look for "secret-looking" strings and never rewrites or
 *   masks content: a silent scrubber would both miss real secrets and alter evidence.
 * - Mistakes a caller makes in code (empty tenant, unknown actor type or outcome,
 *   malformed action, details that are not plain JSON, keys starting with `$` or
 *   containing `.`, too deep, too many keys, over 16 KiB) are rejected with an
 *   AuditEventError before anything is queued.
 * - Text that may come from a request (ids, ip, user agent, request id, strings in
 *   details) is never a reason to lose an event, or an attacker could suppress
 *   their own audit trail with a long header: over its limit it is cut and marked
 *   visibly (`…[truncated, N chars]`), and the caller gets the list of cut fields.
 * - Values are normalised so that what is hashed is what the database returns:
 *   Dates in details become ISO strings, -0 becomes 0, lone UTF-16 surrogates
 *   become U+FFFD, undefined object members are dropped.
 */
import type { AuditEventInput } from './audit-event.js';
import type { UnchainedEvent } from './audit-chain.js';
import type { AuditDetails, JsonValue } from './audit.document.js';

export const AUDIT_LIMITS = {
  tenantIdMax: 200,
  actionMax: 100,
  resourceTypeMax: 100,
  idMax: 200,
  ipMax: 64,
  userAgentMax: 512,
  requestIdMax: 128,
  detailsStringMax: 1024,
  detailsKeyMax: 100,
  detailsKeysMax: 50,
  detailsArrayMax: 100,
  detailsDepthMax: 5,
  detailsBytesMax: 16 * 1024,
} as const;

const ACTOR_TYPES = new Set(['USER', 'API_KEY', 'SYSTEM', 'PUBLIC']);
const OUTCOMES = new Set(['SUCCESS', 'FAILURE', 'DENIED']);
const ACTION = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** A programming error in what a caller tried to audit. */
export class AuditEventError extends Error {
  override name = 'AuditEventError';
}

export interface NormalisedEvent {
  event: UnchainedEvent;
  /** Paths of request-derived text that was cut to its limit. */
  truncated: string[];
}

/** Normalises and validates one event; throws AuditEventError for caller mistakes. */
export function normaliseEvent(input: AuditEventInput, id: string, time: Date): NormalisedEvent {
  const truncated: string[] = [];
  const text = (value: string | null | undefined, max: number, path: string) => boundedText(value, max, path, truncated);
  const event: UnchainedEvent = {
    _id: id,
    tenantId: requiredText(input.tenantId, AUDIT_LIMITS.tenantIdMax, 'tenantId'),
    time,
    actor: { type: oneOf(input.actor?.type, ACTOR_TYPES, 'actor.type'), id: text(input.actor?.id, AUDIT_LIMITS.idMax, 'actor.id') },
    action: action(input.action),
    resource: {
      type: requiredText(input.resource?.type, AUDIT_LIMITS.resourceTypeMax, 'resource.type'),
      id: text(input.resource?.id, AUDIT_LIMITS.idMax, 'resource.id'),
    },
    outcome: oneOf(input.outcome, OUTCOMES, 'outcome'),
    ip: text(input.ip, AUDIT_LIMITS.ipMax, 'ip'),
    userAgent: text(input.userAgent, AUDIT_LIMITS.userAgentMax, 'userAgent'),
    requestId: text(input.requestId, AUDIT_LIMITS.requestIdMax, 'requestId'),
    details: normaliseDetails(input.details ?? {}, truncated),
  };
  return { event, truncated };
}

/** Strings as BSON stores them: lone surrogates cannot be encoded as UTF-8. */
function wellFormed(value: string): string {
  return value.replace(LONE_SURROGATE, '\uFFFD');
}

function requiredText(value: unknown, max: number, path: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new AuditEventError(`${path} must be a string of 1 to ${max} characters`);
  }
  return wellFormed(value);
}

function oneOf<T extends string>(value: unknown, allowed: ReadonlySet<string>, path: string): T {
  if (typeof value !== 'string' || !allowed.has(value)) {
    throw new AuditEventError(`${path} must be one of ${[...allowed].join(', ')}`);
  }
  return value as T;
}

function action(value: unknown): string {
  const text = requiredText(value, AUDIT_LIMITS.actionMax, 'action');
  if (!ACTION.test(text)) throw new AuditEventError('action must be a dotted verb such as secret.revealed');
  return text;
}

function boundedText(value: unknown, max: number, path: string, truncated: string[]): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') throw new AuditEventError(`${path} must be a string or null`);
  if (value.length <= max) return wellFormed(value);
  truncated.push(path);
  return `${wellFormed(value.slice(0, max))}…[truncated, ${value.length} chars]`;
}

function normaliseDetails(details: unknown, truncated: string[]): AuditDetails {
  if (details === null || typeof details !== 'object' || Array.isArray(details)) {
    throw new AuditEventError('details must be a plain object');
  }
  const normalised = normaliseObject(details, 'details', 1, truncated);
  if (Buffer.byteLength(JSON.stringify(normalised), 'utf8') > AUDIT_LIMITS.detailsBytesMax) {
    throw new AuditEventError(`details must be at most ${AUDIT_LIMITS.detailsBytesMax / 1024} KiB as JSON`);
  }
  return normalised;
}

function normaliseValue(value: unknown, path: string, depth: number, truncated: string[]): JsonValue {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'string') return boundedText(value, AUDIT_LIMITS.detailsStringMax, path, truncated);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new AuditEventError(`${path} must be a finite number`);
    return value === 0 ? 0 : value;
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new AuditEventError(`${path} is an invalid date`);
    return value.toISOString();
  }
  if (typeof value !== 'object') throw new AuditEventError(`${path}: ${typeof value} is not JSON`);
  if (depth >= AUDIT_LIMITS.detailsDepthMax) throw new AuditEventError(`${path} is nested too deeply`);
  return Array.isArray(value) ? normaliseArray(value, path, depth + 1, truncated) : normaliseObject(value, path, depth + 1, truncated);
}

function normaliseArray(items: unknown[], path: string, depth: number, truncated: string[]): JsonValue[] {
  if (items.length > AUDIT_LIMITS.detailsArrayMax) throw new AuditEventError(`${path} has more than ${AUDIT_LIMITS.detailsArrayMax} items`);
  return items.map((item, index) => (item === undefined ? null : normaliseValue(item, `${path}.${index}`, depth, truncated)));
}

function checkKey(key: string, path: string): void {
  if (key.length === 0 || key.length > AUDIT_LIMITS.detailsKeyMax || key.startsWith('$') || key.includes('.') || key.includes('\0') || key === '__proto__') {
    throw new AuditEventError(`${path}: key ${JSON.stringify(key.slice(0, 40))} must be 1 to ${AUDIT_LIMITS.detailsKeyMax} characters, without a leading $, a dot or NUL, and not __proto__`);
  }
}

function normaliseObject(value: object, path: string, depth: number, truncated: string[]): AuditDetails {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) throw new AuditEventError(`${path} must be a plain object`);
  const entries = Object.entries(value).filter(([, member]) => member !== undefined);
  if (entries.length > AUDIT_LIMITS.detailsKeysMax) throw new AuditEventError(`${path} has more than ${AUDIT_LIMITS.detailsKeysMax} keys`);
  const result: AuditDetails = {};
  for (const [key, member] of entries) {
    checkKey(key, path);
    result[wellFormed(key)] = normaliseValue(member, `${path}.${key}`, depth, truncated);
  }
  return result;
}
