import { randomBytes } from 'node:crypto';
import type { JSONWebKeySet } from 'jose';
import { Binary } from 'mongodb';
import { fromCursor, toCursor } from '../../db/cursor.js';
import { isDuplicateKey } from '../../db/mongo-errors.js';
import { sha256Hex } from '../../crypto/random.js';
import { appError, badInput, conflict, forbidden, notFound, notFoundBecause } from '../../errors.js';
import type { RequestInfo, TenantCaller } from '../../identity/caller.js';
import type { Logger } from '../../logger.js';
import { auditEvent, type AuditCaller } from '../audit/audit-builder.js';
import type { AuditSink } from '../audit/audit-event.js';
import type { TenantCipher } from '../keys/tenant-cipher.js';
import { HASH_KEY_BYTES, suppressionHash } from '../privacy/blind-index.js';
import { normaliseEmail, normalisePhone } from '../privacy/contact-points.js';
import { openSubjectField, sealSubjectField } from '../privacy/subject-cipher.js';
import type { SubjectKeyStore } from '../privacy/subject-keys.js';
import { emailEntry, phoneEntry } from '../privacy/subject-rules.js';
import type { DataSubjectDoc } from '../privacy/subject.document.js';
import type { SubjectRepository } from '../privacy/subject.repository.js';
import { appendRecord, LEDGER_KEY_BYTES, newRecordId, verifyLedger, type LedgerVerification, type UnlinkedRecord } from './consent-ledger.js';
import { CONFIRMATION_DAYS, signLink, UNSUBSCRIBE_DAYS, verifyLink, type LinkClaims, type LinkKind } from './consent-links.js';
import { signConsentReceipt, type ConsentReceiptPayload, type ReceiptKey } from './consent-receipt.js';
import {
  CONSENT_LIMITS,
  isSubjectId,
  validChannel,
  validLegalBasis,
  validMethod,
  validProof,
  validPurposeKey,
  validReason,
  validSource,
  validText,
  type Proof,
  type ProofInput,
} from './consent-rules.js';
import { consentEntries, contactReasons, latestGpcSeq, optedOut, type ConsentEntryState } from './consent-state.js';
import { contactKindOf, type Channel, type ConsentMethod, type ContactReason, type LegalBasis, type OptOutReason, type OptOutSource } from './consent-vocab.js';
import type { LedgerRecordDoc, PurposeDoc } from './consent.document.js';
import { ledgerKeyAad, suppressionKeyAad } from './consent.sealed-data.js';
import type { WrappedKeyDoc } from './consent.document.js';
import type { ConsentRepository } from './consent.repository.js';

export interface ConsentServiceDeps {
  consentOf: (tenantId: string) => ConsentRepository;
  subjectsOf: (tenantId: string) => SubjectRepository;
  keyStore: SubjectKeyStore;
  /** Wraps the tenant's suppression and ledger keys under its DEK. */
  cipher: TenantCipher;
  audit: AuditSink;
  logger: Logger;
  signer: () => { privateKey: ReceiptKey; kid: string };
  jwks: () => JSONWebKeySet;
  issuer: string;
  tenantName: (tenantId: string) => Promise<string>;
  /**
   * The tenant's retention periods in days (null: kept), for the record of processing. Wired in
   * services.ts to the privacy module's retention policy, so consent reads no privacy collection.
   */
  retentionOf: (tenantId: string) => Promise<RetentionPeriods>;
  /** UNSUBSCRIBE_BASE_URL: where the public pages are served (no trailing slash); null when unset in production (no links). */
  publicBaseUrl: string | null;
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

export interface RecordConsentInput {
  subjectId: string;
  purpose: string;
  channel: Channel;
  granted: boolean;
  method: ConsentMethod;
  noticeVersion?: number | null;
  proof?: ProofInput | null;
  gpc?: boolean | null;
}

export interface ContactDecisionView {
  subjectId: string | null;
  allowed: boolean;
  reasons: ContactReason[];
}

export interface ContactRef {
  subjectId?: string | null;
  email?: string | null;
  phone?: string | null;
}

export interface HistoryPage {
  items: LedgerRecordDoc[];
  hasNextPage: boolean;
  totalCount: number;
  cursorOf: (r: LedgerRecordDoc) => string;
}

/** What the subject export and erasure need to know (wired into the privacy module in services.ts). */
export interface ConsentExportFacts {
  consent: { purpose: string; channel: string; granted: boolean; method: string | null; noticeVersion: number | null; gpc: boolean; at: Date; source: string | null; receiptId: string; receipt: string }[];
  optOuts: { channel: string; purpose: string | null; optedOut: boolean; reason: string | null; source: string | null; at: Date; receiptId: string; receipt: string }[];
}

/** Public-page outcomes: what the page may show (the tenant's name and the channel; never anything about the subject). */
export interface PublicLinkView {
  tenantName: string;
  channel: Channel;
  purposeName: string;
}

const proofField = (recordId: string) => `consent_proof:${recordId}`;

const CHANNEL_TEXT: Record<Channel, string> = { EMAIL: 'email', SMS: 'text message (SMS)', WHATSAPP: 'WhatsApp', PUSH: 'push notification', PHONE: 'phone call', POST: 'post' };
export const channelText = (channel: Channel) => CHANNEL_TEXT[channel];

/**
 * Consent (GDPR Art. 7), opt-outs, suppression and contact decisions (docs/ARCHITECTURE.md §14).
 * Every decision is an immutable, chained ledger record with its proof sealed under the subject's
 * key; current state is computed from the subject's records (latest wins).
 */
export class ConsentService {
  /** Unwrapped tenant keys, by `<kind>:<tenantId>`, for at most 60 s. */
  private readonly tenantKeys = new Map<string, { key: Buffer; at: number }>();

  constructor(private readonly deps: ConsentServiceDeps) {}

  // ---------------------------------------------------------------- purposes

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
    const purpose = await this.purpose(repo, input.key, 'input.key');
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
    const purpose = await this.purpose(repo, key, 'key');
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

  // ---------------------------------------------------------------- the ledger

  async recordConsent(caller: TenantCaller, input: RecordConsentInput) {
    const repo = this.deps.consentOf(caller.tenantId);
    const purpose = await this.purpose(repo, input.purpose, 'input.purpose');
    const channel = validChannel(input.channel, 'input.channel');
    const method = validMethod(input.method, 'input.method');
    if (typeof input.granted !== 'boolean') throw badInput('input.granted', 'must be true or false');
    if (input.granted && purpose.retiredAt) throw conflict('input.purpose: this purpose is retired and takes no new consent');
    const noticeVersion = input.noticeVersion ?? purpose.currentNoticeVersion;
    const notice = purpose.notices.find((n) => n.version === noticeVersion);
    if (!notice) throw badInput('input.noticeVersion', `must be a published notice version of this purpose (1 to ${purpose.currentNoticeVersion})`);
    const proof = validProof(input.proof, 'input.proof');
    const subject = await this.liveSubject(caller.tenantId, input.subjectId, 'input.subjectId');
    const gpc = input.gpc === true || method === 'GPC';
    return this.appendConsent(repo, this.auditCallerOf(caller), subject, purpose, channel, input.granted, method, notice, proof, gpc);
  }

  async withdrawConsent(caller: TenantCaller, subjectId: string, purposeKey: string, channel: Channel) {
    return this.recordConsent(caller, { subjectId, purpose: purposeKey, channel, granted: false, method: 'API' });
  }

  async status(caller: TenantCaller, subjectId: string) {
    const subject = await this.liveSubject(caller.tenantId, subjectId, 'subjectId');
    const repo = this.deps.consentOf(caller.tenantId);
    const records = await repo.recordsOfSubjects([subject._id]);
    const purposes = new Map((await repo.listPurposes()).map((p) => [p._id, p]));
    const entries: ConsentEntryState[] = consentEntries(records, purposes);
    const optOutKeys = new Map<string, { channel: Channel; purposeKey: string | null }>();
    for (const r of records) if ((r.kind === 'OPT_OUT' || r.kind === 'OPT_IN') && r.channel) optOutKeys.set(`${r.channel}|${r.purposeKey ?? ''}`, { channel: r.channel, purposeKey: r.purposeKey });
    const channels = [...optOutKeys.values()].map((k) => ({ ...k, optedOut: optedOut(records.filter((r) => r.purposeKey === k.purposeKey || k.purposeKey === null), k.channel, k.purposeKey) }));
    const gpcSeq = latestGpcSeq(records);
    return { subjectId: subject._id, entries, channels, gpcSignalled: gpcSeq > 0, gpcSignalledAt: records.find((r) => r.seq === gpcSeq)?.at ?? null };
  }

  async history(caller: TenantCaller, subjectId: string, first: number | null | undefined, after: string | null | undefined): Promise<HistoryPage> {
    const size = first ?? 50;
    if (!Number.isInteger(size) || size < 1 || size > CONSENT_LIMITS.historyMax) throw badInput('first', `must be 1 to ${CONSENT_LIMITS.historyMax}`);
    let before: number | null = null;
    if (after) {
      const seq = Number(fromCursor(after));
      if (!Number.isSafeInteger(seq) || seq < 1) throw badInput('after', 'is not a cursor from this connection');
      before = seq;
    }
    if (!isSubjectId(subjectId)) throw notFound('Data subject');
    const subject = await this.deps.subjectsOf(caller.tenantId).findSubject(subjectId);
    if (!subject) throw notFound('Data subject');
    const repo = this.deps.consentOf(caller.tenantId);
    const [items, totalCount] = await Promise.all([repo.historyOf(subjectId, before, size + 1), repo.countHistoryOf(subjectId)]);
    return { items: items.slice(0, size), hasNextPage: items.length > size, totalCount, cursorOf: (r) => toCursor(String(r.seq)) };
  }

  /** The signed receipt of one ledger record. */
  async receipt(caller: TenantCaller, id: string): Promise<{ id: string; jws: string; payload: ConsentReceiptPayload }> {
    const repo = this.deps.consentOf(caller.tenantId);
    const record = typeof id === 'string' && /^cr_[0-9a-f]{24}$/.test(id) ? await repo.findRecord(id) : null;
    if (!record) throw notFound('Consent receipt');
    return this.signedReceipt(repo, record);
  }

  async verifyLedger(caller: TenantCaller): Promise<LedgerVerification> {
    const key = await this.ledgerKey(caller.tenantId);
    try {
      return await verifyLedger(this.deps.consentOf(caller.tenantId), key);
    } finally {
      key.fill(0);
    }
  }

  // ---------------------------------------------------------------- opt-outs

  async optOut(caller: TenantCaller, input: { subjectId: string; channel: Channel; reason: OptOutReason; source: OptOutSource; purpose?: string | null; proof?: ProofInput | null }) {
    const channel = validChannel(input.channel, 'channel');
    const reason = validReason(input.reason);
    const source = validSource(input.source);
    const proof = validProof(input.proof);
    const repo = this.deps.consentOf(caller.tenantId);
    const purpose = input.purpose == null ? null : await this.purpose(repo, input.purpose, 'purpose');
    const subject = await this.liveSubject(caller.tenantId, input.subjectId, 'subjectId');
    return this.appendOptOut(repo, this.auditCallerOf(caller), subject, channel, purpose?.key ?? null, reason, source, proof);
  }

  async optIn(caller: TenantCaller, input: { subjectId: string; channel: Channel; purpose?: string | null; proof?: ProofInput | null; source?: OptOutSource | null }) {
    const channel = validChannel(input.channel, 'channel');
    const proof = validProof(input.proof);
    if (!proof) throw badInput('proof', 'an opt-in needs proof (at least one of ip, userAgent, capturedAt, evidence)');
    const source = input.source == null ? 'API' : validSource(input.source);
    const repo = this.deps.consentOf(caller.tenantId);
    const purpose = input.purpose == null ? null : await this.purpose(repo, input.purpose, 'purpose');
    const subject = await this.liveSubject(caller.tenantId, input.subjectId, 'subjectId');
    const record = await this.append(repo, subject, {
      kind: 'OPT_IN', subjectId: subject._id, purposeId: purpose?._id ?? null, purposeKey: purpose?.key ?? null, channel, granted: true,
      method: null, noticeVersion: null, noticeSha256: null, legalBasis: null, gpc: false, reason: null, source, at: new Date(), proof: null,
      actor: this.actorOf(this.auditCallerOf(caller)),
    }, proof);
    const entries = await this.suppressionEntries(caller.tenantId, subject, channel, purpose?.key ?? null);
    const removed = await repo.removeSuppressions(entries);
    await this.deps.audit.append(
      auditEvent('consent.opted_in', {
        caller: this.auditCallerOf(caller),
        resource: { id: subject._id },
        details: { recordId: record._id, channel, ...(purpose ? { purposeKey: purpose.key } : {}), suppressionEntriesRemoved: removed },
      }),
    );
    return record;
  }

  async optOutStatistics(caller: TenantCaller, from: Date, to: Date) {
    if (!(from instanceof Date) || !(to instanceof Date) || Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from >= to) throw badInput('to', 'must be after from');
    if (to.getTime() - from.getTime() > 366 * 86_400_000) throw badInput('to', 'the period must be at most 366 days');
    const rows = await this.deps.consentOf(caller.tenantId).optOutsBetween(from, to);
    const counts = new Map<string, { channel: Channel; reason: OptOutReason; count: number }>();
    for (const row of rows) {
      if (!row.channel || !row.reason) continue;
      const key = `${row.channel}|${row.reason}`;
      const entry = counts.get(key) ?? { channel: row.channel, reason: row.reason, count: 0 };
      entry.count += 1;
      counts.set(key, entry);
    }
    return { from, to, total: rows.length, counts: [...counts.values()].sort((a, b) => (a.channel + a.reason < b.channel + b.reason ? -1 : 1)) };
  }

  // ---------------------------------------------------------------- contact decisions

  async canContact(caller: TenantCaller, subjectId: string, channel: Channel, purposeKey: string, gpc: boolean): Promise<ContactDecisionView> {
    const ch = validChannel(channel);
    const repo = this.deps.consentOf(caller.tenantId);
    const purpose = await this.purpose(repo, purposeKey, 'purpose');
    if (!isSubjectId(subjectId)) throw notFound('Data subject');
    const subject = await this.deps.subjectsOf(caller.tenantId).findSubject(subjectId);
    if (!subject) throw notFound('Data subject');
    if (gpc && subject.status === 'ACTIVE') await this.applyGpcSignal(repo, this.auditCallerOf(caller), subject);
    const [decision] = await this.decide(caller.tenantId, repo, [{ ref: { subjectId }, subject }], ch, purpose, false);
    return decision!;
  }

  /** Up to 1,000 recipients in a handful of `$in` reads, whatever the tenant's size. */
  async canContactMany(caller: TenantCaller, contacts: ContactRef[], channel: Channel, purposeKey: string): Promise<ContactDecisionView[]> {
    const ch = validChannel(channel);
    if (!Array.isArray(contacts) || contacts.length === 0 || contacts.length > CONSENT_LIMITS.manyMax) throw badInput('contacts', `must list 1 to ${CONSENT_LIMITS.manyMax} recipients`);
    const repo = this.deps.consentOf(caller.tenantId);
    const purpose = await this.purpose(repo, purposeKey, 'purpose');
    const subjects = this.deps.subjectsOf(caller.tenantId);
    const refs = contacts.map((c, i) => {
      const given = [c.subjectId, c.email, c.phone].filter((v) => v != null && v !== '').length;
      if (given !== 1) throw badInput(`contacts[${i}]`, 'give exactly one of subjectId, email, phone');
      return {
        subjectId: c.subjectId ?? null,
        email: c.email ? normaliseEmail(c.email, `contacts[${i}].email`) : null,
        phone: c.phone ? normalisePhone(c.phone, { field: `contacts[${i}].phone` }) : null,
      };
    });
    const byId = new Map((await subjects.findSubjects(refs.flatMap((r) => (r.subjectId && isSubjectId(r.subjectId) ? [r.subjectId] : [])))).map((s) => [s._id, s]));
    const indexKey = refs.some((r) => r.email || r.phone) ? await this.deps.keyStore.indexKey(subjects) : null;
    const entryOf = (r: (typeof refs)[number]) => (r.email ? emailEntry(indexKey!, r.email) : r.phone ? phoneEntry(indexKey!, r.phone) : null);
    const lookups = refs.map(entryOf);
    indexKey?.fill(0);
    const found = await subjects.findByLookups(lookups.filter((e): e is string => e !== null));
    const items = refs.map((r, i) => {
      const entry = lookups[i];
      const subject = r.subjectId ? byId.get(r.subjectId) ?? null : found.find((s) => s.lookup.includes(entry!)) ?? null;
      return { ref: r, subject };
    });
    return this.decide(caller.tenantId, repo, items, ch, purpose, false);
  }

  // ---------------------------------------------------------------- links and public pages

  async unsubscribeLink(caller: TenantCaller, subjectId: string, channel: Channel, purposeKey: string, validForDays?: number | null) {
    const base = this.publicBaseUrl();
    const days = validForDays ?? UNSUBSCRIBE_DAYS.default;
    if (!Number.isInteger(days) || days < UNSUBSCRIBE_DAYS.min || days > UNSUBSCRIBE_DAYS.max) throw badInput('validForDays', `must be ${UNSUBSCRIBE_DAYS.min} to ${UNSUBSCRIBE_DAYS.max} days`);
    const ch = validChannel(channel);
    const purpose = await this.purpose(this.deps.consentOf(caller.tenantId), purposeKey, 'purpose');
    const subject = await this.liveSubject(caller.tenantId, subjectId, 'subjectId');
    const { token, expiresAt } = await signLink('unsubscribe', { tenantId: caller.tenantId, subjectId: subject._id, channel: ch, purposeKey: purpose.key, noticeVersion: null }, days, this.deps.signer(), this.deps.issuer);
    return { url: `${base}/unsubscribe/${token}`, expiresAt };
  }

  /** RFC 8058 headers for an email: List-Unsubscribe (https URL) and List-Unsubscribe-Post. */
  async emailUnsubscribeHeaders(caller: TenantCaller, subjectId: string, purposeKey: string) {
    const { url, expiresAt } = await this.unsubscribeLink(caller, subjectId, 'EMAIL', purposeKey);
    return { listUnsubscribe: `<${url}>`, listUnsubscribePost: 'List-Unsubscribe=One-Click', url, expiresAt };
  }

  async requestConfirmation(caller: TenantCaller, subjectId: string, purposeKey: string, channel: Channel) {
    const base = this.publicBaseUrl();
    const ch = validChannel(channel);
    const purpose = await this.purpose(this.deps.consentOf(caller.tenantId), purposeKey, 'purpose');
    if (purpose.retiredAt) throw conflict('purpose: this purpose is retired and takes no new consent');
    const subject = await this.liveSubject(caller.tenantId, subjectId, 'subjectId');
    const { token, expiresAt } = await signLink(
      'confirmation',
      { tenantId: caller.tenantId, subjectId: subject._id, channel: ch, purposeKey: purpose.key, noticeVersion: purpose.currentNoticeVersion },
      CONFIRMATION_DAYS,
      this.deps.signer(),
      this.deps.issuer,
    );
    await this.deps.audit.append(auditEvent('consent.confirmation_requested', { caller, resource: { id: subject._id }, details: { purposeKey: purpose.key, channel: ch } }));
    return { url: `${base}/confirm/${token}`, expiresAt };
  }

  /** Where links point; SERVICE_UNAVAILABLE naming the setting when it is unset (production without UNSUBSCRIBE_BASE_URL). */
  private publicBaseUrl(): string {
    if (this.deps.publicBaseUrl) return this.deps.publicBaseUrl;
    throw appError('SERVICE_UNAVAILABLE', 'Unsubscribe and confirmation links are not configured: set UNSUBSCRIBE_BASE_URL (an https URL) to issue them', { setting: 'UNSUBSCRIBE_BASE_URL' });
  }

  /** What a public page may show for a valid token; null for an invalid, expired or dangling one (the page says nothing more). */
  async describeLink(kind: LinkKind, token: string): Promise<PublicLinkView | null> {
    const resolved = await this.resolveLink(kind, token);
    return resolved && { tenantName: resolved.tenantName, channel: resolved.claims.channel, purposeName: resolved.purpose.name };
  }

  /**
   * Public unsubscribe (page button, RFC 8058 one-click POST, or an app through GraphQL): opts the
   * subject out of the channel for the link's purpose, with proof (ip, user agent sealed), audited
   * with actor PUBLIC. Repeating it changes nothing. `tenantId`: the caller's tenant, when known
   * (a token of another tenant is refused).
   */
  async unsubscribe(token: string, request: RequestInfo, via: 'PAGE' | 'ONE_CLICK' | 'APP', tenantId: string | null = null): Promise<PublicLinkView | null> {
    const resolved = await this.resolveLink('unsubscribe', token);
    if (!resolved || (tenantId !== null && resolved.claims.tenantId !== tenantId)) return null;
    const { claims, subject, purpose } = resolved;
    const repo = this.deps.consentOf(claims.tenantId);
    const records = await repo.recordsOfSubjects([subject._id]);
    if (!optedOut(records, claims.channel, purpose.key)) {
      const proof: Proof = { ip: request.ip, userAgent: request.userAgent, capturedAt: new Date().toISOString(), evidence: `unsubscribe link ${claims.tokenId}` };
      const reason: OptOutReason = via === 'ONE_CLICK' ? 'ONE_CLICK' : 'UNSUBSCRIBE_LINK';
      const source: OptOutSource = via === 'ONE_CLICK' ? 'EMAIL_HEADER' : via === 'APP' ? 'APP' : 'PUBLIC_PAGE';
      await this.appendOptOut(repo, this.publicCallerIn(claims.tenantId, request), subject, claims.channel, purpose.key, reason, source, proof);
    }
    return { tenantName: resolved.tenantName, channel: claims.channel, purposeName: purpose.name };
  }

  /**
   * Double opt-in: records the consent (method DOUBLE_OPT_IN, the notice version of the request).
   * Each token is single-use: it is marked used (an insert with a unique `_id`) before the grant
   * is written, so a second POST of the same link, even after a withdrawal or concurrently with
   * the first, answers the same page and writes nothing.
   */
  async confirm(token: string, request: RequestInfo): Promise<PublicLinkView | null> {
    const resolved = await this.resolveLink('confirmation', token);
    if (!resolved) return null;
    const { claims, subject, purpose } = resolved;
    if (purpose.retiredAt) return null;
    const notice = purpose.notices.find((n) => n.version === claims.noticeVersion);
    if (!notice) return null;
    const view = { tenantName: resolved.tenantName, channel: claims.channel, purposeName: purpose.name };
    const repo = this.deps.consentOf(claims.tenantId);
    if (!(await repo.claimConfirmation(claims.tokenId, claims.expiresAt))) return view;
    try {
      const proof: Proof = { ip: request.ip, userAgent: request.userAgent, capturedAt: new Date().toISOString(), evidence: `confirmation link ${claims.tokenId}` };
      await this.appendConsent(repo, this.publicCallerIn(claims.tenantId, request), subject, purpose, claims.channel, true, 'DOUBLE_OPT_IN', notice, proof, false);
    } catch (error) {
      await repo.releaseConfirmation(claims.tokenId).catch(() => {});
      throw error;
    }
    return view;
  }

  // ---------------------------------------------------------------- for the privacy module (export, erasure)

  /** The subject's consent history and opt-outs with signed receipts, for the export (Art. 15, 20). */
  async exportFacts(tenantId: string, subjectId: string): Promise<ConsentExportFacts> {
    const repo = this.deps.consentOf(tenantId);
    const records = await repo.recordsOfSubjects([subjectId]);
    const out: ConsentExportFacts = { consent: [], optOuts: [] };
    for (const record of records.sort((a, b) => a.seq - b.seq)) {
      const { jws } = await this.signedReceipt(repo, record);
      if (record.kind === 'CONSENT' || record.kind === 'GPC') {
        out.consent.push({
          purpose: record.purposeKey ?? '*', channel: record.channel ?? '*', granted: record.granted, method: record.method, noticeVersion: record.noticeVersion,
          gpc: record.gpc, at: record.at, source: record.method, receiptId: record._id, receipt: jws,
        });
      } else {
        out.optOuts.push({ channel: record.channel ?? '*', purpose: record.purposeKey, optedOut: record.kind === 'OPT_OUT', reason: record.reason, source: record.source, at: record.at, receiptId: record._id, receipt: jws });
      }
    }
    return out;
  }

  /** Suppression entries that hold for the subject's current contact points (counted when an erasure is planned: they are kept). */
  async suppressionEntriesKept(tenantId: string, subjectId: string): Promise<number> {
    const subject = await this.deps.subjectsOf(tenantId).findSubject(subjectId);
    if (!subject) return 0;
    const mine = (await this.contactHashes(tenantId, [subject])).get(subject._id);
    if (!mine) return 0;
    const hashes = [mine.email, mine.phone].filter((h): h is string => !!h);
    const entries = await this.deps.consentOf(tenantId).suppressionsWithHashes(hashes);
    return entries.length;
  }

  // ---------------------------------------------------------------- internals

  private async decide(
    tenantId: string,
    repo: ConsentRepository,
    items: { ref: { subjectId?: string | null; email?: string | null; phone?: string | null }; subject: DataSubjectDoc | null }[],
    channel: Channel,
    purpose: PurposeDoc,
    gpcSignal: boolean,
  ): Promise<ContactDecisionView[]> {
    const live = items.flatMap((i) => (i.subject?.status === 'ACTIVE' ? [i.subject] : []));
    const unique = [...new Map(live.map((s) => [s._id, s])).values()];
    const [records, hashes] = await Promise.all([repo.recordsOfSubjects(unique.map((s) => s._id)), this.contactHashes(tenantId, unique)]);
    const kind = contactKindOf(channel);
    const supKey = kind && items.some((i) => i.ref.email || i.ref.phone) ? await this.suppressionKey(tenantId) : null;
    const hashOf = (item: (typeof items)[number]): string | null => {
      if (!kind) return null;
      if (item.ref.email && kind === 'email') return suppressionHash(supKey!, 'email', item.ref.email);
      if (item.ref.phone && kind === 'phone') return suppressionHash(supKey!, 'phone', item.ref.phone);
      const own = item.subject ? hashes.get(item.subject._id) : undefined;
      return own ? own[kind] : null;
    };
    const itemHashes = items.map(hashOf);
    supKey?.fill(0);
    const candidates = itemHashes.flatMap((h) => (h ? [entryOf(channel, null, h), entryOf(channel, purpose.key, h)] : []));
    const suppressed = new Set((await repo.suppressedAmong([...new Set(candidates)])).map((d) => d.entry));
    return items.map((item, i) => {
      const h = itemHashes[i];
      const isSuppressed = !!h && (suppressed.has(entryOf(channel, null, h)) || suppressed.has(entryOf(channel, purpose.key, h)));
      const subject = item.subject;
      const status = subject ? subject.status : 'UNKNOWN';
      const own = subject ? records.filter((r) => r.subjectId === subject._id) : [];
      const reasons = contactReasons({ status, restricted: !!subject?.restriction, suppressed: isSuppressed }, own, purpose, channel, gpcSignal);
      return { subjectId: subject?._id ?? null, allowed: reasons.length === 0, reasons };
    });
  }

  /** Suppression hashes of each live subject's current email and phone (keys read in one `$in`). */
  private async contactHashes(tenantId: string, subjects: DataSubjectDoc[]): Promise<Map<string, { email: string | null; phone: string | null }>> {
    const out = new Map<string, { email: string | null; phone: string | null }>();
    const withContact = subjects.filter((s) => s.status === 'ACTIVE' && (s.sealed.email || s.sealed.phone));
    if (withContact.length === 0) return out;
    const repo = this.deps.subjectsOf(tenantId);
    const keys = await this.deps.keyStore.subjectKeys(repo, withContact.map((s) => ({ subjectId: s._id, keyId: s.keyId })));
    const supKey = await this.suppressionKey(tenantId);
    try {
      for (const s of withContact) {
        const key = keys.get(s._id);
        if (!key) continue;
        const open = (field: 'email' | 'phone') => (s.sealed[field] ? openSubjectField(key, { tenantId, subjectId: s._id, field }, Buffer.from(s.sealed[field]!.buffer)) : null);
        const email = open('email');
        const phone = open('phone');
        out.set(s._id, { email: email ? suppressionHash(supKey, 'email', email) : null, phone: phone ? suppressionHash(supKey, 'phone', phone) : null });
      }
    } finally {
      supKey.fill(0);
      for (const key of keys.values()) key.fill(0);
    }
    return out;
  }

  private async suppressionEntries(tenantId: string, subject: DataSubjectDoc, channel: Channel, purposeKey: string | null): Promise<string[]> {
    const kind = contactKindOf(channel);
    if (!kind) return [];
    const hash = (await this.contactHashes(tenantId, [subject])).get(subject._id)?.[kind];
    return hash ? [entryOf(channel, purposeKey, hash)] : [];
  }

  /** The tenant's suppression key (32 random bytes, wrapped under its DEK, created on first use; cached 60 s). */
  private suppressionKey(tenantId: string): Promise<Buffer> {
    const repo = this.deps.consentOf(tenantId);
    return this.tenantKey('suppression', tenantId, HASH_KEY_BYTES, suppressionKeyAad(tenantId), () => repo.findSuppressionKey(), (doc) => repo.insertSuppressionKey(doc));
  }

  /** The tenant's ledger HMAC key (32 random bytes of its own, wrapped under its DEK, created on first use; cached 60 s). */
  private ledgerKey(tenantId: string): Promise<Buffer> {
    const repo = this.deps.consentOf(tenantId);
    return this.tenantKey('ledger', tenantId, LEDGER_KEY_BYTES, ledgerKeyAad(tenantId), () => repo.findLedgerKey(), (doc) => repo.insertLedgerKey(doc));
  }

  /**
   * A random per-tenant key stored only wrapped: read it, or create it on first use. Creation is
   * race-safe: the document has one fixed `_id`, so of two creators one insert fails on the
   * unique `_id` and that one reads the winner's key. The caller gets its own copy to zero.
   */
  private async tenantKey(
    kind: string,
    tenantId: string,
    bytes: number,
    aad: Buffer,
    find: () => Promise<WrappedKeyDoc | null>,
    insert: (doc: Omit<WrappedKeyDoc, '_id' | 'tenantId'>) => Promise<WrappedKeyDoc>,
  ): Promise<Buffer> {
    const cacheKey = `${kind}:${tenantId}`;
    const cached = this.tenantKeys.get(cacheKey);
    if (cached && Date.now() - cached.at < 60_000) return Buffer.from(cached.key);
    let doc = await find();
    if (!doc) {
      const key = randomBytes(bytes);
      const sealed = await this.deps.cipher.seal(tenantId, aad, key);
      key.fill(0);
      try {
        doc = await insert({ wrapped: new Binary(sealed.blob), dekVersion: sealed.dekVersion, createdAt: new Date() });
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        doc = await find();
      }
      if (!doc) throw new Error(`${kind} key vanished after creation`);
    }
    const key = await this.deps.cipher.open(tenantId, aad, Buffer.from(doc.wrapped.buffer), doc.dekVersion);
    this.tenantKeys.set(cacheKey, { key: Buffer.from(key), at: Date.now() });
    return key;
  }

  private async appendConsent(
    repo: ConsentRepository,
    by: AuditCaller,
    subject: DataSubjectDoc,
    purpose: PurposeDoc,
    channel: Channel,
    granted: boolean,
    method: ConsentMethod,
    notice: { version: number; sha256: string },
    proof: Proof | null,
    gpc: boolean,
  ) {
    const record = await this.append(repo, subject, {
      kind: 'CONSENT', subjectId: subject._id, purposeId: purpose._id, purposeKey: purpose.key, channel, granted, method,
      noticeVersion: notice.version, noticeSha256: notice.sha256, legalBasis: purpose.legalBasis, gpc, reason: null, source: null, at: new Date(), proof: null,
      actor: this.actorOf(by),
    }, proof);
    await this.deps.audit.append(
      auditEvent('consent.recorded', {
        caller: by,
        resource: { id: subject._id },
        details: { recordId: record._id, purposeKey: purpose.key, channel, granted, method, noticeVersion: notice.version, gpc },
      }),
    );
    return record;
  }

  private async appendOptOut(repo: ConsentRepository, by: AuditCaller, subject: DataSubjectDoc, channel: Channel, purposeKey: string | null, reason: OptOutReason, source: OptOutSource, proof: Proof | null) {
    const purpose = purposeKey ? await repo.findPurposeByKey(purposeKey) : null;
    const record = await this.append(repo, subject, {
      kind: 'OPT_OUT', subjectId: subject._id, purposeId: purpose?._id ?? null, purposeKey, channel, granted: false, method: null,
      noticeVersion: null, noticeSha256: null, legalBasis: null, gpc: false, reason, source, at: new Date(), proof: null, actor: this.actorOf(by),
    }, proof);
    const entries = await this.suppressionEntries(repo.tenantId, subject, channel, purposeKey);
    const [hash] = entries.map((e) => e.split(':').slice(2).join(':'));
    const added = await repo.addSuppressions(entries.map((entry) => ({ _id: `sup_${randomBytes(12).toString('hex')}`, entry, hash: hash!, channel, purposeKey, reason, createdAt: new Date() })));
    await this.deps.audit.append(
      auditEvent('consent.opted_out', {
        caller: by,
        resource: { id: subject._id },
        details: { recordId: record._id, channel, ...(purposeKey ? { purposeKey } : {}), reason, source, suppressionEntriesAdded: added },
      }),
    );
    return record;
  }

  /** A GPC signal on a contact check: recorded once, unless the latest signal is still in force for every purpose. */
  private async applyGpcSignal(repo: ConsentRepository, by: AuditCaller, subject: DataSubjectDoc): Promise<void> {
    const records = await repo.recordsOfSubjects([subject._id]);
    const signal = latestGpcSeq(records);
    const lastGrant = records.filter((r) => r.kind === 'CONSENT' && r.granted && !r.gpc).reduce((m, r) => Math.max(m, r.seq), 0);
    if (signal > 0 && signal > lastGrant) return;
    const record = await this.append(repo, subject, {
      kind: 'GPC', subjectId: subject._id, purposeId: null, purposeKey: null, channel: null, granted: false, method: 'GPC',
      noticeVersion: null, noticeSha256: null, legalBasis: null, gpc: true, reason: null, source: null, at: new Date(), proof: null, actor: this.actorOf(by),
    }, null);
    await this.deps.audit.append(auditEvent('consent.gpc_signalled', { caller: by, resource: { id: subject._id }, details: { recordId: record._id } }));
  }

  /** Seals the proof under the subject key (field `consent_proof:<recordId>`) and links the record into the ledger. */
  private async append(repo: ConsentRepository, subject: DataSubjectDoc, record: UnlinkedRecord, proof: Proof | null): Promise<LedgerRecordDoc> {
    const id = newRecordId();
    if (proof) {
      const subjects = this.deps.subjectsOf(repo.tenantId);
      const key = await this.deps.keyStore.subjectKey(subjects, subject._id, subject.keyId);
      if (!key) throw notFound('Data subject');
      try {
        record.proof = sealSubjectField(key, { tenantId: repo.tenantId, subjectId: subject._id, field: proofField(id) }, JSON.stringify(proof)).toString('base64');
      } finally {
        key.fill(0);
      }
    }
    const ledgerKey = await this.ledgerKey(repo.tenantId);
    try {
      return await appendRecord(repo, ledgerKey, record, id);
    } finally {
      ledgerKey.fill(0);
    }
  }

  /** The proof of a record, or null when there is none or it was shredded (the subject erased). */
  async openProof(tenantId: string, record: LedgerRecordDoc): Promise<Proof | null> {
    if (!record.proof) return null;
    const subjects = this.deps.subjectsOf(tenantId);
    const subject = await subjects.findSubject(record.subjectId);
    if (!subject || subject.status !== 'ACTIVE') return null;
    const key = await this.deps.keyStore.subjectKey(subjects, subject._id, subject.keyId);
    if (!key) return null;
    try {
      return JSON.parse(openSubjectField(key, { tenantId, subjectId: subject._id, field: proofField(record._id) }, Buffer.from(record.proof, 'base64'))) as Proof;
    } catch {
      return null;
    } finally {
      key.fill(0);
    }
  }

  private async signedReceipt(repo: ConsentRepository, record: LedgerRecordDoc) {
    const purpose = record.purposeKey ? await repo.findPurposeByKey(record.purposeKey) : null;
    const payload: ConsentReceiptPayload = {
      type: 'coffer.consent-receipt',
      schemaVersion: 1,
      receiptId: record._id,
      ledgerSeq: record.seq,
      controller: { id: repo.tenantId, name: await this.deps.tenantName(repo.tenantId) },
      subject: { id: record.subjectId },
      kind: record.kind,
      purpose: purpose ? { key: purpose.key, name: purpose.name, legalBasis: record.legalBasis ?? purpose.legalBasis } : null,
      notice: record.noticeVersion !== null && record.noticeSha256 ? { version: record.noticeVersion, sha256: record.noticeSha256 } : null,
      channel: record.channel,
      method: record.method,
      state: record.granted ? 'GIVEN' : 'WITHDRAWN',
      gpc: record.gpc,
      consentTimestamp: record.at.toISOString(),
    };
    const { privateKey, kid } = this.deps.signer();
    return { id: record._id, jws: await signConsentReceipt(payload, privateKey, kid), payload };
  }

  private async resolveLink(kind: LinkKind, token: string): Promise<{ claims: LinkClaims; subject: DataSubjectDoc; purpose: PurposeDoc; tenantName: string } | null> {
    const claims = await verifyLink(kind, token, this.deps.jwks(), this.deps.issuer);
    if (!claims || !isSubjectId(claims.subjectId)) return null;
    const subject = await this.deps.subjectsOf(claims.tenantId).findSubject(claims.subjectId);
    if (!subject || subject.status !== 'ACTIVE') return null;
    const purpose = await this.deps.consentOf(claims.tenantId).findPurposeByKey(claims.purposeKey);
    if (!purpose) return null;
    const tenantName = await this.deps.tenantName(claims.tenantId);
    if (!tenantName) return null;
    return { claims, subject, purpose, tenantName };
  }

  private async purpose(repo: ConsentRepository, key: string, field: string): Promise<PurposeDoc> {
    const purpose = await repo.findPurposeByKey(validPurposeKey(key, field));
    if (!purpose) throw notFoundBecause(`${field}: no consent purpose with this key`);
    return purpose;
  }

  private async liveSubject(tenantId: string, id: string, _field: string): Promise<DataSubjectDoc> {
    if (!isSubjectId(id)) throw notFound('Data subject');
    const doc = await this.deps.subjectsOf(tenantId).findSubject(id);
    if (!doc || doc.status !== 'ACTIVE') throw notFound('Data subject');
    return doc;
  }

  private auditCallerOf(caller: TenantCaller): AuditCaller {
    if (caller.actor.type === 'PUBLIC') throw forbidden('Consent records need a signed-in member or an API key');
    return { tenantId: caller.tenantId, actor: { type: caller.actor.type, id: caller.actor.id }, request: caller.request };
  }

  /**
   * An anonymous visitor of a public page, in the link's tenant. The audit event keeps only the
   * request id: the visitor's ip and user agent are personal data and go only into the proof,
   * sealed under the subject's key (so erasure shreds them).
   */
  private publicCallerIn(tenantId: string, request: RequestInfo): AuditCaller {
    return { tenantId, actor: { type: 'PUBLIC', id: null }, request: { ip: null, userAgent: null, requestId: request.requestId || null } };
  }

  private actorOf(by: AuditCaller): { type: string; id: string | null } {
    return { type: by.actor.type, id: by.actor.id };
  }
}

/** A suppression entry: `<CHANNEL>:<purpose key or *>:<hash>`. */
export function entryOf(channel: Channel, purposeKey: string | null, hash: string): string {
  return `${channel}:${purposeKey ?? '*'}:${hash}`;
}
