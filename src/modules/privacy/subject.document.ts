import type { Binary } from 'mongodb';
import type { TenantDocument } from '../../db/tenant-scope.js';
import type { ErasureCheck, ErasureReasonCode } from './erasure-receipt.js';
import type { ErasureState } from './erasure-plan.js';

/**
 * Stored shapes of the privacy module. No field below holds personal data in clear:
 * personal values are sealed under the subject's own key (`sealed`), lookups go through
 * blind-index hashes (`lookup`, `externalKey`), and keys are stored only wrapped.
 */

export const SUBJECTS_COLLECTION = 'data_subjects';
export const SUBJECT_KEYS_COLLECTION = 'subject_keys';
export const SUBJECT_INDEX_KEYS_COLLECTION = 'subject_index_keys';
export const ACCESS_LOG_COLLECTION = 'data_access_log';

/** Personal fields of a subject, each sealed separately (AAD: tenant | subject | field). */
export const SUBJECT_FIELDS = ['externalId', 'email', 'phone', 'fullName', 'attributes', 'identities', 'restrictionReason'] as const;
export type SubjectField = (typeof SUBJECT_FIELDS)[number];

/** The fields a caller can read (restrictionReason is shown to nobody but the export). */
export const READABLE_FIELDS = ['externalId', 'email', 'phone', 'fullName', 'attributes', 'identities'] as const;
export type ReadableField = (typeof READABLE_FIELDS)[number];

export const SUBJECT_STATUSES = ['ACTIVE', 'ERASING', 'ERASED'] as const;
export type SubjectStatus = (typeof SUBJECT_STATUSES)[number];

/** Who read a subject or asked for its erasure: a member, an API key, or Coffer itself. */
export interface AccessorRef {
  type: 'USER' | 'API_KEY' | 'SYSTEM';
  id: string | null;
}

export interface ErasureDoc {
  state: ErasureState;
  reasonCode: ErasureReasonCode;
  requestedAt: Date;
  requestedBy: AccessorRef;
  /** The data-subject request that asked for the erasure, if any (named in the receipt). */
  requestId?: string | null;
  /** Blind-index entries the subject had (kept only until DONE, for the post-condition lookups). */
  formerLookup: string[];
  /** A ciphertext sampled before the key was destroyed (kept only until DONE, to prove it no longer opens). */
  sample: { field: SubjectField; blob: Binary } | null;
  /** Documents removed per collection, counted when the erasure was planned. */
  recordsRemoved: Record<string, number>;
  /** The post-conditions checked at VERIFIED (they go into the receipt). */
  checks?: ErasureCheck[];
  erasedAt: Date | null;
  /** Suppression entries matching the subject's contact points when planned (kept: an opt-out outlives the person). */
  suppressionEntriesKept?: number;
  /** The signed receipt (compact JWT), once DONE. */
  receipt: string | null;
}

export interface DataSubjectDoc extends TenantDocument {
  status: SubjectStatus;
  /** The id of the subject key (subject_keys._id). */
  keyId: string;
  /** Sealed personal fields (iv || tag || ciphertext under the subject key). */
  sealed: Partial<Record<SubjectField, Binary>>;
  /** Blind-index entries `<kind>:<hash>` (email, phone, identity:<label>), indexed. */
  lookup: string[];
  /** Unique per tenant: `x:<hash of externalId>`, or `none:<id>` without one (unique indexes cannot skip missing values here). */
  externalKey: string;
  restriction: { since: Date } | null;
  /** Keep until this instant, then the retention sweep erases it (overrides the tenant's subjectRetentionDays); absent or null: the policy applies. */
  retainUntil?: Date | null;
  createdAt: Date;
  updatedAt: Date | null;
  revision: number;
  erasure: ErasureDoc | null;
}

/** A subject key wrapped by the tenant DEK of `dekVersion` (AAD binds tenant, subject and DEK version). */
export interface SubjectKeyDoc extends TenantDocument {
  subjectId: string;
  wrapped: Binary;
  dekVersion: number;
  createdAt: Date;
}

/** The tenant's blind-index key, wrapped by the tenant DEK of `dekVersion`; `_id` is `bik:<tenantId>` (one per tenant). */
export interface IndexKeyDoc extends TenantDocument {
  wrapped: Binary;
  dekVersion: number;
  createdAt: Date;
}

export const ACCESS_ACTIONS = ['READ', 'EXPORT'] as const;
export type AccessAction = (typeof ACCESS_ACTIONS)[number];

/** One read of a subject's personal data (GDPR Art. 30, 15(1)(c)); ip and user agent stored as the audit log stores them. */
export interface AccessLogDoc extends TenantDocument {
  subjectId: string;
  at: Date;
  actor: AccessorRef;
  action: AccessAction;
  fields: string[];
  purpose: string;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}
