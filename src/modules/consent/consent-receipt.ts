import { createLocalJWKSet, jwtVerify, SignJWT, type JSONWebKeySet } from 'jose';
import type { Channel, ConsentMethod, LedgerKind, LegalBasis } from './consent-vocab.js';

/**
 * Consent receipts: one per ledger record, a JWT (compact JWS, EdDSA) signed with the key
 * published at /.well-known/jwks.json, header `typ: coffer-consent-receipt+jwt` (distinct from
 * access tokens `at+jwt` and erasure receipts `coffer-erasure-receipt+jwt`, and required on
 * verification, so no kind can be passed off as another).
 *
 * The claims carry the fields of ISO/IEC TS 27560 and the Kantara Consent Receipt
 * (receipt id, schema version, controller, subject reference, purpose, notice and its hash,
 * legal basis, collection method, state, time). The subject is named by its Coffer id only,
 * never by an email or a name: the receipt holds no personal data beyond that reference.
 */

export const CONSENT_RECEIPT_TYP = 'coffer-consent-receipt+jwt';
export const CONSENT_RECEIPT_TYPE = 'coffer.consent-receipt';
export const CONSENT_RECEIPT_SCHEMA_VERSION = 1;

export interface ConsentReceiptPayload {
  type: typeof CONSENT_RECEIPT_TYPE;
  schemaVersion: typeof CONSENT_RECEIPT_SCHEMA_VERSION;
  /** Kantara consentReceiptID / ISO 27560 record identifier: the ledger record id. */
  receiptId: string;
  /** The record's place in the tenant's tamper-evident ledger. */
  ledgerSeq: number;
  /** Kantara piiControllers / ISO 27560 controller: the tenant. */
  controller: { id: string; name: string };
  /** Kantara piiPrincipalId: the subject's Coffer id (never a contact point). */
  subject: { id: string };
  kind: LedgerKind;
  purpose: { key: string; name: string; legalBasis: LegalBasis } | null;
  notice: { version: number; sha256: string } | null;
  channel: Channel | null;
  /** Kantara collectionMethod. */
  method: ConsentMethod | null;
  /** ISO 27560 state: GIVEN or WITHDRAWN (an opt-out is WITHDRAWN, an opt-in GIVEN). */
  state: 'GIVEN' | 'WITHDRAWN';
  gpc: boolean;
  /** Kantara consentTimestamp, ISO 8601 UTC. */
  consentTimestamp: string;
}

export type ReceiptKey = Parameters<SignJWT['sign']>[0];

export async function signConsentReceipt(payload: ConsentReceiptPayload, privateKey: ReceiptKey, kid: string): Promise<string> {
  return new SignJWT({ ...payload })
    .setProtectedHeader({ alg: 'EdDSA', kid, typ: CONSENT_RECEIPT_TYP })
    .setIssuedAt(Math.floor(new Date(payload.consentTimestamp).getTime() / 1000))
    .sign(privateKey);
}

/** Verifies a consent receipt against a JWKS (alg EdDSA and typ pinned); throws on any defect. */
export async function verifyConsentReceipt(jws: string, jwks: JSONWebKeySet): Promise<ConsentReceiptPayload> {
  const { payload } = await jwtVerify(jws, createLocalJWKSet(jwks), { algorithms: ['EdDSA'], typ: CONSENT_RECEIPT_TYP });
  if (payload.type !== CONSENT_RECEIPT_TYPE || payload.schemaVersion !== CONSENT_RECEIPT_SCHEMA_VERSION) throw new Error('not a consent receipt of schema version 1');
  const { iat: _iat, ...claims } = payload;
  return claims as unknown as ConsentReceiptPayload;
}
