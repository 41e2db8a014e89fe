import { badInput } from '../../errors.js';
import { CHANNELS, CONSENT_METHODS, LEGAL_BASES, OPT_OUT_REASONS, OPT_OUT_SOURCES, type Channel, type ConsentMethod, type LegalBasis, type OptOutReason, type OptOutSource } from './consent-vocab.js';

/** Input rules of the consent module; errors name the field and never quote what was sent. */

export const CONSENT_LIMITS = {
  nameMax: 200,
  descriptionMax: 2000,
  noticeMax: 20_000,
  ipMax: 64,
  userAgentMax: 512,
  evidenceMax: 2000,
  manyMax: 1000,
  historyMax: 200,
} as const;

const PURPOSE_KEY = /^[a-z][a-z0-9_.-]{1,63}$/;
const SUBJECT_ID = /^ds_[0-9a-f]{24}$/;

export function validPurposeKey(key: unknown, field = 'purpose'): string {
  if (typeof key !== 'string' || !PURPOSE_KEY.test(key)) throw badInput(field, 'must be a purpose key of 2–64 characters: a-z, 0-9, _ . - starting with a letter (e.g. newsletter)');
  return key;
}

export function validText(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string') throw badInput(field, 'must be text');
  const trimmed = value.trim().normalize('NFC');
  if (!trimmed) throw badInput(field, 'must not be empty');
  if (trimmed.length > max) throw badInput(field, `must be at most ${max} characters`);
  return trimmed;
}

function member<T extends string>(values: readonly T[], value: unknown, field: string): T {
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) throw badInput(field, `must be one of ${values.join(', ')}`);
  return value as T;
}

export const validLegalBasis = (v: unknown, field = 'legalBasis'): LegalBasis => member(LEGAL_BASES, v, field);
export const validChannel = (v: unknown, field = 'channel'): Channel => member(CHANNELS, v, field);
export const validMethod = (v: unknown, field = 'method'): ConsentMethod => member(CONSENT_METHODS, v, field);
export const validReason = (v: unknown, field = 'reason'): OptOutReason => member(OPT_OUT_REASONS, v, field);
export const validSource = (v: unknown, field = 'source'): OptOutSource => member(OPT_OUT_SOURCES, v, field);

export function isSubjectId(id: unknown): id is string {
  return typeof id === 'string' && SUBJECT_ID.test(id);
}

/** Proof of a decision (personal data: sealed under the subject key). */
export interface ProofInput {
  ip?: string | null;
  userAgent?: string | null;
  capturedAt?: Date | null;
  evidence?: string | null;
}

export interface Proof {
  ip: string | null;
  userAgent: string | null;
  capturedAt: string | null;
  evidence: string | null;
}

export function validProof(input: ProofInput | null | undefined, field = 'proof'): Proof | null {
  if (!input) return null;
  const opt = (value: string | null | undefined, name: string, max: number) => (value == null || value === '' ? null : validText(value, `${field}.${name}`, max));
  const capturedAt = input.capturedAt ?? null;
  if (capturedAt !== null && (!(capturedAt instanceof Date) || Number.isNaN(capturedAt.getTime()))) throw badInput(`${field}.capturedAt`, 'must be a date-time');
  if (capturedAt !== null && capturedAt.getTime() > Date.now() + 5 * 60_000) throw badInput(`${field}.capturedAt`, 'must not be in the future');
  const proof = {
    ip: opt(input.ip, 'ip', CONSENT_LIMITS.ipMax),
    userAgent: opt(input.userAgent, 'userAgent', CONSENT_LIMITS.userAgentMax),
    capturedAt: capturedAt?.toISOString() ?? null,
    evidence: opt(input.evidence, 'evidence', CONSENT_LIMITS.evidenceMax),
  };
  return Object.values(proof).every((v) => v === null) ? null : proof;
}
