import type { JsonObject, JsonValue } from './attributes.js';
import type { ContactChannel } from './contact-points.js';
import type { DsrStatus, DsrType } from './dsr-state.js';
import { effectiveDueAt } from './gdpr-deadline.js';

/**
 * The subject export (GDPR Art. 15 access, Art. 20 portability): one versioned JSON
 * document per data subject, described in docs/privacy-export-format.md.
 *
 * The builder is deterministic: the same facts give byte-identical JSON whatever order
 * they were read in. Keys appear in a fixed order, object keys inside `attributes` are
 * sorted, lists are sorted (by time, then by a tie-breaker), every instant is an ISO 8601
 * UTC string with milliseconds, and an absent optional value is `null`, never missing.
 * String ordering is by UTF-16 code units, never locale-dependent.
 */

export const SUBJECT_EXPORT_FORMAT = 'coffer.subject-export';
export const SUBJECT_EXPORT_VERSION = 1;

/** Who read or changed the subject's data. */
export const ACCESS_ACTOR_TYPES = ['USER', 'API_KEY', 'SYSTEM'] as const;
export type AccessActorType = (typeof ACCESS_ACTOR_TYPES)[number];

/** Version 1 of the export document. */
export interface SubjectExportV1 {
  format: typeof SUBJECT_EXPORT_FORMAT;
  version: typeof SUBJECT_EXPORT_VERSION;
  exportedAt: string;
  tenant: { id: string; name: string };
  subject: {
    id: string;
    createdAt: string;
    updatedAt: string | null;
    displayName: string | null;
    email: string | null;
    phone: string | null;
    attributes: JsonObject;
    identities: { label: string; value: string }[];
  };
  restriction: { restricted: boolean; since: string | null; reason: string | null };
  accessLog: { at: string; actor: { type: AccessActorType; id: string | null }; action: string; purpose: string | null }[];
  requests: {
    id: string;
    type: DsrType;
    status: DsrStatus;
    receivedAt: string;
    dueAt: string;
    extension: { months: number; reason: string; decidedAt: string } | null;
    closedAt: string | null;
  }[];
  consent: {
    purpose: string;
    granted: boolean;
    at: string;
    source: string | null;
    channel: string | null;
    method: string | null;
    noticeVersion: number | null;
    gpc: boolean;
    receiptId: string | null;
    receipt: string | null;
  }[];
  optOuts: { channel: ContactChannel | string; at: string; purpose: string | null; optedOut: boolean; reason: string | null; source: string | null; receiptId: string | null; receipt: string | null }[];
}

/** Consent-ledger facts of the subject (the consent module supplies them; extra fields are optional). */
export interface ConsentExportEntry {
  purpose: string;
  granted: boolean;
  at: Date;
  source?: string | null;
  channel?: string | null;
  method?: string | null;
  noticeVersion?: number | null;
  gpc?: boolean;
  receiptId?: string | null;
  receipt?: string | null;
}
export interface OptOutExportEntry {
  channel: ContactChannel | string;
  at: Date;
  purpose?: string | null;
  optedOut?: boolean;
  reason?: string | null;
  source?: string | null;
  receiptId?: string | null;
  receipt?: string | null;
}

/** The facts the export is built from, as services hold them (dates as Date, optional values optional). */
export interface SubjectExportInput {
  exportedAt: Date;
  tenant: { id: string; name: string };
  subject: {
    id: string;
    createdAt: Date;
    updatedAt?: Date | null;
    displayName?: string | null;
    email?: string | null;
    phone?: string | null;
    attributes?: JsonObject | null;
    identities?: { label: string; value: string }[];
  };
  restriction?: { since: Date; reason?: string | null } | null;
  accessLog?: { at: Date; actor: { type: AccessActorType; id?: string | null }; action: string; purpose?: string | null }[];
  requests?: {
    id: string;
    type: DsrType;
    status: DsrStatus;
    receivedAt: Date;
    extension?: { months: number; reason: string; decidedAt: Date } | null;
    closedAt?: Date | null;
  }[];
  consent?: ConsentExportEntry[];
  optOuts?: OptOutExportEntry[];
}

function instant(date: Date, what: string): string {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw new Error(`${what} must be a valid date`);
  return date.toISOString();
}

const optionalInstant = (date: Date | null | undefined, what: string): string | null => (date == null ? null : instant(date, what));

/** Code-unit order over several keys: deterministic in every locale. */
function byKeys<T>(...keys: ((item: T) => string)[]): (a: T, b: T) => number {
  return (a, b) => {
    for (const key of keys) {
      const left = key(a);
      const right = key(b);
      if (left !== right) return left < right ? -1 : 1;
    }
    return 0;
  };
}

/** A copy of a JSON value with every object's keys in code-unit order. */
export function canonicalJson(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(canonicalJson);
  if (value === null || typeof value !== 'object') return value;
  const sorted: JsonObject = {};
  for (const key of Object.keys(value).sort()) {
    Object.defineProperty(sorted, key, { value: canonicalJson(value[key]!), enumerable: true, writable: true, configurable: true });
  }
  return sorted;
}

/** Builds the version-1 export document from the subject's facts (see the module comment for the determinism rules). */
export function buildSubjectExport(input: SubjectExportInput): SubjectExportV1 {
  const { subject } = input;
  return {
    format: SUBJECT_EXPORT_FORMAT,
    version: SUBJECT_EXPORT_VERSION,
    exportedAt: instant(input.exportedAt, 'exportedAt'),
    tenant: { id: input.tenant.id, name: input.tenant.name },
    subject: {
      id: subject.id,
      createdAt: instant(subject.createdAt, 'subject.createdAt'),
      updatedAt: optionalInstant(subject.updatedAt, 'subject.updatedAt'),
      displayName: subject.displayName ?? null,
      email: subject.email ?? null,
      phone: subject.phone ?? null,
      attributes: canonicalJson(subject.attributes ?? {}) as JsonObject,
      identities: (subject.identities ?? [])
        .map((identity) => ({ label: identity.label, value: identity.value }))
        .sort(byKeys((i) => i.label, (i) => i.value)),
    },
    restriction: input.restriction
      ? { restricted: true, since: instant(input.restriction.since, 'restriction.since'), reason: input.restriction.reason ?? null }
      : { restricted: false, since: null, reason: null },
    accessLog: (input.accessLog ?? [])
      .map((entry) => ({
        at: instant(entry.at, 'accessLog.at'),
        actor: { type: entry.actor.type, id: entry.actor.id ?? null },
        action: entry.action,
        purpose: entry.purpose ?? null,
      }))
      .sort(byKeys((e) => e.at, (e) => e.action, (e) => e.actor.type, (e) => e.actor.id ?? '', (e) => e.purpose ?? '')),
    requests: (input.requests ?? [])
      .map((request) => ({
        id: request.id,
        type: request.type,
        status: request.status,
        receivedAt: instant(request.receivedAt, 'requests.receivedAt'),
        dueAt: effectiveDueAt({ receivedAt: request.receivedAt, extension: request.extension ?? null }).toISOString(),
        extension: request.extension
          ? {
              months: request.extension.months,
              reason: request.extension.reason,
              decidedAt: instant(request.extension.decidedAt, 'requests.extension.decidedAt'),
            }
          : null,
        closedAt: optionalInstant(request.closedAt, 'requests.closedAt'),
      }))
      .sort(byKeys((r) => r.receivedAt, (r) => r.id)),
    consent: (input.consent ?? [])
      .map((entry) => ({
        purpose: entry.purpose,
        granted: entry.granted,
        at: instant(entry.at, 'consent.at'),
        source: entry.source ?? null,
        channel: entry.channel ?? null,
        method: entry.method ?? null,
        noticeVersion: entry.noticeVersion ?? null,
        gpc: entry.gpc ?? false,
        receiptId: entry.receiptId ?? null,
        receipt: entry.receipt ?? null,
      }))
      .sort(byKeys((c) => c.at, (c) => c.purpose, (c) => String(c.granted), (c) => c.source ?? '', (c) => c.receiptId ?? '')),
    optOuts: (input.optOuts ?? [])
      .map((entry) => ({
        channel: entry.channel,
        at: instant(entry.at, 'optOuts.at'),
        purpose: entry.purpose ?? null,
        optedOut: entry.optedOut ?? true,
        reason: entry.reason ?? null,
        source: entry.source ?? null,
        receiptId: entry.receiptId ?? null,
        receipt: entry.receipt ?? null,
      }))
      .sort(byKeys((o) => o.at, (o) => o.channel, (o) => o.receiptId ?? '')),
  };
}

/** The export as bytes-to-be: pretty JSON (2 spaces) with a final newline, UTF-8 when written. */
export function serialiseSubjectExport(document: SubjectExportV1): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** A download file name that names no personal data: `coffer-subject-export-<subjectId>-<yyyymmddThhmmssZ>.json`. */
export function subjectExportFileName(document: Pick<SubjectExportV1, 'subject' | 'exportedAt'>): string {
  const stamp = document.exportedAt.replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  const id = document.subject.id.replace(/[^A-Za-z0-9_-]/g, '_');
  return `coffer-subject-export-${id}-${stamp}.json`;
}
