import { createHmac } from 'node:crypto';
import { badInput } from '../../errors.js';
import type { ContactChannel } from './contact-points.js';

/**
 * Keyed hashes over normalised personal values (DESIGN.md §3, §8).
 *
 * - A **blind index** lets the tenant find a subject by exact email, phone or identity
 *   without storing the value in clear: HMAC-SHA256 under the tenant's index key.
 *   Erasure deletes the index entries with the rest of the subject.
 * - A **suppression hash** records an opt-out so that it outlives the person: it is
 *   computed under a separate suppression key, because it must survive erasure and must
 *   never be derivable from (or usable as) a blind-index entry.
 *
 * Inputs are encoded unambiguously before hashing: a purpose label, then each field as a
 * 4-byte big-endian byte length followed by its UTF-8 bytes. No choice of field text can
 * therefore make ('email', 'a|b') collide with ('identity:a', 'b'), and the purpose label
 * keeps index and suppression hashes apart even under the same key bytes.
 *
 * Output is the full 32-byte MAC in base64url (43 characters), not truncated: these
 * indexes serve uniqueness checks and exact lookups, where truncation would add false
 * matches, and within one tenant a full-length keyed hash leaks only equality.
 *
 * Callers pass values that are already normalised (contact-points.ts): the hash never
 * guesses a canonical form.
 */

/** Keys must be 32 random bytes (HMAC-SHA256 gains nothing from longer keys). */
export const HASH_KEY_BYTES = 32;

/** Purpose labels: the first encoded field, never equal between the two uses. */
export const BLIND_INDEX_PURPOSE = 'coffer:blind-index:v1';
export const SUPPRESSION_PURPOSE = 'coffer:suppression:v1';

/** An identity label: a lower-case machine name such as `customer_id` or `crm.contact`. */
const IDENTITY_LABEL = /^[a-z][a-z0-9_.-]{0,63}$/;

/** What a blind-index entry indexes: a contact channel or a named identity. */
export type BlindIndexKind = ContactChannel | `identity:${string}`;

/** Validates an identity label from client input; BAD_USER_INPUT naming `field` (the label is not quoted). */
export function validIdentityLabel(label: string, field = 'label'): string {
  if (typeof label !== 'string' || !IDENTITY_LABEL.test(label)) {
    throw badInput(field, 'must be 1–64 of a-z, 0-9, _ . - starting with a letter (e.g. customer_id)');
  }
  return label;
}

/** The blind-index kind for identities labelled `label` (e.g. `identity:customer_id`); a bad label is a programming error. */
export function identityKind(label: string): `identity:${string}` {
  if (!IDENTITY_LABEL.test(label)) {
    throw new Error('identity label must be 1–64 of a-z, 0-9, _ . - starting with a letter');
  }
  return `identity:${label}`;
}

/** Whether `kind` is a well-formed BlindIndexKind. */
export function isBlindIndexKind(kind: unknown): kind is BlindIndexKind {
  if (kind === 'email' || kind === 'phone') return true;
  return typeof kind === 'string' && kind.startsWith('identity:') && IDENTITY_LABEL.test(kind.slice('identity:'.length));
}

/** purpose, fields… each as u32be(byteLength) || utf8 bytes. */
export function encodeHashInput(fields: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const field of fields) {
    const bytes = Buffer.from(field, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  }
  return Buffer.concat(parts);
}

function keyedHash(key: Buffer, fields: readonly string[]): string {
  if (key.length !== HASH_KEY_BYTES) throw new Error(`hash key must be ${HASH_KEY_BYTES} bytes`);
  return createHmac('sha256', key).update(encodeHashInput(fields)).digest('base64url');
}

function requireValue(value: string, what: string): void {
  if (typeof value !== 'string' || value.length === 0) throw new Error(`${what} must be a non-empty normalised string`);
}

/**
 * The blind index of a normalised value: base64url(HMAC-SHA256(indexKey,
 * enc(BLIND_INDEX_PURPOSE, kind, value))). Same value under two tenants' keys differs;
 * same text under two kinds differs.
 */
export function blindIndex(indexKey: Buffer, kind: BlindIndexKind, normalisedValue: string): string {
  if (!isBlindIndexKind(kind)) throw new Error('unknown blind-index kind');
  requireValue(normalisedValue, 'blind-index value');
  return keyedHash(indexKey, [BLIND_INDEX_PURPOSE, kind, normalisedValue]);
}

/**
 * The suppression hash of an opt-out: base64url(HMAC-SHA256(suppressionKey,
 * enc(SUPPRESSION_PURPOSE, channel, contact))). Use the tenant's suppression key, never
 * its index key: this hash is kept after erasure so that the opt-out still holds.
 */
export function suppressionHash(suppressionKey: Buffer, channel: ContactChannel, normalisedContact: string): string {
  if (channel !== 'email' && channel !== 'phone') throw new Error('unknown suppression channel');
  requireValue(normalisedContact, 'suppressed contact');
  return keyedHash(suppressionKey, [SUPPRESSION_PURPOSE, channel, normalisedContact]);
}
