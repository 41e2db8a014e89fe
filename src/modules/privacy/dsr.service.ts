import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { Binary, type UpdateFilter } from 'mongodb';
import { fromCursor, toCursor } from '../../db/cursor.js';
import { IntegrityError } from '../../crypto/aes-gcm.js';
import { AppError, appError, badInput, notFound } from '../../errors.js';
import type { TenantCaller } from '../../identity/caller.js';
import type { Logger } from '../../logger.js';
import { auditEvent } from '../audit/audit-builder.js';
import type { AuditSink } from '../audit/audit-event.js';
import { isDsrStatus, isDsrType, isFinalStatus, transition, type DsrStatus, type DsrType } from './dsr-state.js';
import { dsrField, DSR_SEALED_FIELDS, type DsrDoc, type DsrSealedField } from './dsr.document.js';
import type { DsrQuery, DsrRepository } from './dsr.repository.js';
import { ERASURE_REASON_CODES, type ErasureReasonCode } from './erasure-receipt.js';
import { dueAt as originalDueAt, extensionAllowed, isOverdue, EXTENSION_REASON_MAX } from './gdpr-deadline.js';
import { openSubjectField, sealSubjectField } from './subject-cipher.js';
import type { SubjectExportInput, SubjectExportV1 } from './subject-export.js';
import type { SubjectKeyStore } from './subject-keys.js';
import type { ErasureOutcome, SubjectErasureService } from './subject-erasure.service.js';
import { accessorOf, subjectNotFound, type SubjectService } from './subject.service.js';
import type { DataSubjectDoc } from './subject.document.js';
import type { SubjectRepository } from './subject.repository.js';

/**
 * Data-subject requests (GDPR Art. 12, 15–21): recorded with their deadline, moved through
 * dsr-state.ts with a compare-and-set on the revision (concurrent moves: one winner, the others
 * CONFLICT), extended once, completed (ACCESS/PORTABILITY hand out the export, ERASURE runs the
 * crypto-shredding erasure and keeps its receipt) or rejected. Free text is sealed under the
 * subject key; audit events hold ids, codes, instants and counts only.
 */

export interface DsrServiceDeps {
  dsrOf: (tenantId: string) => DsrRepository;
  subjectsOf: (tenantId: string) => SubjectRepository;
  keyStore: SubjectKeyStore;
  subjects: SubjectService;
  erasure: SubjectErasureService;
  audit: AuditSink;
  logger: Logger;
  /** The clock (tests pin it to exercise deadlines). */
  now: () => Date;
}

/** Earliest receipt date accepted (an older one is a typo, not a request). */
export const DSR_EARLIEST_RECEIPT = new Date('2000-01-01T00:00:00.000Z');
/** Longest notes, in characters. */
export const DSR_NOTES_MAX = 4000;
/** Page size bounds of the listing. */
export const DSR_PAGE_MAX = 100;
/** Largest `dueWithinDays` a listing accepts. */
export const DSR_DUE_WITHIN_MAX = 365;
/** Tolerated clock skew for `receivedAt` ("now" on the client may be a little ahead). */
const RECEIPT_SKEW_MS = 5 * 60_000;
const DAY_MS = 86_400_000;
const OPEN_STATUSES: readonly DsrStatus[] = ['RECEIVED', 'IN_PROGRESS'];

/** A request as callers see it; the sealed texts only when asked for and still readable. */
export interface DsrView {
  id: string;
  subjectId: string;
  type: DsrType;
  status: DsrStatus;
  receivedAt: Date;
  dueAt: Date;
  originalDueAt: Date;
  overdue: boolean;
  extension: { months: number; decidedAt: Date; reason: string | null } | null;
  notes: string | null;
  rejectionReason: string | null;
  createdAt: Date;
  startedAt: Date | null;
  closedAt: Date | null;
  exportProducedAt: Date | null;
  erasureReceipt: string | null;
  revision: number;
}

export interface DsrFilter {
  status?: DsrStatus | null;
  type?: DsrType | null;
  overdue?: boolean | null;
  dueWithinDays?: number | null;
}

export interface DsrPage {
  items: DsrView[];
  hasNextPage: boolean;
  totalCount: number;
  cursorOf: (item: DsrView) => string;
}

export interface DsrCompletion {
  request: DsrView;
  export: { document: SubjectExportV1; fileName: string } | null;
  erasure: ErasureOutcome | null;
}

export const requestNotFound = () => notFound('Data-subject request');

function validText(value: string | null | undefined, field: string, max: number, required: boolean): string | null {
  if (value !== null && value !== undefined && typeof value !== 'string') throw badInput(field, 'must be text');
  const text = (value ?? '').trim();
  if (text.length === 0) {
    if (required) throw badInput(field, 'is required');
    return null;
  }
  if (text.length > max) throw badInput(field, `must be at most ${max} characters`);
  return text;
}

function validReceivedAt(value: Date, now: Date): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw badInput('input.receivedAt', 'must be a date-time');
  if (value.getTime() < DSR_EARLIEST_RECEIPT.getTime()) throw badInput('input.receivedAt', 'must not be before 2000-01-01');
  if (value.getTime() > now.getTime() + RECEIPT_SKEW_MS) throw badInput('input.receivedAt', 'must not be in the future');
  return value;
}

const validId = (id: unknown): id is string => typeof id === 'string' && /^dsr_[0-9a-f]{24}$/.test(id);

export class DsrService {
  constructor(private readonly deps: DsrServiceDeps) {}

  async create(caller: TenantCaller, input: { subjectId: string; type: DsrType; receivedAt: Date; notes?: string | null }): Promise<DsrView> {
    const now = this.deps.now();
    if (!isDsrType(input.type)) throw badInput('input.type', 'is not a request type');
    const receivedAt = validReceivedAt(input.receivedAt, now);
    const notes = validText(input.notes, 'input.notes', DSR_NOTES_MAX, false);
    const subjects = this.deps.subjectsOf(caller.tenantId);
    const subject = await this.liveSubject(subjects, input.subjectId);
    const id = `dsr_${randomBytes(12).toString('hex')}`;
    const sealed: DsrDoc['sealed'] = {};
    if (notes !== null) sealed.notes = await this.seal(subjects, subject, id, 'notes', notes);
    const due = originalDueAt(receivedAt);
    const doc = await this.deps.dsrOf(caller.tenantId).insert({
      _id: id,
      subjectId: subject._id,
      keyId: subject.keyId,
      type: input.type,
      status: 'RECEIVED',
      receivedAt,
      dueAt: due,
      originalDueAt: due,
      extension: null,
      sealed,
      createdAt: now,
      createdBy: accessorOf(caller),
      startedAt: null,
      closedAt: null,
      exportProduced: null,
      erasure: null,
      revision: 1,
    });
    await this.deps.audit.append(auditEvent('dsr.created', { caller, resource: { id }, details: { subjectId: subject._id, type: input.type, dueAt: due.toISOString() } }));
    return this.view(doc, now, { notes });
  }

  /**
   * Requests in deadline order. `overdue` and `dueWithinDays` look at open requests (RECEIVED,
   * IN_PROGRESS) only and are ranges on the tenantId+status+dueAt index.
   */
  async list(caller: TenantCaller, filter: DsrFilter, first: number | null | undefined, after: string | null | undefined, withText: boolean): Promise<DsrPage> {
    const size = first ?? 50;
    if (!Number.isInteger(size) || size < 1 || size > DSR_PAGE_MAX) throw badInput('first', `must be 1 to ${DSR_PAGE_MAX}`);
    const cursor = this.decodeCursor(after);
    const now = this.deps.now();
    if (filter.status != null && !isDsrStatus(filter.status)) throw badInput('filter.status', 'is not a request status');
    if (filter.type != null && !isDsrType(filter.type)) throw badInput('filter.type', 'is not a request type');
    const query: DsrQuery = { statuses: filter.status ? [filter.status] : null, type: filter.type ?? null, dueFrom: null, dueTo: null, dueBefore: null };
    const deadlineFilter = filter.overdue === true || (filter.dueWithinDays !== null && filter.dueWithinDays !== undefined);
    if (deadlineFilter) {
      if (filter.status && !OPEN_STATUSES.includes(filter.status)) throw badInput('filter.status', 'overdue and dueWithinDays concern open requests (RECEIVED, IN_PROGRESS) only');
      query.statuses ??= OPEN_STATUSES;
    }
    if (filter.overdue === true && filter.dueWithinDays != null) throw badInput('filter', 'give overdue or dueWithinDays, not both');
    if (filter.overdue === true) query.dueBefore = now;
    if (filter.overdue === false) {
      query.statuses ??= OPEN_STATUSES;
      query.dueFrom = now;
    }
    if (filter.dueWithinDays != null) {
      const days = filter.dueWithinDays;
      if (!Number.isInteger(days) || days < 0 || days > DSR_DUE_WITHIN_MAX) throw badInput('filter.dueWithinDays', `must be 0 to ${DSR_DUE_WITHIN_MAX}`);
      query.dueFrom = now;
      query.dueTo = new Date(now.getTime() + days * DAY_MS);
    }
    const repo = this.deps.dsrOf(caller.tenantId);
    const [docs, totalCount] = await Promise.all([repo.list(query, cursor, size + 1), repo.count(query)]);
    const page = docs.slice(0, size);
    const texts = withText ? await this.openTexts(caller, page) : new Map<string, Partial<Record<DsrSealedField, string>>>();
    return {
      items: page.map((doc) => this.view(doc, now, texts.get(doc._id) ?? {})),
      hasNextPage: docs.length > size,
      totalCount,
      cursorOf: (item) => toCursor(`${item.dueAt.toISOString()}|${item.id}`),
    };
  }

  /** RECEIVED → IN_PROGRESS. */
  async start(caller: TenantCaller, id: string): Promise<DsrView> {
    const repo = this.deps.dsrOf(caller.tenantId);
    const doc = await this.find(repo, id);
    const to = transition(doc.status, 'START');
    const now = this.deps.now();
    const updated = await this.move(repo, doc, { $set: { status: to, startedAt: now } });
    await this.deps.audit.append(auditEvent('dsr.started', { caller, resource: { id: doc._id }, details: { subjectId: doc.subjectId, type: doc.type } }));
    return this.view(updated, now, {});
  }

  /** One extension (Art. 12(3)) of 1 or 2 further months, with a reason, before the original deadline. */
  async extend(caller: TenantCaller, id: string, reason: string, months: number): Promise<DsrView> {
    const repo = this.deps.dsrOf(caller.tenantId);
    const doc = await this.find(repo, id);
    if (isFinalStatus(doc.status)) throw appError('CONFLICT', `Cannot extend a request that is ${doc.status} (the request is closed)`, { status: doc.status });
    const now = this.deps.now();
    const decision = extensionAllowed({ receivedAt: doc.receivedAt, extension: doc.extension ? { ...doc.extension, reason: '' } : null }, now, months, reason);
    if (!decision.allowed) {
      const code = decision.refusal === 'ALREADY_EXTENDED' || decision.refusal === 'ORIGINAL_DEADLINE_PASSED' ? 'CONFLICT' : 'BAD_USER_INPUT';
      throw appError(code, `extension refused: ${decision.message}`, { reason: decision.refusal });
    }
    const subjects = this.deps.subjectsOf(caller.tenantId);
    const subject = await this.liveSubject(subjects, doc.subjectId);
    const blob = await this.seal(subjects, subject, doc._id, 'extensionReason', decision.reason);
    const updated = await this.move(repo, doc, { $set: { extension: { months: decision.months, decidedAt: now }, dueAt: decision.dueAt, 'sealed.extensionReason': blob } });
    await this.deps.audit.append(
      auditEvent('dsr.extended', { caller, resource: { id: doc._id }, details: { subjectId: doc.subjectId, type: doc.type, months: decision.months, dueAt: decision.dueAt.toISOString() } }),
    );
    return this.view(updated, now, { extensionReason: decision.reason });
  }

  /**
   * IN_PROGRESS → COMPLETED. ACCESS and PORTABILITY produce the export (returned here, recorded
   * as produced, never stored); ERASURE runs the erasure (idempotent) and keeps its receipt.
   */
  async complete(caller: TenantCaller, id: string, erasureReason: ErasureReasonCode | null | undefined): Promise<DsrCompletion> {
    const repo = this.deps.dsrOf(caller.tenantId);
    const doc = await this.find(repo, id);
    const to = transition(doc.status, 'COMPLETE');
    if (erasureReason != null && doc.type !== 'ERASURE') throw badInput('erasureReason', 'applies to ERASURE requests only');
    if (erasureReason != null && !(ERASURE_REASON_CODES as readonly string[]).includes(erasureReason)) throw badInput('erasureReason', 'is not a known erasure reason code');
    let exported: DsrCompletion['export'] = null;
    let erasure: DsrCompletion['erasure'] = null;
    const set: Record<string, unknown> = { status: to };
    if (doc.type === 'ACCESS' || doc.type === 'PORTABILITY') {
      exported = await this.subjectStep(() => this.deps.subjects.export(caller, doc.subjectId));
    } else if (doc.type === 'ERASURE') {
      erasure = await this.subjectStep(() => this.deps.erasure.erase(caller, doc.subjectId, erasureReason ?? 'TENANT_DECISION', { requestId: doc._id }));
      if (!erasure.receipt) throw appError('SERVICE_UNAVAILABLE', 'The erasure has not finished; complete the request again');
    }
    const now = this.deps.now();
    set.closedAt = now;
    if (exported) set.exportProduced = { at: now, fileName: exported.fileName };
    let receiptId: string | undefined;
    if (erasure?.receipt) {
      receiptId = String(decodeJwt(erasure.receipt).receiptId ?? '');
      set.erasure = { receipt: erasure.receipt, receiptId, erasedAt: erasure.erasedAt };
    }
    const updated = await this.move(repo, doc, { $set: set });
    await this.deps.audit.append(
      auditEvent('dsr.completed', {
        caller,
        resource: { id: doc._id },
        details: { subjectId: doc.subjectId, type: doc.type, exportProduced: exported !== null, ...(receiptId ? { erasureReceiptId: receiptId } : {}) },
      }),
    );
    return { request: this.view(updated, now, {}), export: exported, erasure };
  }

  /** RECEIVED or IN_PROGRESS → REJECTED (Art. 12(5)), with a reason sealed under the subject key (dropped if the subject is already erased). */
  async reject(caller: TenantCaller, id: string, reason: string): Promise<DsrView> {
    const text = validText(reason, 'reason', EXTENSION_REASON_MAX, true)!;
    const repo = this.deps.dsrOf(caller.tenantId);
    const doc = await this.find(repo, id);
    const to = transition(doc.status, 'REJECT');
    const subjects = this.deps.subjectsOf(caller.tenantId);
    const subject = await subjects.findSubject(doc.subjectId);
    const set: Record<string, unknown> = { status: to, closedAt: this.deps.now() };
    if (subject && subject.status === 'ACTIVE') set['sealed.rejectionReason'] = await this.seal(subjects, subject, doc._id, 'rejectionReason', text);
    const updated = await this.move(repo, doc, { $set: set });
    await this.deps.audit.append(auditEvent('dsr.rejected', { caller, resource: { id: doc._id }, details: { subjectId: doc.subjectId, type: doc.type, from: doc.status } }));
    return this.view(updated, this.deps.now(), { rejectionReason: set['sealed.rejectionReason'] ? text : null });
  }

  /** A subject's requests as its export lists them (reasons opened with the subject key). */
  async forExport(tenantId: string, subject: DataSubjectDoc): Promise<NonNullable<SubjectExportInput['requests']>> {
    const docs = await this.deps.dsrOf(tenantId).ofSubject(subject._id);
    const key = await this.deps.keyStore.subjectKey(this.deps.subjectsOf(tenantId), subject._id, subject.keyId);
    try {
      return docs.map((doc) => {
        const reason = key && doc.sealed.extensionReason ? this.openWith(key, tenantId, doc, 'extensionReason') : null;
        return {
          id: doc._id,
          type: doc.type,
          status: doc.status,
          receivedAt: doc.receivedAt,
          extension: doc.extension ? { months: doc.extension.months, decidedAt: doc.extension.decidedAt, reason: reason ?? '' } : null,
          closedAt: doc.closedAt,
        };
      });
    } finally {
      key?.fill(0);
    }
  }

  private async subjectStep<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      if (error instanceof AppError && error.code === 'NOT_FOUND') {
        throw appError('CONFLICT', 'The data subject has been erased or is being erased; reject the request instead', { reason: 'SUBJECT_ERASED' });
      }
      throw error;
    }
  }

  private async find(repo: DsrRepository, id: string): Promise<DsrDoc> {
    if (!validId(id)) throw requestNotFound();
    const doc = await repo.find(id);
    if (!doc) throw requestNotFound();
    return doc;
  }

  /** The compare-and-set of every move: CONFLICT when another caller moved the request first. */
  private async move(repo: DsrRepository, doc: DsrDoc, update: UpdateFilter<DsrDoc>): Promise<DsrDoc> {
    const updated = await repo.update(doc._id, doc.revision, doc.status, update);
    if (updated) return updated;
    const current = await repo.find(doc._id);
    throw appError('CONFLICT', 'The request changed meanwhile; read it again and retry', { status: current?.status ?? null });
  }

  private async liveSubject(subjects: SubjectRepository, subjectId: string): Promise<DataSubjectDoc> {
    if (typeof subjectId !== 'string' || !/^ds_[0-9a-f]{24}$/.test(subjectId)) throw subjectNotFound();
    const subject = await subjects.findSubject(subjectId);
    if (!subject || subject.status !== 'ACTIVE') throw subjectNotFound();
    return subject;
  }

  private async seal(subjects: SubjectRepository, subject: DataSubjectDoc, requestId: string, field: DsrSealedField, text: string): Promise<Binary> {
    const key = await this.deps.keyStore.subjectKey(subjects, subject._id, subject.keyId);
    if (!key) throw subjectNotFound();
    try {
      return new Binary(sealSubjectField(key, { tenantId: subjects.tenantId, subjectId: subject._id, field: dsrField(requestId, field) }, text));
    } finally {
      key.fill(0);
    }
  }

  private openWith(key: Buffer, tenantId: string, doc: DsrDoc, field: DsrSealedField): string | null {
    const blob = doc.sealed[field];
    if (!blob) return null;
    try {
      return openSubjectField(key, { tenantId, subjectId: doc.subjectId, field: dsrField(doc._id, field) }, Buffer.from(blob.buffer));
    } catch (error) {
      if (!(error instanceof IntegrityError)) throw error;
      this.deps.logger.error({ event: 'dsr.integrity_failure', tenantId, requestId: doc._id }, 'a sealed request field failed its integrity check');
      return null;
    }
  }

  /**
   * Opens the sealed texts of a page (subjects still live only: an erased subject's texts are
   * shredded) and records one data-access log entry per subject read.
   */
  private async openTexts(caller: TenantCaller, docs: DsrDoc[]): Promise<Map<string, Partial<Record<DsrSealedField, string>>>> {
    const out = new Map<string, Partial<Record<DsrSealedField, string>>>();
    const subjects = this.deps.subjectsOf(caller.tenantId);
    const read = new Set<string>();
    for (const doc of docs) {
      if (!DSR_SEALED_FIELDS.some((f) => doc.sealed[f])) continue;
      const subject = await subjects.findSubject(doc.subjectId);
      if (!subject || subject.status !== 'ACTIVE') continue;
      const key = await this.deps.keyStore.subjectKey(subjects, subject._id, subject.keyId);
      if (!key) continue;
      try {
        const texts: Partial<Record<DsrSealedField, string>> = {};
        for (const field of DSR_SEALED_FIELDS) texts[field] = this.openWith(key, caller.tenantId, doc, field) ?? undefined;
        out.set(doc._id, texts);
        read.add(doc.subjectId);
      } finally {
        key.fill(0);
      }
    }
    if (read.size > 0) {
      const at = new Date();
      const actor = accessorOf(caller);
      await subjects.recordAccess(
        [...read].map((subjectId) => ({
          _id: `acc_${randomBytes(12).toString('hex')}`,
          subjectId,
          at,
          actor,
          action: 'READ' as const,
          fields: ['requestNotes'],
          purpose: 'dsr_handling',
          ip: caller.request.ip,
          userAgent: caller.request.userAgent,
          requestId: caller.request.requestId || null,
        })),
      );
    }
    return out;
  }

  private decodeCursor(after: string | null | undefined): { dueAt: Date; id: string } | null {
    if (!after) return null;
    const [at, id] = fromCursor(after).split('|');
    const dueAt = new Date(at ?? '');
    if (!validId(id) || Number.isNaN(dueAt.getTime())) throw badInput('after', 'is not a cursor from this connection');
    return { dueAt, id };
  }

  private view(doc: DsrDoc, now: Date, texts: Partial<Record<DsrSealedField, string | null>>): DsrView {
    return {
      id: doc._id,
      subjectId: doc.subjectId,
      type: doc.type,
      status: doc.status,
      receivedAt: doc.receivedAt,
      dueAt: doc.dueAt,
      originalDueAt: doc.originalDueAt,
      overdue: !isFinalStatus(doc.status) && isOverdue({ receivedAt: doc.receivedAt, extension: doc.extension ? { ...doc.extension, reason: '' } : null }, now),
      extension: doc.extension ? { months: doc.extension.months, decidedAt: doc.extension.decidedAt, reason: texts.extensionReason ?? null } : null,
      notes: texts.notes ?? null,
      rejectionReason: texts.rejectionReason ?? null,
      createdAt: doc.createdAt,
      startedAt: doc.startedAt,
      closedAt: doc.closedAt,
      exportProducedAt: doc.exportProduced?.at ?? null,
      erasureReceipt: doc.erasure?.receipt ?? null,
      revision: doc.revision,
    };
  }
}
