import { appError, badInput } from '../../errors.js';
import { validAttributes, type JsonObject } from './attributes.js';
import { blindIndex, identityKind, validIdentityLabel } from './blind-index.js';
import { normaliseEmail, normalisePhone } from './contact-points.js';
import type { ReadableField } from './subject.document.js';

/**
 * Validation of subject input and the blind-index entries derived from it. Every refusal is
 * BAD_USER_INPUT naming the field, never quoting the value, and happens before any write.
 */

export interface Identity {
  label: string;
  value: string;
}

/** Personal values as the service holds them in memory (never stored like this). */
export interface SubjectValues {
  externalId?: string | null;
  email?: string | null;
  phone?: string | null;
  fullName?: string | null;
  attributes?: JsonObject | null;
  identities?: Identity[] | null;
}

export interface SubjectInputShape {
  externalId?: string | null;
  email?: string | null;
  phone?: string | null;
  fullName?: string | null;
  attributes?: unknown;
  identities?: { label: string; value: string }[] | null;
}

export const SUBJECT_LIMITS = { externalIdMax: 256, fullNameMax: 300, identitiesMax: 20, identityValueMax: 256, reasonMax: 500, pageMax: 100 } as const;

/** The label reserved for externalId's blind index (client labels may not start with `coffer.`). */
const EXTERNAL_ID_KIND = identityKind('coffer.external_id');

/** Purposes: short machine codes such as `support`, `billing`, `legal_claims`. */
const PURPOSE = /^[a-z][a-z0-9_.-]{1,63}$/;
/** The purpose still allowed while processing is restricted (GDPR Art. 18(2): legal claims). */
export const RESTRICTED_PURPOSE = 'legal_claims';

export function validPurpose(purpose: string, field = 'purpose'): string {
  if (typeof purpose !== 'string' || !PURPOSE.test(purpose)) {
    throw badInput(field, 'must be a purpose code of 2–64 characters: a-z, 0-9, _ . - starting with a letter (e.g. support, billing, legal_claims)');
  }
  return purpose;
}

function text(value: string | null | undefined, field: string, max: number): string | null | undefined {
  if (value === undefined || value === null) return value;
  const trimmed = value.trim().normalize('NFC');
  if (!trimmed) throw badInput(field, 'must not be empty (use null to clear it)');
  if (trimmed.length > max) throw badInput(field, `must be at most ${max} characters`);
  return trimmed;
}

export function validReason(reason: string | null | undefined, field = 'reason'): string {
  const value = text(reason ?? '', field, SUBJECT_LIMITS.reasonMax);
  if (!value) throw badInput(field, 'must not be empty');
  return value;
}

function identities(list: { label: string; value: string }[] | null | undefined): Identity[] | null | undefined {
  if (list === undefined || list === null) return list;
  if (list.length > SUBJECT_LIMITS.identitiesMax) throw badInput('identities', `at most ${SUBJECT_LIMITS.identitiesMax} identities`);
  const seen = new Set<string>();
  return list.map((identity, index) => {
    const label = validIdentityLabel(identity.label, `identities[${index}].label`);
    if (label.startsWith('coffer.')) throw badInput(`identities[${index}].label`, 'must not start with coffer. (reserved)');
    const value = text(identity.value, `identities[${index}].value`, SUBJECT_LIMITS.identityValueMax);
    if (!value) throw badInput(`identities[${index}].value`, 'must not be empty');
    const key = JSON.stringify([label, value]);
    if (seen.has(key)) throw badInput(`identities[${index}]`, 'repeats an earlier identity');
    seen.add(key);
    return { label, value };
  });
}

/** Validates and normalises subject input; absent fields stay undefined, null clears (attributes null → {}). */
export function validSubjectInput(input: SubjectInputShape, prefix = 'input'): SubjectValues {
  const values: SubjectValues = {};
  if (input.externalId !== undefined) values.externalId = text(input.externalId, `${prefix}.externalId`, SUBJECT_LIMITS.externalIdMax);
  if (input.email !== undefined) values.email = input.email === null ? null : normaliseEmail(input.email, `${prefix}.email`);
  if (input.phone !== undefined) values.phone = input.phone === null ? null : normalisePhone(input.phone, { field: `${prefix}.phone` });
  if (input.fullName !== undefined) values.fullName = text(input.fullName, `${prefix}.fullName`, SUBJECT_LIMITS.fullNameMax);
  if (input.attributes !== undefined) values.attributes = input.attributes === null ? {} : validAttributes(input.attributes, `${prefix}.attributes`);
  if (input.identities !== undefined) values.identities = identities(input.identities);
  return values;
}

/** Which lookup entries belong to a field (entries are `<kind>:<hash>`). */
export function entryBelongsTo(entry: string, field: ReadableField): boolean {
  if (field === 'email') return entry.startsWith('email:');
  if (field === 'phone') return entry.startsWith('phone:');
  if (field === 'identities') return entry.startsWith('identity:');
  return false;
}

export const emailEntry = (indexKey: Buffer, email: string) => `email:${blindIndex(indexKey, 'email', email)}`;
export const phoneEntry = (indexKey: Buffer, phone: string) => `phone:${blindIndex(indexKey, 'phone', phone)}`;
export const identityEntry = (indexKey: Buffer, identity: Identity) => {
  const kind = identityKind(identity.label);
  return `${kind}:${blindIndex(indexKey, kind, identity.value)}`;
};
export const externalKeyOf = (indexKey: Buffer, externalId: string) => `x:${blindIndex(indexKey, EXTERNAL_ID_KIND, externalId)}`;

/** Blind-index entries for the given values (only the fields present). */
export function lookupEntries(indexKey: Buffer, values: SubjectValues): string[] {
  const entries: string[] = [];
  if (values.email) entries.push(emailEntry(indexKey, values.email));
  if (values.phone) entries.push(phoneEntry(indexKey, values.phone));
  for (const identity of values.identities ?? []) entries.push(identityEntry(indexKey, identity));
  return [...new Set(entries)];
}

/** Processing of the subject is restricted (Art. 18): FORBIDDEN with reason RESTRICTED. */
export function restricted(): Error {
  return appError('FORBIDDEN', 'Processing of this data subject is restricted (GDPR Art. 18); only export, erasure, lifting the restriction and reads for legal_claims are allowed', {
    reason: 'RESTRICTED',
  });
}
