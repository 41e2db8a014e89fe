import { badInput } from '../../errors.js';
import { assertStorableJson } from '../../db/storable-json.js';
import type { SecretDoc } from './secret.document.js';

/** Limits of the secret model, in one place. */
export const SECRET_LIMITS = {
  nameMax: 256,
  valueMaxBytes: 64 * 1024,
  descriptionMax: 1024,
  tagsMax: 50,
  tagMax: 64,
  metadataMaxBytes: 4 * 1024,
  maxVersionsDefault: 20,
  maxVersionsCeiling: 100,
  rotationIntervalDefault: 90,
  rotationWarningDefault: 7,
  rotationIntervalMax: 3650,
} as const;

const NAME = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;
const PREFIX = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*\/?$/;
const TAG = /^[A-Za-z0-9_.:=-]+$/;
const DAY_MS = 86_400_000;

/** Path-like: `[A-Za-z0-9_.-]` segments joined by `/`, at most 256 characters. */
export function validName(name: string, field = 'name'): string {
  if (name.length > SECRET_LIMITS.nameMax) throw badInput(field, `must be at most ${SECRET_LIMITS.nameMax} characters`);
  if (!NAME.test(name) || name.split('/').some((s) => s === '.' || s === '..')) {
    throw badInput(field, 'must be segments of letters, digits, _ . - joined by / (e.g. prod/db/password)');
  }
  return name;
}

/** A name prefix for listing or API-key scoping ("prod/" or "prod/db"); "*" means every name. */
export function validPrefix(prefix: string, field = 'prefix'): string {
  if (prefix === '*') return prefix;
  if (prefix.length > SECRET_LIMITS.nameMax || !PREFIX.test(prefix)) {
    throw badInput(field, 'must be a name prefix such as prod/ or prod/db, or * for everything');
  }
  return prefix;
}

export function validValue(value: string, field = 'value'): string {
  if (Buffer.byteLength(value, 'utf8') > SECRET_LIMITS.valueMaxBytes) throw badInput(field, 'must be at most 64 KiB (UTF-8)');
  return value;
}

export function validDescription(description: string): string {
  if (description.length > SECRET_LIMITS.descriptionMax) {
    throw badInput('description', `must be at most ${SECRET_LIMITS.descriptionMax} characters`);
  }
  return description;
}

export function validTags(tags: string[]): string[] {
  if (tags.length > SECRET_LIMITS.tagsMax) throw badInput('tags', `at most ${SECRET_LIMITS.tagsMax} tags`);
  for (const tag of tags) {
    if (!tag || tag.length > SECRET_LIMITS.tagMax || !TAG.test(tag)) {
      throw badInput('tags', `each tag is 1–${SECRET_LIMITS.tagMax} of letters, digits and _ . : = -`);
    }
  }
  return [...new Set(tags)];
}

/** Non-secret JSON object of at most 4 KiB. */
export function validMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  assertStorableJson(metadata, 'metadata');
  if (Buffer.byteLength(JSON.stringify(metadata), 'utf8') > SECRET_LIMITS.metadataMaxBytes) {
    throw badInput('metadata', 'must be at most 4 KiB as JSON');
  }
  if (hasReservedKey(metadata)) throw badInput('metadata', 'keys (at any depth) must not start with $ or contain . or NUL');
  return metadata;
}

/** MongoDB reserves `$…` and dotted field names; refuse them anywhere in the JSON. */
function hasReservedKey(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasReservedKey);
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([k, v]) => k.startsWith('$') || k.includes('.') || k.includes('\0') || hasReservedKey(v));
}

export function validRotation(intervalDays: number, warningDays: number): { intervalDays: number; warningDays: number } {
  if (!Number.isInteger(intervalDays) || intervalDays < 1 || intervalDays > SECRET_LIMITS.rotationIntervalMax) {
    throw badInput('rotationIntervalDays', `must be a whole number from 1 to ${SECRET_LIMITS.rotationIntervalMax}`);
  }
  if (!Number.isInteger(warningDays) || warningDays < 0 || warningDays >= intervalDays) {
    throw badInput('rotationWarningDays', 'must be a whole number from 0 to rotationIntervalDays − 1');
  }
  return { intervalDays, warningDays };
}

export function validMaxVersions(maxVersions: number): number {
  if (!Number.isInteger(maxVersions) || maxVersions < 1 || maxVersions > SECRET_LIMITS.maxVersionsCeiling) {
    throw badInput('maxVersions', `must be a whole number from 1 to ${SECRET_LIMITS.maxVersionsCeiling}`);
  }
  return maxVersions;
}

export function validExpiry(expiresAt: Date | null, now: Date): Date | null {
  if (expiresAt && Number.isNaN(expiresAt.getTime())) throw badInput('expiresAt', 'must be a date-time');
  if (expiresAt && expiresAt <= now) throw badInput('expiresAt', 'must be in the future');
  return expiresAt;
}

/** From this instant on, a secret is due for rotation. */
export function rotationDueAt(lastRotatedAt: Date, intervalDays: number, warningDays: number): Date {
  return new Date(lastRotatedAt.getTime() + (intervalDays - warningDays) * DAY_MS);
}

export const SECRET_STATUSES = ['ACTIVE', 'DELETED', 'EXPIRED', 'ROTATION_DUE'] as const;
export type SecretStatus = (typeof SECRET_STATUSES)[number];

/** One status per secret, by precedence: DELETED, EXPIRED, ROTATION_DUE, ACTIVE. */
export function secretStatus(doc: Pick<SecretDoc, 'deletedAt' | 'expiresAt' | 'rotationDueAt'>, now: Date): SecretStatus {
  if (doc.deletedAt) return 'DELETED';
  if (doc.expiresAt && doc.expiresAt <= now) return 'EXPIRED';
  if (doc.rotationDueAt <= now) return 'ROTATION_DUE';
  return 'ACTIVE';
}

export interface RotationView {
  intervalDays: number;
  warningDays: number;
  lastRotatedAt: Date;
  nextRotationAt: Date;
  daysUntilRotation: number;
  isRotationDue: boolean;
  isExpired: boolean;
}

export function rotationView(doc: SecretDoc, now: Date): RotationView {
  const nextRotationAt = new Date(doc.lastRotatedAt.getTime() + doc.rotationIntervalDays * DAY_MS);
  return {
    intervalDays: doc.rotationIntervalDays,
    warningDays: doc.rotationWarningDays,
    lastRotatedAt: doc.lastRotatedAt,
    nextRotationAt,
    daysUntilRotation: Math.ceil((nextRotationAt.getTime() - now.getTime()) / DAY_MS),
    isRotationDue: doc.rotationDueAt <= now,
    isExpired: !!doc.expiresAt && doc.expiresAt <= now,
  };
}

/**
 * An API-key scope as a path prefix: `prod/db` and `prod/db/` both mean "names
 * under prod/db/" (so prod/dbadmin/… is NOT included); `*` means every name.
 */
export function scopePrefix(prefix: string): string {
  return prefix === '*' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/** Whether an API key limited to `prefixes` may see `name` (null = no limit); prefixes match whole path segments. */
export function withinPrefixes(name: string, prefixes: readonly string[] | null): boolean {
  return prefixes === null || prefixes.some((p) => p === '*' || name.startsWith(scopePrefix(p)));
}
