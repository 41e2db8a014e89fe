import { randomBytes } from 'node:crypto';
import { isDuplicateKey } from '../../db/mongo-errors.js';
import { sha256Hex } from '../../crypto/random.js';
import { conflict } from '../../errors.js';
import type { TenantCaller } from '../../identity/caller.js';
import { auditEvent } from '../audit/audit-builder.js';
import type { AuditSink } from '../audit/audit-event.js';
import { purposeByKey } from './consent-lookup.js';
import { CONSENT_LIMITS, validLegalBasis, validPurposeKey, validText } from './consent-rules.js';
import type { LegalBasis } from './consent-vocab.js';
import type { PurposeDoc } from './consent.document.js';
import type { ConsentRepository } from './consent.repository.js';

export interface PurposeServiceDeps {
  consentOf: (tenantId: string) => ConsentRepository;
  audit: AuditSink;
  /**
   * The tenant's retention periods in days (null: kept), for the record of processing. Wired in
   * services.ts to the privacy module's retention policy, so consent reads no privacy collection.
   */
  retentionOf: (tenantId: string) => Promise<RetentionPeriods>;
}

/** How long the tenant keeps each kind of data, in days; null keeps it (privacy's retention policy). */
export interface RetentionPeriods {
  subjectRetentionDays: number | null;
  accessLogRetentionDays: number | null;
  requestRetentionDays: number | null;
}

/** One entry of the record of processing activities (GDPR Art. 30). */
export interface ProcessingRecordView {
  purpose: PurposeDoc;
  retention: RetentionPeriods;
}

export interface PurposeInput {
  key: string;
  name: string;
  description: string;
  legalBasis: LegalBasis;
  noticeText: string;
  honoursGpc?: boolean | null;
}

export interface PurposeUpdateInput {
  key: string;
  name?: string | null;
  description?: string | null;
  legalBasis?: LegalBasis | null;
  noticeText?: string | null;
  honoursGpc?: boolean | null;
}

/**
 * Processing purposes with their legal basis and versioned notices, and the record of
 * processing activities (docs/ARCHITECTURE.md §14). A purpose is never deleted, only retired.
 */
export class PurposeService {
  constructor(private readonly deps: PurposeServiceDeps) {}

  async createPurpose(caller: TenantCaller, input: PurposeInput) {
    const key = validPurposeKey(input.key, 'input.key');
    const noticeText = validText(input.noticeText, 'input.noticeText', CONSENT_LIMITS.noticeMax);
    const doc = {
      _id: `cp_${randomBytes(12).toString('hex')}`,
      key,
      name: validText(input.name, 'input.name', CONSENT_LIMITS.nameMax),
      description: validText(input.description, 'input.description', CONSENT_LIMITS.descriptionMax),
      legalBasis: validLegalBasis(input.legalBasis, 'input.legalBasis'),
      honoursGpc: input.honoursGpc ?? false,
      notices: [{ version: 1, text: noticeText, sha256: sha256Hex(noticeText), publishedAt: new Date() }],
      currentNoticeVersion: 1,
      retiredAt: null,
      createdAt: new Date(),
      updatedAt: null,
      revision: 1,
    };
    const repo = this.deps.consentOf(caller.tenantId);
    try {
      await repo.insertPurpose(doc);
    } catch (error) {
      if (isDuplicateKey(error)) throw conflict('input.key: a purpose with this key exists already');
      throw error;
    }
    await this.deps.audit.append(
      auditEvent('consent.purpose_created', { caller, resource: { id: doc._id }, details: { purposeKey: key, legalBasis: doc.legalBasis, noticeVersion: 1, honoursGpc: doc.honoursGpc } }),
    );
    return { ...doc, tenantId: caller.tenantId };
  }

  /** Changes a purpose; a changed notice text publishes a new notice version (older ones are kept with their hashes). */
  async updatePurpose(caller: TenantCaller, input: PurposeUpdateInput) {
    const repo = this.deps.consentOf(caller.tenantId);
    const purpose = await purposeByKey(repo, input.key, 'input.key');
    if (purpose.retiredAt) throw conflict('This purpose is retired');
    const set: Partial<PurposeDoc> = {};
    const fields: ('name' | 'description' | 'legalBasis' | 'noticeText' | 'honoursGpc')[] = [];
    if (input.name != null) { const v = validText(input.name, 'input.name', CONSENT_LIMITS.nameMax); if (v !== purpose.name) { set.name = v; fields.push('name'); } }
    if (input.description != null) { const v = validText(input.description, 'input.description', CONSENT_LIMITS.descriptionMax); if (v !== purpose.description) { set.description = v; fields.push('description'); } }
    if (input.legalBasis != null) { const v = validLegalBasis(input.legalBasis, 'input.legalBasis'); if (v !== purpose.legalBasis) { set.legalBasis = v; fields.push('legalBasis'); } }
    if (input.honoursGpc != null && input.honoursGpc !== purpose.honoursGpc) { set.honoursGpc = input.honoursGpc; fields.push('honoursGpc'); }
    if (input.noticeText != null) {
      const text = validText(input.noticeText, 'input.noticeText', CONSENT_LIMITS.noticeMax);
      const current = purpose.notices.find((n) => n.version === purpose.currentNoticeVersion);
      if (current?.sha256 !== sha256Hex(text)) {
        const version = purpose.currentNoticeVersion + 1;
        set.notices = [...purpose.notices, { version, text, sha256: sha256Hex(text), publishedAt: new Date() }];
        set.currentNoticeVersion = version;
        fields.push('noticeText');
      }
    }
    if (fields.length === 0) return purpose;
    set.updatedAt = new Date();
    const updated = await repo.updatePurpose(purpose._id, purpose.revision, set);
    if (!updated) throw conflict('The purpose changed meanwhile; retry');
    await this.deps.audit.append(
      auditEvent('consent.purpose_updated', { caller, resource: { id: purpose._id }, details: { purposeKey: purpose.key, fields, noticeVersion: updated.currentNoticeVersion } }),
    );
    return updated;
  }

  /** Retires a purpose: no new grants; its records stay (a purpose is never deleted). */
  async retirePurpose(caller: TenantCaller, key: string) {
    const repo = this.deps.consentOf(caller.tenantId);
    const purpose = await purposeByKey(repo, key, 'key');
    if (purpose.retiredAt) return purpose;
    const updated = await repo.updatePurpose(purpose._id, purpose.revision, { retiredAt: new Date(), updatedAt: new Date() });
    if (!updated) throw conflict('The purpose changed meanwhile; retry');
    await this.deps.audit.append(
      auditEvent('consent.purpose_retired', { caller, resource: { id: purpose._id }, details: { purposeKey: purpose.key, records: await repo.countRecordsOfPurpose(purpose._id) } }),
    );
    return updated;
  }

  async purposes(caller: TenantCaller, includeRetired: boolean): Promise<PurposeDoc[]> {
    const all = await this.deps.consentOf(caller.tenantId).listPurposes();
    return includeRetired ? all : all.filter((p) => !p.retiredAt);
  }

  /** The basis of the Art. 30 record: every purpose (retired ones too) with the tenant's retention periods. */
  async recordsOfProcessing(caller: TenantCaller): Promise<ProcessingRecordView[]> {
    const [purposes, retention] = await Promise.all([this.purposes(caller, true), this.deps.retentionOf(caller.tenantId)]);
    const periods: RetentionPeriods = {
      subjectRetentionDays: retention.subjectRetentionDays ?? null,
      accessLogRetentionDays: retention.accessLogRetentionDays ?? null,
      requestRetentionDays: retention.requestRetentionDays ?? null,
    };
    return purposes.map((purpose) => ({ purpose, retention: { ...periods } }));
  }
}
