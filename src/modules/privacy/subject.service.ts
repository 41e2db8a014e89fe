import { randomBytes } from 'node:crypto';
import { Binary, type UpdateFilter } from 'mongodb';
import { fromCursor, toCursor } from '../../db/cursor.js';
import { isDuplicateKey } from '../../db/mongo-errors.js';
import { IntegrityError } from '../../crypto/aes-gcm.js';
import { appError, badInput, conflict, forbidden, notFound } from '../../errors.js';
import type { TenantCaller } from '../../identity/caller.js';
import type { Logger } from '../../logger.js';
import { auditEvent } from '../audit/audit-builder.js';
import type { AuditSink } from '../audit/audit-event.js';
import type { JsonObject } from './attributes.js';
import { normaliseEmail, normalisePhone } from './contact-points.js';
import { openSubjectField, sealSubjectField } from './subject-cipher.js';
import type { SubjectKeyStore } from './subject-keys.js';
import {
  emailEntry,
  entryBelongsTo,
  externalKeyOf,
  identityEntry,
  lookupEntries,
  restricted,
  RESTRICTED_PURPOSE,
  SUBJECT_LIMITS,
  validPurpose,
  validReason,
  validSubjectInput,
  type Identity,
  type SubjectInputShape,
  type SubjectValues,
  phoneEntry,
} from './subject-rules.js';
import { buildSubjectExport, subjectExportFileName, type ConsentExportEntry, type OptOutExportEntry, type SubjectExportInput, type SubjectExportV1 } from './subject-export.js';
import { READABLE_FIELDS, type AccessAction, type AccessLogDoc, type AccessorRef, type DataSubjectDoc, type ReadableField, type SubjectField } from './subject.document.js';
import type { SubjectRepository } from './subject.repository.js';

export interface SubjectServiceDeps {
  subjectsOf: (tenantId: string) => SubjectRepository;
  keyStore: SubjectKeyStore;
  audit: AuditSink;
  logger: Logger;
  tenantName: (tenantId: string) => Promise<string>;
  /** The subject's data-subject requests, as its export lists them (dsr.service.ts). */
  requestsOf?: (tenantId: string, subject: DataSubjectDoc) => Promise<NonNullable<SubjectExportInput['requests']>>;
  /** Consent history and opt-outs with receipts, from the consent module (wired in services.ts; it depends on this one). */
  consentFacts?: (tenantId: string, subjectId: string) => Promise<{ consent: ConsentExportEntry[]; optOuts: OptOutExportEntry[] }>;
}

/** A subject as a caller sees it: only the personal fields that were read are set. */
export interface SubjectView extends SubjectValues {
  id: string;
  createdAt: Date;
  updatedAt: Date | null;
  revision: number;
  restrictedSince: Date | null;
}

export interface SubjectFilter {
  email?: string | null;
  phone?: string | null;
  externalId?: string | null;
  identity?: Identity | null;
}

/** A page of subjects or access-log entries, with the total the filter matches (counted only when asked for). */
export interface SubjectPage<T> {
  items: T[];
  hasNextPage: boolean;
  totalCount: () => Promise<number>;
  cursorOf: (item: T) => string;
}

/** Who read or asked, as the access log and erasure plans store it (an anonymous caller never reaches subjects). */
export function accessorOf(caller: TenantCaller): AccessorRef {
  const { type, id } = caller.actor;
  if (type === 'PUBLIC') throw forbidden('Data subjects need a signed-in member or an API key');
  return { type, id };
}

/** The subject is gone (erased, being erased) or never was in this tenant. */
export const subjectNotFound = () => notFound('Data subject');

const PLAIN_FIELDS = ['externalId', 'email', 'phone', 'fullName'] as const;

function serialise(field: ReadableField, values: SubjectValues): string | null {
  const value = values[field];
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function decodeAfter(after: string | null | undefined): string | null {
  if (!after) return null;
  const id = fromCursor(after);
  if (!/^ds_[0-9a-f]{24}$/.test(id)) throw badInput('after', 'is not a cursor from this connection');
  return id;
}

function pageSize(first: number | null | undefined, max: number): number {
  const size = first ?? 50;
  if (!Number.isInteger(size) || size < 1 || size > max) throw badInput('first', `must be 1 to ${max}`);
  return size;
}

/** Data subjects: create, rectify, read (always with a purpose, always logged), restrict, export. */
export class SubjectService {
  constructor(private readonly deps: SubjectServiceDeps) {}

  async create(caller: TenantCaller, input: SubjectInputShape): Promise<SubjectView> {
    const values = validSubjectInput(input);
    values.attributes ??= {};
    const repo = this.deps.subjectsOf(caller.tenantId);
    const id = `ds_${randomBytes(12).toString('hex')}`;
    const indexKey = await this.deps.keyStore.indexKey(repo);
    const externalKey = values.externalId ? externalKeyOf(indexKey, values.externalId) : `none:${id}`;
    if (values.externalId && (await repo.listSubjects({ externalKey }, null, 1)).length > 0) throw conflict('input.externalId: another data subject has this external id');
    const { keyId, key } = await this.deps.keyStore.createSubjectKey(repo, id);
    const now = new Date();
    try {
      await repo.insertSubject({
        _id: id,
        status: 'ACTIVE',
        keyId,
        sealed: this.sealAll(repo.tenantId, id, key, values),
        lookup: lookupEntries(indexKey, values),
        externalKey,
        restriction: null,
        createdAt: now,
        updatedAt: null,
        revision: 1,
        erasure: null,
      });
    } catch (error) {
      await this.deps.keyStore.destroy(repo, id, keyId);
      if (isDuplicateKey(error)) throw conflict('input.externalId: another data subject has this external id');
      throw error;
    } finally {
      key.fill(0);
      indexKey.fill(0);
    }
    const fields = READABLE_FIELDS.filter((f) => values[f] !== undefined && values[f] !== null);
    await this.deps.audit.append(auditEvent('subject.created', { caller, resource: { id }, details: { fields } }));
    return { id, createdAt: now, updatedAt: null, revision: 1, restrictedSince: null, ...values };
  }

  /** Rectification: replaces the given fields; audited with the names of the fields changed, never their values. */
  async update(caller: TenantCaller, input: SubjectInputShape & { id: string }): Promise<{ id: string; changedFields: ReadableField[]; updatedAt: Date; revision: number }> {
    const values = validSubjectInput(input);
    const changed = READABLE_FIELDS.filter((f) => values[f] !== undefined);
    if (changed.length === 0) throw badInput('input', 'name at least one field to change');
    const repo = this.deps.subjectsOf(caller.tenantId);
    const doc = await this.live(repo, input.id);
    if (doc.restriction) throw restricted();
    const key = await this.keyOf(repo, doc);
    const indexKey = await this.deps.keyStore.indexKey(repo);
    try {
      const set: Record<string, unknown> = { updatedAt: new Date() };
      const unset: Record<string, ''> = {};
      for (const field of changed) {
        const plaintext = serialise(field, values);
        if (plaintext === null) unset[`sealed.${field}`] = '';
        else set[`sealed.${field}`] = new Binary(sealSubjectField(key, { tenantId: repo.tenantId, subjectId: doc._id, field }, plaintext));
      }
      let lookup = doc.lookup.filter((entry) => !changed.some((field) => entryBelongsTo(entry, field)));
      if (values.email) lookup.push(emailEntry(indexKey, values.email));
      if (values.phone) lookup.push(phoneEntry(indexKey, values.phone));
      for (const identity of values.identities ?? []) lookup.push(identityEntry(indexKey, identity));
      lookup = [...new Set(lookup)];
      set.lookup = lookup;
      if (values.externalId !== undefined) {
        const externalKey = values.externalId ? externalKeyOf(indexKey, values.externalId) : `none:${doc._id}`;
        if (externalKey !== doc.externalKey && values.externalId && (await repo.listSubjects({ externalKey }, null, 1)).length > 0) {
          throw conflict('input.externalId: another data subject has this external id');
        }
        set.externalKey = externalKey;
      }
      const update: UpdateFilter<DataSubjectDoc> = { $set: set };
      if (Object.keys(unset).length) update.$unset = unset;
      let updated: DataSubjectDoc | null;
      try {
        updated = await repo.updateSubject(doc._id, doc.revision, update);
      } catch (error) {
        if (isDuplicateKey(error)) throw conflict('input.externalId: another data subject has this external id');
        throw error;
      }
      if (!updated) throw conflict('The data subject changed meanwhile; read it again and retry');
      await this.deps.audit.append(auditEvent('subject.updated', { caller, resource: { id: doc._id }, details: { fields: changed } }));
      return { id: doc._id, changedFields: changed, updatedAt: updated.updatedAt ?? new Date(), revision: updated.revision };
    } finally {
      key.fill(0);
      indexKey.fill(0);
    }
  }

  /** One subject's personal `fields`, read for `purpose` (logged and audited). */
  async read(caller: TenantCaller, id: string, purpose: string, fields: readonly ReadableField[]): Promise<SubjectView> {
    validPurpose(purpose);
    const repo = this.deps.subjectsOf(caller.tenantId);
    const doc = await this.live(repo, id);
    if (doc.restriction && purpose !== RESTRICTED_PURPOSE) throw restricted();
    const view = await this.open(repo, doc, fields);
    await this.recordReads(caller, repo, [doc._id], fields, purpose, 'READ');
    return view;
  }

  /**
   * Subjects in id order, optionally found by exact email, phone, external id or identity
   * (blind-index seeks). Restricted subjects are listed without personal fields unless the
   * purpose is legal_claims.
   */
  async list(
    caller: TenantCaller,
    filter: SubjectFilter,
    first: number | null | undefined,
    after: string | null | undefined,
    purpose: string,
    fields: readonly ReadableField[],
  ): Promise<SubjectPage<SubjectView>> {
    validPurpose(purpose);
    const size = pageSize(first, SUBJECT_LIMITS.pageMax);
    const cursor = decodeAfter(after);
    const given = [filter.email, filter.phone, filter.externalId, filter.identity].filter((v) => v !== undefined && v !== null).length;
    if (given > 1) throw badInput('filter', 'give at most one of email, phone, externalId, identity');
    const repo = this.deps.subjectsOf(caller.tenantId);
    const query: { lookup?: string; externalKey?: string } = {};
    if (given === 1) {
      const indexKey = await this.deps.keyStore.indexKey(repo);
      try {
        if (filter.email) query.lookup = emailEntry(indexKey, normaliseEmail(filter.email, 'filter.email'));
        else if (filter.phone) query.lookup = phoneEntry(indexKey, normalisePhone(filter.phone, { field: 'filter.phone' }));
        else if (filter.identity) {
          const [identity] = validSubjectInput({ identities: [filter.identity] }, 'filter').identities!;
          query.lookup = identityEntry(indexKey, identity!);
        } else if (filter.externalId) {
          const externalId = validSubjectInput({ externalId: filter.externalId }, 'filter').externalId!;
          query.externalKey = externalKeyOf(indexKey, externalId);
        }
      } finally {
        indexKey.fill(0);
      }
    }
    const docs = await repo.listSubjects(query, cursor, size + 1);
    // Counted only when the query selects totalCount (graphql/connection.ts): a count is another scan on some engines.
    const totalCount = () => repo.countSubjects(query);
    const page = docs.slice(0, size);
    const readable = page.filter((doc) => !doc.restriction || purpose === RESTRICTED_PURPOSE);
    const views = await Promise.all(page.map((doc) => this.open(repo, doc, readable.includes(doc) ? fields : [])));
    await this.recordReads(caller, repo, readable.map((d) => d._id), fields, purpose, 'READ');
    return { items: views, hasNextPage: docs.length > size, totalCount, cursorOf: (view) => toCursor(view.id) };
  }

  /** Art. 18: reads for ordinary purposes and updates are refused until lifted. The reason is sealed under the subject key. */
  async restrict(caller: TenantCaller, id: string, reason: string) {
    const text = validReason(reason);
    const repo = this.deps.subjectsOf(caller.tenantId);
    const doc = await this.live(repo, id);
    const key = await this.keyOf(repo, doc);
    const since = doc.restriction?.since ?? new Date();
    try {
      const blob = new Binary(sealSubjectField(key, { tenantId: repo.tenantId, subjectId: doc._id, field: 'restrictionReason' }, text));
      const updated = await repo.updateSubject(doc._id, doc.revision, { $set: { restriction: { since }, 'sealed.restrictionReason': blob } });
      if (!updated) throw conflict('The data subject changed meanwhile; retry');
    } finally {
      key.fill(0);
    }
    await this.deps.audit.append(auditEvent('subject.restricted', { caller, resource: { id: doc._id } }));
    return { subjectId: doc._id, restricted: true, since };
  }

  async lift(caller: TenantCaller, id: string) {
    const repo = this.deps.subjectsOf(caller.tenantId);
    const doc = await this.live(repo, id);
    if (!doc.restriction) throw conflict('Processing of this data subject is not restricted');
    const updated = await repo.updateSubject(doc._id, doc.revision, { $set: { restriction: null }, $unset: { 'sealed.restrictionReason': '' } });
    if (!updated) throw conflict('The data subject changed meanwhile; retry');
    await this.deps.audit.append(auditEvent('subject.restriction_lifted', { caller, resource: { id: doc._id } }));
    return { subjectId: doc._id, restricted: false, since: null };
  }

  /** The data-access log of a subject, newest first. */
  async accessLog(caller: TenantCaller, subjectId: string, first: number | null | undefined, after: string | null | undefined): Promise<SubjectPage<AccessLogDoc>> {
    const size = pageSize(first, 200);
    let before: { at: Date; id: string } | null = null;
    if (after) {
      const [at, id] = fromCursor(after).split('|');
      const date = new Date(at ?? '');
      if (!id || Number.isNaN(date.getTime())) throw badInput('after', 'is not a cursor from this connection');
      before = { at: date, id };
    }
    const repo = this.deps.subjectsOf(caller.tenantId);
    const doc = await repo.findSubject(subjectId);
    if (!doc || doc.status === 'ERASED') throw subjectNotFound();
    const entries = await repo.accessLogOf(subjectId, before, size + 1);
    const totalCount = () => repo.countAccessLogOf(subjectId);
    return {
      items: entries.slice(0, size),
      hasNextPage: entries.length > size,
      totalCount,
      cursorOf: (entry) => toCursor(`${entry.at.toISOString()}|${entry._id}`),
    };
  }

  /** Art. 15/20: the versioned export document (works while restricted). Logged as an EXPORT access and audited. */
  async export(caller: TenantCaller, subjectId: string): Promise<{ document: SubjectExportV1; fileName: string }> {
    const repo = this.deps.subjectsOf(caller.tenantId);
    const doc = await this.live(repo, subjectId);
    const view = await this.open(repo, doc, READABLE_FIELDS);
    let reason: string | null = null;
    if (doc.restriction && doc.sealed.restrictionReason) reason = (await this.openRaw(repo, doc, ['restrictionReason'])).restrictionReason ?? null;
    await this.recordReads(caller, repo, [doc._id], [...READABLE_FIELDS], 'subject_export', 'EXPORT');
    const log = await repo.accessLogOf(doc._id, null, 10_000);
    const consent = (await this.deps.consentFacts?.(repo.tenantId, doc._id)) ?? { consent: [], optOuts: [] };
    const document = buildSubjectExport({
      exportedAt: new Date(),
      tenant: { id: repo.tenantId, name: await this.deps.tenantName(repo.tenantId) },
      subject: {
        id: doc._id,
        createdAt: doc.createdAt,
        updatedAt: doc.updatedAt,
        displayName: view.fullName ?? null,
        email: view.email ?? null,
        phone: view.phone ?? null,
        attributes: view.attributes ?? {},
        identities: [...(view.identities ?? []), ...(view.externalId ? [{ label: 'external_id', value: view.externalId }] : [])],
      },
      restriction: doc.restriction ? { since: doc.restriction.since, reason } : null,
      accessLog: log.map((entry) => ({ at: entry.at, actor: entry.actor, action: entry.action, purpose: entry.purpose })),
      requests: (await this.deps.requestsOf?.(repo.tenantId, doc)) ?? [],
      consent: consent.consent,
      optOuts: consent.optOuts,
    });
    return { document, fileName: subjectExportFileName(document) };
  }

  /** The subject if it is live in this tenant; NOT_FOUND otherwise (another tenant's, erased, being erased). */
  private async live(repo: SubjectRepository, id: string): Promise<DataSubjectDoc> {
    if (typeof id !== 'string' || !/^ds_[0-9a-f]{24}$/.test(id)) throw subjectNotFound();
    const doc = await repo.findSubject(id);
    if (!doc || doc.status !== 'ACTIVE') throw subjectNotFound();
    return doc;
  }

  private async keyOf(repo: SubjectRepository, doc: DataSubjectDoc): Promise<Buffer> {
    const key = await this.deps.keyStore.subjectKey(repo, doc._id, doc.keyId);
    if (!key) throw subjectNotFound(); // shredded between the read of the document and now
    return key;
  }

  private sealAll(tenantId: string, subjectId: string, key: Buffer, values: SubjectValues): Partial<Record<SubjectField, Binary>> {
    const sealed: Partial<Record<SubjectField, Binary>> = {};
    for (const field of READABLE_FIELDS) {
      const plaintext = serialise(field, values);
      if (plaintext !== null) sealed[field] = new Binary(sealSubjectField(key, { tenantId, subjectId, field }, plaintext));
    }
    return sealed;
  }

  private async openRaw(repo: SubjectRepository, doc: DataSubjectDoc, fields: readonly SubjectField[]): Promise<Partial<Record<SubjectField, string>>> {
    const wanted = fields.filter((f) => doc.sealed[f]);
    if (wanted.length === 0) return {};
    const key = await this.keyOf(repo, doc);
    try {
      const out: Partial<Record<SubjectField, string>> = {};
      for (const field of wanted) {
        out[field] = openSubjectField(key, { tenantId: repo.tenantId, subjectId: doc._id, field }, Buffer.from(doc.sealed[field]!.buffer));
      }
      return out;
    } catch (error) {
      if (!(error instanceof IntegrityError)) throw error;
      this.deps.logger.error({ event: 'subject.integrity_failure', tenantId: repo.tenantId, subjectId: doc._id }, 'a personal field failed its integrity check');
      throw appError('INTERNAL_SERVER_ERROR', 'A personal field failed its integrity check');
    } finally {
      key.fill(0);
    }
  }

  private async open(repo: SubjectRepository, doc: DataSubjectDoc, fields: readonly ReadableField[]): Promise<SubjectView> {
    const raw = await this.openRaw(repo, doc, fields);
    const view: SubjectView = { id: doc._id, createdAt: doc.createdAt, updatedAt: doc.updatedAt, revision: doc.revision, restrictedSince: doc.restriction?.since ?? null };
    for (const field of PLAIN_FIELDS) if (fields.includes(field)) view[field] = raw[field] ?? null;
    if (fields.includes('attributes')) view.attributes = raw.attributes ? (JSON.parse(raw.attributes) as JsonObject) : {};
    if (fields.includes('identities')) view.identities = raw.identities ? (JSON.parse(raw.identities) as Identity[]) : [];
    return view;
  }

  /** One access-log entry per subject read and one audit event for the whole read. Nothing when no personal field was read. */
  private async recordReads(
    caller: TenantCaller,
    repo: SubjectRepository,
    subjectIds: string[],
    fields: readonly ReadableField[],
    purpose: string,
    action: AccessAction,
  ): Promise<void> {
    if (subjectIds.length === 0 || fields.length === 0) return;
    const at = new Date();
    const actor = accessorOf(caller);
    await repo.recordAccess(
      subjectIds.map((subjectId) => ({
        _id: `acc_${randomBytes(12).toString('hex')}`,
        subjectId,
        at,
        actor,
        action,
        fields: [...fields],
        purpose,
        ip: caller.request.ip,
        userAgent: caller.request.userAgent,
        requestId: caller.request.requestId || null,
      })),
    );
    const resource = { id: subjectIds.length === 1 ? subjectIds[0]! : null };
    const event =
      action === 'EXPORT'
        ? auditEvent('subject.exported', { caller, resource, details: { fields } })
        : auditEvent('subject.read', { caller, resource, details: { fields, ...(subjectIds.length > 1 ? { subjectIds } : {}) } });
    await this.deps.audit.append(event);
  }
}
