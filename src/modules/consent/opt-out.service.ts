import { randomBytes } from 'node:crypto';
import { badInput } from '../../errors.js';
import type { TenantCaller } from '../../identity/caller.js';
import { auditEvent, type AuditCaller } from '../audit/audit-builder.js';
import type { AuditSink } from '../audit/audit-event.js';
import type { DataSubjectDoc } from '../privacy/subject.document.js';
import type { SubjectRepository } from '../privacy/subject.repository.js';
import type { ConsentLedgerService } from './consent-ledger.service.js';
import { actorOf, auditCallerOf, liveSubject, purposeByKey } from './consent-lookup.js';
import { validChannel, validProof, validReason, validSource, type Proof, type ProofInput } from './consent-rules.js';
import type { SuppressionHashes } from './consent-suppression.js';
import type { Channel, OptOutReason, OptOutSource } from './consent-vocab.js';
import type { ConsentRepository } from './consent.repository.js';

export interface OptOutServiceDeps {
  consentOf: (tenantId: string) => ConsentRepository;
  subjectsOf: (tenantId: string) => SubjectRepository;
  audit: AuditSink;
  /** Writes the OPT_OUT and OPT_IN records. */
  ledger: Pick<ConsentLedgerService, 'append'>;
  suppression: SuppressionHashes;
}

/**
 * Opt-outs and opt-ins per channel (and purpose), the suppression list they maintain, and the
 * statistics over them (docs/ARCHITECTURE.md §14). Suppression entries hold keyed hashes of
 * contact points, never a subject id, and outlive the subject's erasure.
 */
export class OptOutService {
  constructor(private readonly deps: OptOutServiceDeps) {}

  async optOut(caller: TenantCaller, input: { subjectId: string; channel: Channel; reason: OptOutReason; source: OptOutSource; purpose?: string | null; proof?: ProofInput | null }) {
    const channel = validChannel(input.channel, 'channel');
    const reason = validReason(input.reason);
    const source = validSource(input.source);
    const proof = validProof(input.proof);
    const repo = this.deps.consentOf(caller.tenantId);
    const purpose = input.purpose == null ? null : await purposeByKey(repo, input.purpose, 'purpose');
    const subject = await liveSubject(this.deps.subjectsOf, caller.tenantId, input.subjectId);
    return this.appendOptOut(repo, auditCallerOf(caller), subject, channel, purpose?.key ?? null, reason, source, proof);
  }

  async optIn(caller: TenantCaller, input: { subjectId: string; channel: Channel; purpose?: string | null; proof?: ProofInput | null; source?: OptOutSource | null }) {
    const channel = validChannel(input.channel, 'channel');
    const proof = validProof(input.proof);
    if (!proof) throw badInput('proof', 'an opt-in needs proof (at least one of ip, userAgent, capturedAt, evidence)');
    const source = input.source == null ? 'API' : validSource(input.source);
    const repo = this.deps.consentOf(caller.tenantId);
    const purpose = input.purpose == null ? null : await purposeByKey(repo, input.purpose, 'purpose');
    const subject = await liveSubject(this.deps.subjectsOf, caller.tenantId, input.subjectId);
    const record = await this.deps.ledger.append(repo, subject, {
      kind: 'OPT_IN', subjectId: subject._id, purposeId: purpose?._id ?? null, purposeKey: purpose?.key ?? null, channel, granted: true,
      method: null, noticeVersion: null, noticeSha256: null, legalBasis: null, gpc: false, reason: null, source, at: new Date(), proof: null,
      actor: actorOf(auditCallerOf(caller)),
    }, proof);
    const entries = await this.deps.suppression.entriesOf(caller.tenantId, subject, channel, purpose?.key ?? null);
    const removed = await repo.removeSuppressions(entries);
    await this.deps.audit.append(
      auditEvent('consent.opted_in', {
        caller: auditCallerOf(caller),
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

  /** Appends an OPT_OUT record, adds the suppression entry of the subject's contact point, audits it (also for the public unsubscribe). */
  async appendOptOut(repo: ConsentRepository, by: AuditCaller, subject: DataSubjectDoc, channel: Channel, purposeKey: string | null, reason: OptOutReason, source: OptOutSource, proof: Proof | null) {
    const purpose = purposeKey ? await repo.findPurposeByKey(purposeKey) : null;
    const record = await this.deps.ledger.append(repo, subject, {
      kind: 'OPT_OUT', subjectId: subject._id, purposeId: purpose?._id ?? null, purposeKey, channel, granted: false, method: null,
      noticeVersion: null, noticeSha256: null, legalBasis: null, gpc: false, reason, source, at: new Date(), proof: null, actor: actorOf(by),
    }, proof);
    const entries = await this.deps.suppression.entriesOf(repo.tenantId, subject, channel, purposeKey);
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

  // ---------------------------------------------------------------- for the privacy module (erasure)

  /** Suppression entries that hold for the subject's current contact points (counted when an erasure is planned: they are kept). */
  async suppressionEntriesKept(tenantId: string, subjectId: string): Promise<number> {
    const subject = await this.deps.subjectsOf(tenantId).findSubject(subjectId);
    if (!subject) return 0;
    const mine = (await this.deps.suppression.contactHashes(tenantId, [subject])).get(subject._id);
    if (!mine) return 0;
    const hashes = [mine.email, mine.phone].filter((h): h is string => !!h);
    const entries = await this.deps.consentOf(tenantId).suppressionsWithHashes(hashes);
    return entries.length;
  }
}
