import { createLocalJWKSet, jwtVerify, SignJWT, type JSONWebKeySet } from 'jose';
import type { KeyObject } from 'node:crypto';
import type { DestroyedKeys } from './tenant.repository.js';

/**
 * Tenant deletion receipts: proof that a tenant's keys were destroyed and its documents purged,
 * verifiable by anyone with the keys published at /.well-known/jwks.json (like erasure receipts).
 *
 * A compact JWT signed with EdDSA by the access-token key, protected header
 * `{ alg: 'EdDSA', kid, typ: 'coffer-tenant-deletion-receipt+jwt' }` (its own `typ`, so it can be
 * passed off neither as an access token nor as an erasure receipt), claims = the payload below
 * plus `iat`. No `exp`: a receipt stays valid. It holds ids, times, key versions and counts only.
 */
export const TENANT_DELETION_RECEIPT_TYP = 'coffer-tenant-deletion-receipt+jwt';
export const TENANT_DELETION_RECEIPT_TYPE = 'coffer.tenant-deletion-receipt';
export const TENANT_DELETION_RECEIPT_SCHEMA_VERSION = 1;

export interface TenantDeletionReceiptPayload {
  type: typeof TENANT_DELETION_RECEIPT_TYPE;
  schemaVersion: typeof TENANT_DELETION_RECEIPT_SCHEMA_VERSION;
  receiptId: string;
  tenantId: string;
  /** The OWNER who asked for the deletion (a user id). */
  requestedBy: string;
  /** ISO 8601 UTC: when the deletion started, and when it completed. */
  startedAt: string;
  deletedAt: string;
  /** DEK versions, whether the audit key went, wrapped keys per collection: never key bytes. */
  keysDestroyed: DestroyedKeys;
  /** Documents purged per collection, sorted by collection name. */
  recordsRemoved: Record<string, number>;
}

const sorted = (counts: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.keys(counts).sort().map((key) => [key, counts[key]!]));

/** Builds the payload with a stable key order. */
export function tenantDeletionReceipt(input: {
  receiptId: string;
  tenantId: string;
  requestedBy: string;
  startedAt: Date;
  deletedAt: Date;
  keysDestroyed: DestroyedKeys;
  recordsRemoved: Record<string, number>;
}): TenantDeletionReceiptPayload {
  return {
    type: TENANT_DELETION_RECEIPT_TYPE,
    schemaVersion: TENANT_DELETION_RECEIPT_SCHEMA_VERSION,
    receiptId: input.receiptId,
    tenantId: input.tenantId,
    requestedBy: input.requestedBy,
    startedAt: input.startedAt.toISOString(),
    deletedAt: input.deletedAt.toISOString(),
    keysDestroyed: {
      dekVersions: [...input.keysDestroyed.dekVersions].sort((a, b) => a - b),
      auditKey: input.keysDestroyed.auditKey,
      wrappedKeys: sorted(input.keysDestroyed.wrappedKeys),
    },
    recordsRemoved: sorted(input.recordsRemoved),
  };
}

/** Signs a receipt with the active access-token key (TokenService.signingKey()). */
export function signTenantDeletionReceipt(payload: TenantDeletionReceiptPayload, key: { privateKey: KeyObject; kid: string }): Promise<string> {
  return new SignJWT({ ...payload }).setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: TENANT_DELETION_RECEIPT_TYP }).setIssuedAt().sign(key.privateKey);
}

/** Verifies a receipt against a JWKS (such as /.well-known/jwks.json); throws when it is not a valid one. */
export async function verifyTenantDeletionReceipt(jws: string, jwks: JSONWebKeySet): Promise<TenantDeletionReceiptPayload> {
  const { payload } = await jwtVerify(jws, createLocalJWKSet(jwks), { algorithms: ['EdDSA'], typ: TENANT_DELETION_RECEIPT_TYP, requiredClaims: ['iat'] });
  const { iat: _iat, ...claims } = payload;
  if (claims.type !== TENANT_DELETION_RECEIPT_TYPE || claims.schemaVersion !== TENANT_DELETION_RECEIPT_SCHEMA_VERSION) {
    throw new Error('not a tenant deletion receipt of schema version 1');
  }
  return claims as unknown as TenantDeletionReceiptPayload;
}
