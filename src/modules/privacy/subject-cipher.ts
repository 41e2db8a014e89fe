import { randomBytes } from 'node:crypto';
import { KEY_BYTES, open, seal } from '../../crypto/aes-gcm.js';

/**
 * Personal fields sealed under the data subject's own key (DESIGN.md §3, §8), so that
 * destroying that one key shreds every copy of the subject's ciphertext, backups included.
 *
 * Fields use AES-256-GCM from src/crypto/aes-gcm.ts (`iv || tag || ciphertext`). The AAD
 * binds each blob to its tenant, subject and field name, so a blob copied to another
 * subject, another field or another tenant fails to open instead of being misread.
 * Subject keys themselves are wrapped under the tenant DEK with their own AAD.
 *
 * AAD encoding: the JSON array `[label, tenantId, subjectId, …]`, as the vault does for
 * secrets. JSON escapes quotes and backslashes, so no field value can end a field early
 * and the encoding is unambiguous; the label keeps field AAD and key AAD apart.
 */

/** Where a sealed personal field belongs. */
export interface SubjectFieldRef {
  tenantId: string;
  subjectId: string;
  /** The field name, e.g. `email`, `phone`, `attributes`, `identity:customer_id`. */
  field: string;
}

/** Thrown for a malformed reference (a programming error, never caused by end users). */
function requireIds(values: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(values)) {
    if (typeof value !== 'string' || value.length === 0) throw new Error(`${name} must be a non-empty string`);
  }
}

/** AAD binding a personal-field blob to tenant, subject and field name. */
export function subjectFieldAad(ref: SubjectFieldRef): Buffer {
  requireIds({ tenantId: ref.tenantId, subjectId: ref.subjectId, field: ref.field });
  return Buffer.from(JSON.stringify(['coffer:subject-field:v1', ref.tenantId, ref.subjectId, ref.field]), 'utf8');
}

/** AAD binding a wrapped subject key to its tenant, subject and the DEK version that wraps it. */
export function subjectKeyAad(tenantId: string, subjectId: string, dekVersion: number): Buffer {
  requireIds({ tenantId, subjectId });
  if (!Number.isSafeInteger(dekVersion) || dekVersion < 1) throw new Error('dekVersion must be a positive integer');
  return Buffer.from(JSON.stringify(['coffer:subject-key:v1', tenantId, subjectId, dekVersion]), 'utf8');
}

/** A fresh random 32-byte subject key. */
export function generateSubjectKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/** Seals a personal field's UTF-8 text under the subject key; returns `iv || tag || ciphertext`. */
export function sealSubjectField(subjectKey: Buffer, ref: SubjectFieldRef, plaintext: string): Buffer {
  return seal(subjectKey, Buffer.from(plaintext, 'utf8'), subjectFieldAad(ref));
}

/**
 * Opens a blob made by sealSubjectField for the same tenant, subject and field.
 * Throws IntegrityError when the key is wrong (e.g. after shredding, a stale key),
 * the blob was tampered with, or it belongs to another tenant, subject or field.
 */
export function openSubjectField(subjectKey: Buffer, ref: SubjectFieldRef, blob: Buffer): string {
  return open(subjectKey, blob, subjectFieldAad(ref)).toString('utf8');
}

/** Wraps a subject key under the tenant DEK of version `dekVersion`. */
export function wrapSubjectKey(dek: Buffer, subjectKey: Buffer, tenantId: string, subjectId: string, dekVersion: number): Buffer {
  if (subjectKey.length !== KEY_BYTES) throw new Error('a subject key is 32 bytes');
  return seal(dek, subjectKey, subjectKeyAad(tenantId, subjectId, dekVersion));
}

/** Unwraps a subject key; IntegrityError if the DEK, tenant, subject or DEK version does not match. */
export function unwrapSubjectKey(dek: Buffer, wrapped: Buffer, tenantId: string, subjectId: string, dekVersion: number): Buffer {
  return open(dek, wrapped, subjectKeyAad(tenantId, subjectId, dekVersion));
}
