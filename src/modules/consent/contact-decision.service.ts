import { badInput, notFound } from '../../errors.js';
import type { TenantCaller } from '../../identity/caller.js';
import { auditEvent, type AuditCaller } from '../audit/audit-builder.js';
import type { AuditSink } from '../audit/audit-event.js';
import { suppressionHash } from '../privacy/blind-index.js';
import { normaliseEmail, normalisePhone } from '../privacy/contact-points.js';
import type { SubjectKeyStore } from '../privacy/subject-keys.js';
import { emailEntry, phoneEntry } from '../privacy/subject-rules.js';
import type { DataSubjectDoc } from '../privacy/subject.document.js';
import type { SubjectRepository } from '../privacy/subject.repository.js';
import type { ConsentLedgerService } from './consent-ledger.service.js';
import { actorOf, auditCallerOf, purposeByKey } from './consent-lookup.js';
import { CONSENT_LIMITS, isSubjectId, validChannel } from './consent-rules.js';
import { contactReasons, latestGpcSeq } from './consent-state.js';
import { entryOf, type SuppressionHashes } from './consent-suppression.js';
import type { ConsentTenantKeys } from './consent-tenant-keys.js';
import { contactKindOf, type Channel, type ContactReason } from './consent-vocab.js';
import type { PurposeDoc } from './consent.document.js';
import type { ConsentRepository } from './consent.repository.js';

export interface ContactDecisionServiceDeps {
  consentOf: (tenantId: string) => ConsentRepository;
  subjectsOf: (tenantId: string) => SubjectRepository;
  /** The blind-index key, to find recipients given by email or phone. */
  keyStore: SubjectKeyStore;
  /** The suppression key, to hash recipients given by email or phone. */
  keys: ConsentTenantKeys;
  suppression: SuppressionHashes;
  /** Writes the GPC record of a contact check with a GPC signal. */
  ledger: Pick<ConsentLedgerService, 'append'>;
  audit: AuditSink;
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

/**
 * May this recipient be contacted on this channel for this purpose (docs/ARCHITECTURE.md §14)?
 * The subject's status and restriction, its consent and opt-out records, a GPC signal and the
 * suppression list decide; every reason against is returned.
 */
export class ContactDecisionService {
  constructor(private readonly deps: ContactDecisionServiceDeps) {}

  async canContact(caller: TenantCaller, subjectId: string, channel: Channel, purposeKey: string, gpc: boolean): Promise<ContactDecisionView> {
    const ch = validChannel(channel);
    const repo = this.deps.consentOf(caller.tenantId);
    const purpose = await purposeByKey(repo, purposeKey, 'purpose');
    if (!isSubjectId(subjectId)) throw notFound('Data subject');
    const subject = await this.deps.subjectsOf(caller.tenantId).findSubject(subjectId);
    if (!subject) throw notFound('Data subject');
    if (gpc && subject.status === 'ACTIVE') await this.applyGpcSignal(repo, auditCallerOf(caller), subject);
    const [decision] = await this.decide(caller.tenantId, repo, [{ ref: { subjectId }, subject }], ch, purpose, false);
    return decision!;
  }

  /** Up to 1,000 recipients in a handful of `$in` reads, whatever the tenant's size. */
  async canContactMany(caller: TenantCaller, contacts: ContactRef[], channel: Channel, purposeKey: string): Promise<ContactDecisionView[]> {
    const ch = validChannel(channel);
    if (!Array.isArray(contacts) || contacts.length === 0 || contacts.length > CONSENT_LIMITS.manyMax) throw badInput('contacts', `must list 1 to ${CONSENT_LIMITS.manyMax} recipients`);
    const repo = this.deps.consentOf(caller.tenantId);
    const purpose = await purposeByKey(repo, purposeKey, 'purpose');
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
    const lookupOf = (r: (typeof refs)[number]) => (r.email ? emailEntry(indexKey!, r.email) : r.phone ? phoneEntry(indexKey!, r.phone) : null);
    const lookups = refs.map(lookupOf);
    indexKey?.fill(0);
    const found = await subjects.findByLookups(lookups.filter((e): e is string => e !== null));
    const items = refs.map((r, i) => {
      const entry = lookups[i];
      const subject = r.subjectId ? byId.get(r.subjectId) ?? null : found.find((s) => s.lookup.includes(entry!)) ?? null;
      return { ref: r, subject };
    });
    return this.decide(caller.tenantId, repo, items, ch, purpose, false);
  }

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
    const [records, hashes] = await Promise.all([repo.recordsOfSubjects(unique.map((s) => s._id)), this.deps.suppression.contactHashes(tenantId, unique)]);
    const kind = contactKindOf(channel);
    const supKey = kind && items.some((i) => i.ref.email || i.ref.phone) ? await this.deps.keys.suppressionKey(tenantId) : null;
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

  /** A GPC signal on a contact check: recorded once, unless the latest signal is still in force for every purpose. */
  private async applyGpcSignal(repo: ConsentRepository, by: AuditCaller, subject: DataSubjectDoc): Promise<void> {
    const records = await repo.recordsOfSubjects([subject._id]);
    const signal = latestGpcSeq(records);
    const lastGrant = records.filter((r) => r.kind === 'CONSENT' && r.granted && !r.gpc).reduce((m, r) => Math.max(m, r.seq), 0);
    if (signal > 0 && signal > lastGrant) return;
    const record = await this.deps.ledger.append(repo, subject, {
      kind: 'GPC', subjectId: subject._id, purposeId: null, purposeKey: null, channel: null, granted: false, method: 'GPC',
      noticeVersion: null, noticeSha256: null, legalBasis: null, gpc: true, reason: null, source: null, at: new Date(), proof: null, actor: actorOf(by),
    }, null);
    await this.deps.audit.append(auditEvent('consent.gpc_signalled', { caller: by, resource: { id: subject._id }, details: { recordId: record._id } }));
  }
}
