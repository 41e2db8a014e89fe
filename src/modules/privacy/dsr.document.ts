import type { Binary } from 'mongodb';
import type { TenantDocument } from '../../db/tenant-scope.js';
import type { DsrStatus, DsrType } from './dsr-state.js';
import type { AccessorRef } from './subject.document.js';

/**
 * Stored shapes of data-subject requests (DSR) and retention policies. Free text a tenant
 * writes about a person (notes, the extension and rejection reasons) is personal data: it is
 * sealed under the subject's own key (subject-cipher.ts, field `dsr:<requestId>:<what>`), so
 * erasing the subject shreds it. Everything else is ids, codes and instants.
 */

export const DSR_COLLECTION = 'data_subject_requests';
export const RETENTION_POLICIES_COLLECTION = 'retention_policies';

/** The sealed free-text fields of a request. */
export const DSR_SEALED_FIELDS = ['notes', 'extensionReason', 'rejectionReason'] as const;
export type DsrSealedField = (typeof DSR_SEALED_FIELDS)[number];

/** The subject-cipher field name (AAD) of a request's sealed text. */
export const dsrField = (requestId: string, field: DsrSealedField): string => `dsr:${requestId}:${field}`;

export interface DsrDoc extends TenantDocument {
  subjectId: string;
  /** The subject key the text fields are sealed under (shredded with the subject). */
  keyId: string;
  type: DsrType;
  status: DsrStatus;
  receivedAt: Date;
  /** The deadline in force (original, or extended): indexed with tenantId and status. */
  dueAt: Date;
  /** One GDPR month after receipt. */
  originalDueAt: Date;
  extension: { months: number; decidedAt: Date } | null;
  /** Sealed free text (iv || tag || ciphertext under the subject key); absent when not given. */
  sealed: Partial<Record<DsrSealedField, Binary>>;
  createdAt: Date;
  createdBy: AccessorRef;
  startedAt: Date | null;
  /** When it was COMPLETED or REJECTED (retention counts from here). */
  closedAt: Date | null;
  /** ACCESS/PORTABILITY: the export was produced and handed out at completion (never stored). */
  exportProduced: { at: Date; fileName: string } | null;
  /** ERASURE: the signed receipt of the erasure run at completion. */
  erasure: { receipt: string; receiptId: string; erasedAt: Date | null } | null;
  revision: number;
}

/** Retention periods of one tenant, in days; null keeps forever. `_id` is `ret:<tenantId>`. */
export interface RetentionPolicyDoc extends TenantDocument {
  subjectRetentionDays: number | null;
  accessLogRetentionDays: number | null;
  requestRetentionDays: number | null;
  updatedAt: Date;
  updatedBy: AccessorRef;
  revision: number;
}
