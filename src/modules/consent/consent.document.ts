import type { Binary } from 'mongodb';
import type { TenantDocument } from '../../db/tenant-scope.js';
import type { Channel, ConsentMethod, LedgerKind, LegalBasis, OptOutReason, OptOutSource } from './consent-vocab.js';

/**
 * Stored shapes of the consent module. Nothing below holds personal data in clear: proofs
 * (ip, user agent, evidence) are sealed under the subject's own key, so erasure shreds them;
 * suppression entries hold only a keyed hash of a contact point.
 */

export const PURPOSES_COLLECTION = 'consent_purposes';
export const LEDGER_COLLECTION = 'consent_ledger';
export const LEDGER_HEADS_COLLECTION = 'consent_ledger_heads';
export const SUPPRESSIONS_COLLECTION = 'consent_suppressions';
export const SUPPRESSION_KEYS_COLLECTION = 'consent_suppression_keys';
export const LEDGER_KEYS_COLLECTION = 'consent_ledger_keys';
export const USED_LINKS_COLLECTION = 'consent_used_links';

/** One published version of a purpose's notice: its text and SHA-256 (hex), kept for ever. */
export interface NoticeVersion {
  version: number;
  text: string;
  sha256: string;
  publishedAt: Date;
}

export interface PurposeDoc extends TenantDocument {
  /** Machine key chosen by the tenant (e.g. newsletter); unique per tenant. */
  key: string;
  name: string;
  description: string;
  legalBasis: LegalBasis;
  honoursGpc: boolean;
  notices: NoticeVersion[];
  currentNoticeVersion: number;
  retiredAt: Date | null;
  createdAt: Date;
  updatedAt: Date | null;
  revision: number;
}

/**
 * One immutable ledger record, chained per tenant like the audit log (docs/ARCHITECTURE.md §14):
 * hash = HMAC(ledger key, prevHash || canonical(record without hash)). `proof` is the sealed
 * proof as base64 (iv || tag || ciphertext under the subject key), so the chain covers the
 * ciphertext and still verifies once erasure has destroyed the key.
 */
export interface LedgerRecordDoc extends TenantDocument {
  seq: number;
  prevHash: string;
  hash: string;
  kind: LedgerKind;
  subjectId: string;
  /** The purpose (CONSENT; optional scope of OPT_OUT/OPT_IN); null for channel-wide records and GPC. */
  purposeId: string | null;
  purposeKey: string | null;
  channel: Channel | null;
  /** CONSENT: granted or withdrawn; OPT_OUT/GPC: false; OPT_IN: true. */
  granted: boolean;
  method: ConsentMethod | null;
  noticeVersion: number | null;
  noticeSha256: string | null;
  legalBasis: LegalBasis | null;
  gpc: boolean;
  reason: OptOutReason | null;
  source: OptOutSource | null;
  at: Date;
  /** base64 of the proof sealed under the subject key, or null. */
  proof: string | null;
  /** Who recorded it: USER, API_KEY, SYSTEM or PUBLIC (with the id, none for PUBLIC). */
  actor: { type: string; id: string | null };
}

/** The chain head of a tenant's ledger (`_id` = `head:<tenantId>`): the last record linked. */
export interface LedgerHeadDoc extends TenantDocument {
  seq: number;
  hash: string;
}

/**
 * A suppressed contact point: a keyed hash (tenant suppression key) of the normalised email or
 * phone, per channel and optionally per purpose. Kept when the subject is erased.
 */
export interface SuppressionDoc extends TenantDocument {
  /** `<CHANNEL>:<purposeKey or *>:<hash>`, unique per tenant. */
  entry: string;
  /** The keyed hash alone (counted when the subject is erased: these entries are kept). */
  hash: string;
  channel: Channel;
  purposeKey: string | null;
  reason: OptOutReason;
  createdAt: Date;
}

/** A random per-tenant key of the consent module, stored only wrapped by a tenant DEK (never in clear). */
export interface WrappedKeyDoc extends TenantDocument {
  wrapped: Binary;
  dekVersion: number;
  createdAt: Date;
}

/** The tenant's suppression HMAC key, wrapped by a tenant DEK; `_id` is `sup:<tenantId>`. */
export type SuppressionKeyDoc = WrappedKeyDoc;

/** The tenant's consent-ledger HMAC key, wrapped by a tenant DEK; `_id` is `ledger:<tenantId>`. */
export type LedgerKeyDoc = WrappedKeyDoc;

/**
 * A double opt-in confirmation token that has been used (`_id` = `confirm:<tenantId>:<jti>`):
 * inserted before the consent is recorded, so a token records at most one grant however often
 * (or however concurrently) it is posted. Holds no personal data.
 */
export interface UsedLinkDoc extends TenantDocument {
  usedAt: Date;
  /** When the token itself expires (after that the signature check refuses it anyway). */
  expiresAt: Date;
}
