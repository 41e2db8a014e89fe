import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, SignJWT, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

/**
 * Erasure receipts (DESIGN.md §8): proof that a subject was erased, which a third party
 * verifies with the keys published at /.well-known/jwks.json, without calling Coffer.
 *
 * Format decision: a **JWT** (RFC 7519, compact JWS) signed with EdDSA (Ed25519), the same
 * algorithm and key set as access tokens, with protected header
 * `{ alg: 'EdDSA', kid, typ: 'coffer-erasure-receipt+jwt' }`. Its claims are the receipt
 * payload below plus `iat` (when it was signed). The explicit `typ` (RFC 8725 §3.11) is
 * required on verification, and access tokens require `at+jwt`, so neither kind of token
 * can be passed off as the other even though one key signs both. JWT rather than a bare
 * JWS so standard tools decode and verify it; it has no `exp` because a receipt stays valid.
 *
 * The payload holds no personal data: ids, a reason code from a fixed list, counts, check
 * names and outcomes. It never carries free text.
 */

export const ERASURE_RECEIPT_TYP = 'coffer-erasure-receipt+jwt';
export const ERASURE_RECEIPT_TYPE = 'coffer.erasure-receipt';
export const ERASURE_RECEIPT_SCHEMA_VERSION = 1;

/** Why the subject was erased: the grounds of GDPR Art. 17(1), plus a retention rule and a tenant's own decision. */
export const ERASURE_REASON_CODES = [
  'NO_LONGER_NECESSARY',
  'CONSENT_WITHDRAWN',
  'OBJECTION',
  'UNLAWFUL_PROCESSING',
  'LEGAL_OBLIGATION',
  'CHILD_INFORMATION_SOCIETY_SERVICE',
  'RETENTION_PERIOD_ENDED',
  'TENANT_DECISION',
] as const;
export type ErasureReasonCode = (typeof ERASURE_REASON_CODES)[number];

/** One post-condition checked after erasure, e.g. `{ name: 'no_blind_index_entries', passed: true }`. */
export interface ErasureCheck {
  name: string;
  passed: boolean;
}

/** The signed content of an erasure receipt (schema version 1). */
export interface ErasureReceiptPayload {
  type: typeof ERASURE_RECEIPT_TYPE;
  schemaVersion: typeof ERASURE_RECEIPT_SCHEMA_VERSION;
  receiptId: string;
  tenantId: string;
  /** The id of the tombstone left in place of the subject (not the subject's own data). */
  tombstoneId: string;
  /** The data-subject request that asked for the erasure, if any. */
  requestId: string | null;
  /** ISO 8601 UTC instant at which erasure completed. */
  erasedAt: string;
  reasonCode: ErasureReasonCode;
  /** The destroyed subject key, by id only. */
  keyDestroyed: { keyId: string };
  /** Documents removed or scrubbed, per collection, sorted by collection name. */
  recordsRemoved: Record<string, number>;
  blindIndexEntriesRemoved: number;
  /** Post-condition checks, sorted by name. */
  checks: ErasureCheck[];
  /** Suppression entries (keyed hashes of the contact points of opt-outs) kept after erasure; absent when not counted. */
  suppressionEntriesKept?: number;
}

/** What the erasure job knows when it finishes. */
export interface ErasureReceiptInput {
  receiptId?: string;
  tenantId: string;
  tombstoneId: string;
  requestId?: string | null;
  erasedAt: Date;
  reasonCode: ErasureReasonCode;
  keyId: string;
  recordsRemoved: Record<string, number>;
  blindIndexEntriesRemoved: number;
  checks: ErasureCheck[];
  suppressionEntriesKept?: number;
}

/** A receipt failed to build or verify; `cause` holds the underlying error, the message never holds payload content. */
export class ErasureReceiptError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ErasureReceiptError';
  }
}

const PAYLOAD_KEYS: ReadonlySet<string> = new Set([
  'type', 'schemaVersion', 'receiptId', 'tenantId', 'tombstoneId', 'requestId', 'erasedAt',
  'reasonCode', 'keyDestroyed', 'recordsRemoved', 'blindIndexEntriesRemoved', 'checks', 'suppressionEntriesKept',
] satisfies (keyof ErasureReceiptPayload)[]);
const ID = /^[A-Za-z0-9_-]{1,128}$/;
const MACHINE_NAME = /^[a-z][a-z0-9_.-]{0,63}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function fail(what: string): never {
  throw new ErasureReceiptError(`erasure receipt: ${what}`);
}

function id(value: unknown, name: string): string {
  if (typeof value !== 'string' || !ID.test(value)) fail(`${name} must be an id of 1–128 letters, digits, _ or -`);
  return value;
}

function count(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(`${name} must be a whole number ≥ 0`);
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function counts(value: unknown): Record<string, number> {
  if (!isRecord(value)) fail('recordsRemoved must be an object of counts');
  const sorted: Record<string, number> = {};
  for (const name of Object.keys(value).sort()) {
    if (!MACHINE_NAME.test(name)) fail('recordsRemoved keys must be collection names (a-z, 0-9, _ . -)');
    sorted[name] = count(value[name], 'each recordsRemoved count');
  }
  return sorted;
}

function checks(value: unknown): ErasureCheck[] {
  if (!Array.isArray(value) || value.length === 0) fail('checks must list at least one post-condition');
  const list = value.map((check: unknown): ErasureCheck => {
    if (!isRecord(check) || typeof check.name !== 'string' || !MACHINE_NAME.test(check.name) || typeof check.passed !== 'boolean') {
      fail('each check is { name: machine name, passed: boolean }');
    }
    return { name: check.name, passed: check.passed };
  });
  list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (list.some((check, index) => index > 0 && list[index - 1]!.name === check.name)) fail('check names must be unique');
  return list;
}

function reason(value: unknown): ErasureReasonCode {
  if (typeof value !== 'string' || !(ERASURE_REASON_CODES as readonly string[]).includes(value)) fail('reasonCode is not a known code');
  return value as ErasureReasonCode;
}

/**
 * Builds a receipt payload with a stable key order and sorted collections and checks,
 * validating every field (ids, known reason code, machine names, whole counts) so that
 * no free text, and so no personal data, can enter a receipt. receiptId defaults to a UUID.
 */
export function buildErasureReceipt(input: ErasureReceiptInput): ErasureReceiptPayload {
  if (!(input.erasedAt instanceof Date) || Number.isNaN(input.erasedAt.getTime())) fail('erasedAt must be a valid date');
  return {
    type: ERASURE_RECEIPT_TYPE,
    schemaVersion: ERASURE_RECEIPT_SCHEMA_VERSION,
    receiptId: id(input.receiptId ?? randomUUID(), 'receiptId'),
    tenantId: id(input.tenantId, 'tenantId'),
    tombstoneId: id(input.tombstoneId, 'tombstoneId'),
    requestId: input.requestId == null ? null : id(input.requestId, 'requestId'),
    erasedAt: input.erasedAt.toISOString(),
    reasonCode: reason(input.reasonCode),
    keyDestroyed: { keyId: id(input.keyId, 'keyId') },
    recordsRemoved: counts(input.recordsRemoved),
    blindIndexEntriesRemoved: count(input.blindIndexEntriesRemoved, 'blindIndexEntriesRemoved'),
    checks: checks(input.checks),
    ...(input.suppressionEntriesKept === undefined ? {} : { suppressionEntriesKept: count(input.suppressionEntriesKept, 'suppressionEntriesKept') }),
  };
}

/** Whether every post-condition in the receipt passed. */
export function allChecksPassed(payload: Pick<ErasureReceiptPayload, 'checks'>): boolean {
  return payload.checks.every((check) => check.passed);
}

/** Reads a verified claim set back into a payload, refusing anything not of schema version 1. */
export function parseErasureReceipt(claims: Record<string, unknown>): ErasureReceiptPayload {
  if (claims.type !== ERASURE_RECEIPT_TYPE) fail('not an erasure receipt');
  if (Object.keys(claims).some((key) => !PAYLOAD_KEYS.has(key))) fail('unexpected claim');
  if (claims.schemaVersion !== ERASURE_RECEIPT_SCHEMA_VERSION) fail('unsupported schema version');
  if (typeof claims.erasedAt !== 'string' || !ISO_UTC.test(claims.erasedAt)) fail('erasedAt must be an ISO 8601 UTC instant');
  const keyDestroyed = claims.keyDestroyed;
  if (!isRecord(keyDestroyed)) fail('keyDestroyed must be { keyId }');
  const erasedAt = new Date(claims.erasedAt);
  if (Number.isNaN(erasedAt.getTime()) || erasedAt.toISOString() !== claims.erasedAt) fail('erasedAt must be a real instant');
  // The casts only satisfy the input type: buildErasureReceipt checks every one of these values.
  return buildErasureReceipt({
    receiptId: id(claims.receiptId, 'receiptId'),
    tenantId: claims.tenantId as string,
    tombstoneId: claims.tombstoneId as string,
    requestId: claims.requestId === null ? null : id(claims.requestId, 'requestId'),
    erasedAt,
    reasonCode: claims.reasonCode as ErasureReasonCode,
    keyId: keyDestroyed.keyId as string,
    recordsRemoved: claims.recordsRemoved as Record<string, number>,
    blindIndexEntriesRemoved: claims.blindIndexEntriesRemoved as number,
    checks: claims.checks as ErasureCheck[],
    ...(claims.suppressionEntriesKept === undefined ? {} : { suppressionEntriesKept: claims.suppressionEntriesKept as number }),
  });
}

/** A private signing key as jose accepts it (a node KeyObject or WebCrypto CryptoKey). */
export type ReceiptSigningKey = Parameters<SignJWT['sign']>[0];

/**
 * Signs a receipt: a compact JWT with header `{ alg: 'EdDSA', kid, typ: 'coffer-erasure-receipt+jwt' }`
 * and the payload plus `iat` as claims. `kid` is the signing key's id in the published JWKS.
 */
export async function signReceipt(payload: ErasureReceiptPayload, privateKey: ReceiptSigningKey, kid: string): Promise<string> {
  if (typeof kid !== 'string' || kid.length === 0) fail('kid must be a non-empty string');
  // Rebuilt, so a hand-assembled payload can neither skip validation nor smuggle extra claims.
  const claims = buildErasureReceipt({
    receiptId: payload.receiptId,
    tenantId: payload.tenantId,
    tombstoneId: payload.tombstoneId,
    requestId: payload.requestId,
    erasedAt: new Date(payload.erasedAt),
    reasonCode: payload.reasonCode,
    keyId: payload.keyDestroyed.keyId,
    recordsRemoved: payload.recordsRemoved,
    blindIndexEntriesRemoved: payload.blindIndexEntriesRemoved,
    checks: payload.checks,
    suppressionEntriesKept: payload.suppressionEntriesKept,
  });
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'EdDSA', kid, typ: ERASURE_RECEIPT_TYP })
    .setIssuedAt()
    .sign(privateKey);
}

/** A verified receipt: its payload, the key that signed it and when. */
export interface VerifiedReceipt {
  payload: ErasureReceiptPayload;
  kid: string;
  signedAt: Date;
}

/**
 * Verifies a receipt against a JWKS (e.g. the JSON served at /.well-known/jwks.json, or a
 * jose key resolver such as createRemoteJWKSet). Pins alg EdDSA and typ
 * `coffer-erasure-receipt+jwt`, and checks the payload shape; any defect throws
 * ErasureReceiptError.
 */
export async function verifyReceipt(jws: string, jwks: JSONWebKeySet | JWTVerifyGetKey): Promise<VerifiedReceipt> {
  const keys = typeof jwks === 'function' ? jwks : createLocalJWKSet(jwks);
  let verified: Awaited<ReturnType<typeof jwtVerify>>;
  try {
    verified = await jwtVerify(jws, keys, { algorithms: ['EdDSA'], typ: ERASURE_RECEIPT_TYP, requiredClaims: ['iat'] });
  } catch (error) {
    throw new ErasureReceiptError('erasure receipt: signature or header is not valid', { cause: error });
  }
  const { iat, ...claims } = verified.payload;
  const kid = verified.protectedHeader.kid;
  if (typeof kid !== 'string') fail('the header names no kid');
  return { payload: parseErasureReceipt(claims), kid, signedAt: new Date((iat ?? 0) * 1000) };
}
