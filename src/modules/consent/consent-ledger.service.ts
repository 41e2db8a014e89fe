import { fromCursor, toCursor } from '../../db/cursor.js';
import { badInput, conflict, notFound } from '../../errors.js';
import type { TenantCaller } from '../../identity/caller.js';
import { auditEvent, type AuditCaller } from '../audit/audit-builder.js';
import type { AuditSink } from '../audit/audit-event.js';
import { openSubjectField, sealSubjectField } from '../privacy/subject-cipher.js';
import type { SubjectKeyStore } from '../privacy/subject-keys.js';
import type { DataSubjectDoc } from '../privacy/subject.document.js';
import type { SubjectRepository } from '../privacy/subject.repository.js';
import { appendRecord, newRecordId, verifyLedger, type LedgerVerification, type UnlinkedRecord } from './consent-ledger.js';
import { actorOf, auditCallerOf, liveSubject, purposeByKey } from './consent-lookup.js';
import { signConsentReceipt, type ConsentReceiptPayload, type ReceiptKey } from './consent-receipt.js';
import { CONSENT_LIMITS, isSubjectId, validChannel, validMethod, validProof, type Proof, type ProofInput } from './consent-rules.js';
import { consentEntries, latestGpcSeq, optedOut, type ConsentEntryState } from './consent-state.js';
import type { ConsentTenantKeys } from './consent-tenant-keys.js';
import type { Channel, ConsentMethod } from './consent-vocab.js';
import type { LedgerRecordDoc, PurposeDoc } from './consent.document.js';
import type { ConsentRepository } from './consent.repository.js';

export interface ConsentLedgerServiceDeps {
  consentOf: (tenantId: string) => ConsentRepository;
  subjectsOf: (tenantId: string) => SubjectRepository;
  keyStore: SubjectKeyStore;
  /** The tenant's ledger key. */
  keys: ConsentTenantKeys;
  audit: AuditSink;
  signer: () => { privateKey: ReceiptKey; kid: string };
  tenantName: (tenantId: string) => Promise<string>;
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

const proofField = (recordId: string) => `consent_proof:${recordId}`;

/**
 * Consent (GDPR Art. 7) on the ledger (docs/ARCHITECTURE.md §14): recording and withdrawing it,
 * a subject's status and history, signed receipts, verification; and the one way into the ledger
 * the other consent services share (`append`, `appendConsent`). Every decision is an immutable,
 * chained ledger record with its proof sealed under the subject's key; current state is computed
 * from the subject's records (latest wins).
 */
export class ConsentLedgerService {
  constructor(private readonly deps: ConsentLedgerServiceDeps) {}

  async recordConsent(caller: TenantCaller, input: RecordConsentInput) {
    const repo = this.deps.consentOf(caller.tenantId);
    const purpose = await purposeByKey(repo, input.purpose, 'input.purpose');
    const channel = validChannel(input.channel, 'input.channel');
    const method = validMethod(input.method, 'input.method');
    if (typeof input.granted !== 'boolean') throw badInput('input.granted', 'must be true or false');
    if (input.granted && purpose.retiredAt) throw conflict('input.purpose: this purpose is retired and takes no new consent');
    const noticeVersion = input.noticeVersion ?? purpose.currentNoticeVersion;
    const notice = purpose.notices.find((n) => n.version === noticeVersion);
    if (!notice) throw badInput('input.noticeVersion', `must be a published notice version of this purpose (1 to ${purpose.currentNoticeVersion})`);
    const proof = validProof(input.proof, 'input.proof');
    const subject = await liveSubject(this.deps.subjectsOf, caller.tenantId, input.subjectId);
    const gpc = input.gpc === true || method === 'GPC';
    return this.appendConsent(repo, auditCallerOf(caller), subject, purpose, channel, input.granted, method, notice, proof, gpc);
  }

  async withdrawConsent(caller: TenantCaller, subjectId: string, purposeKey: string, channel: Channel) {
    return this.recordConsent(caller, { subjectId, purpose: purposeKey, channel, granted: false, method: 'API' });
  }

  async status(caller: TenantCaller, subjectId: string) {
    const subject = await liveSubject(this.deps.subjectsOf, caller.tenantId, subjectId);
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
    const key = await this.deps.keys.ledgerKey(caller.tenantId);
    try {
      return await verifyLedger(this.deps.consentOf(caller.tenantId), key);
    } finally {
      key.fill(0);
    }
  }

  // ---------------------------------------------------------------- for the privacy module (export)

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

  // ---------------------------------------------------------------- writing the ledger (shared by the consent services)

  /** Appends a CONSENT record (a grant or a withdrawal) and audits it. */
  async appendConsent(
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
      actor: actorOf(by),
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

  /** Seals the proof under the subject key (field `consent_proof:<recordId>`) and links the record into the ledger. */
  async append(repo: ConsentRepository, subject: DataSubjectDoc, record: UnlinkedRecord, proof: Proof | null): Promise<LedgerRecordDoc> {
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
    const ledgerKey = await this.deps.keys.ledgerKey(repo.tenantId);
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
}
