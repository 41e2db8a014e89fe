import { Binary } from 'mongodb';
import { IntegrityError } from '../../crypto/aes-gcm.js';
import { badInput, notFoundBecause } from '../../errors.js';
import type { TenantCaller } from '../../identity/caller.js';
import type { Logger } from '../../logger.js';
import { auditEvent, type AuditCaller } from '../audit/audit-builder.js';
import type { AuditSink } from '../audit/audit-event.js';
import { completeStep, nextStep, stateAfterVerification, type ErasureStep } from './erasure-plan.js';
import { buildErasureReceipt, ERASURE_REASON_CODES, signReceipt, type ErasureCheck, type ErasureReasonCode, type ReceiptSigningKey } from './erasure-receipt.js';
import { openSubjectField } from './subject-cipher.js';
import type { SubjectKeyStore } from './subject-keys.js';
import { accessorOf, subjectNotFound } from './subject.service.js';
import { ACCESS_LOG_COLLECTION, SUBJECT_FIELDS, SUBJECT_KEYS_COLLECTION, SUBJECTS_COLLECTION, type DataSubjectDoc, type ErasureDoc } from './subject.document.js';
import type { SubjectRepository } from './subject.repository.js';

/** Called after each step is recorded; a test stops the erasure there (by throwing) to prove it resumes. */
export type ErasureStepHook = (step: ErasureStep, subjectId: string) => void | Promise<void>;

export interface ErasureDeps {
  subjectsOf: (tenantId: string) => SubjectRepository;
  keyStore: SubjectKeyStore;
  audit: AuditSink;
  logger: Logger;
  signer: () => { privateKey: ReceiptSigningKey; kid: string };
  /** Tenants with an unfinished erasure (a cross-tenant read of ids only), for resume on start. */
  tenantsWithErasures: () => Promise<string[]>;
  afterStep?: ErasureStepHook;
  /** Suppression entries (consent module) that match the subject's contact points: counted at planning, kept, named in the receipt. */
  suppressionEntriesKept?: (tenantId: string, subjectId: string) => Promise<number>;
}

export interface ErasureOutcome {
  subjectId: string;
  tombstoneId: string;
  state: ErasureDoc['state'];
  erasedAt: Date | null;
  receipt: string | null;
}

const MAX_VERIFY_ATTEMPTS = 3;

const outcomeOf = (doc: DataSubjectDoc): ErasureOutcome => ({
  subjectId: doc._id,
  tombstoneId: doc._id,
  state: doc.erasure?.state ?? 'PENDING',
  erasedAt: doc.erasure?.erasedAt ?? null,
  receipt: doc.erasure?.receipt ?? null,
});

/**
 * Erasure by crypto-shredding (DESIGN.md §8), a stored plan (erasure-plan.ts) driven step by step:
 * KEY_DESTROYED (wrapped key deleted, evicted here) → INDEX_REMOVED (blind-index entries and the
 * external-id hash) → RECORDS_SCRUBBED (sealed fields, restriction, access log) → VERIFIED (post-
 * conditions) → DONE (signed receipt kept on the tombstone). Each step is idempotent and recorded
 * with a compare-and-set on the stored state, so any instance resumes from any state.
 */
export class SubjectErasureService {
  constructor(private readonly deps: ErasureDeps) {}

  /**
   * Starts (or resumes) the erasure and runs it to the end; a finished erasure returns its receipt again.
   * `requestId` names the data-subject request that asked for it (kept in the receipt); `started`
   * says whether this call planned the erasure (retention counts only those).
   */
  async erase(caller: TenantCaller, subjectId: string, reasonCode: ErasureReasonCode, options: { requestId?: string | null } = {}): Promise<ErasureOutcome & { started: boolean }> {
    if (!(ERASURE_REASON_CODES as readonly string[]).includes(reasonCode)) throw badInput('reason', 'is not a known erasure reason code');
    const repo = this.deps.subjectsOf(caller.tenantId);
    if (typeof subjectId !== 'string' || !/^ds_[0-9a-f]{24}$/.test(subjectId)) throw subjectNotFound();
    let doc = await repo.findSubject(subjectId);
    if (!doc) throw subjectNotFound();
    let started = false;
    if (doc.status === 'ACTIVE') {
      const sampleField = SUBJECT_FIELDS.find((f) => doc!.sealed[f]);
      const erasure: ErasureDoc = {
        state: 'PENDING',
        reasonCode,
        requestedAt: new Date(),
        requestedBy: accessorOf(caller),
        formerLookup: [...doc.lookup, ...(doc.externalKey.startsWith('x:') ? [doc.externalKey] : [])],
        sample: sampleField ? { field: sampleField, blob: doc.sealed[sampleField]! } : null,
        requestId: options.requestId ?? null,
        recordsRemoved: {
          [SUBJECT_KEYS_COLLECTION]: await repo.countKeysOf(doc._id),
          [SUBJECTS_COLLECTION]: 1,
          [ACCESS_LOG_COLLECTION]: await repo.countAccessLogOf(doc._id),
        },
        erasedAt: null,
        receipt: null,
        ...(this.deps.suppressionEntriesKept ? { suppressionEntriesKept: await this.deps.suppressionEntriesKept(repo.tenantId, doc._id) } : {}),
      };
      const planned = await repo.updateSubject(doc._id, doc.revision, { $set: { status: 'ERASING', erasure } });
      if (planned) {
        await this.deps.audit.append(auditEvent('subject.erasure_started', { caller, resource: { id: doc._id }, details: { reasonCode } }));
        doc = planned;
        started = true;
      } else {
        doc = await repo.findSubject(subjectId);
        if (!doc) throw subjectNotFound();
      }
    }
    if (doc.status === 'ACTIVE') throw subjectNotFound(); // changed twice meanwhile: let the caller retry
    return { ...outcomeOf(await this.run(repo, doc, caller)), started };
  }

  /** The receipt of a finished erasure. */
  async receipt(caller: TenantCaller, subjectId: string): Promise<ErasureOutcome> {
    const repo = this.deps.subjectsOf(caller.tenantId);
    const doc = typeof subjectId === 'string' && /^ds_[0-9a-f]{24}$/.test(subjectId) ? await repo.findSubject(subjectId) : null;
    if (!doc) throw subjectNotFound();
    if (!doc.erasure) throw notFoundBecause('This data subject has not been erased');
    if (doc.status !== 'ERASED') return outcomeOf(await this.run(repo, doc, null));
    return outcomeOf(doc);
  }

  /** Completes every unfinished erasure (at start; errors are logged, the next call retries). */
  async resumeAll(): Promise<number> {
    let resumed = 0;
    for (const tenantId of await this.deps.tenantsWithErasures()) {
      const repo = this.deps.subjectsOf(tenantId);
      for (const doc of await repo.erasing()) {
        try {
          await this.run(repo, doc, null);
          resumed += 1;
        } catch (error) {
          this.deps.logger.error({ err: error, tenantId, subjectId: doc._id }, 'could not resume an erasure; the next start or call retries');
        }
      }
    }
    return resumed;
  }

  /** Runs the remaining steps of a stored plan. `caller` null: resumed by the system. */
  private async run(repo: SubjectRepository, start: DataSubjectDoc, caller: TenantCaller | null): Promise<DataSubjectDoc> {
    let doc = start;
    for (let verifications = 0; ; ) {
      const erasure = doc.erasure;
      if (!erasure) throw new Error('an erasing subject without a plan');
      const step = nextStep(erasure.state);
      if (step === null) return doc;
      const set: Record<string, unknown> = {};
      const unset: Record<string, ''> = {};
      let newState = completeStep(erasure.state, step);
      if (step === 'KEY_DESTROYED') {
        await this.deps.keyStore.destroy(repo, doc._id, doc.keyId);
      } else if (step === 'INDEX_REMOVED') {
        set.lookup = [];
        set.externalKey = `erased:${doc._id}`;
      } else if (step === 'RECORDS_SCRUBBED') {
        await repo.deleteAccessLogOf(doc._id);
        set.sealed = {};
        set.restriction = null;
      } else if (step === 'VERIFIED') {
        const checks = await this.checks(repo, doc);
        newState = stateAfterVerification(erasure.state, checks.every((c) => c.passed));
        if (newState === 'PENDING' && ++verifications >= MAX_VERIFY_ATTEMPTS) {
          this.deps.logger.error({ tenantId: repo.tenantId, subjectId: doc._id, checks }, 'erasure verification keeps failing');
          throw new Error('erasure verification failed');
        }
        set['erasure.checks'] = checks;
      } else {
        const erasedAt = new Date();
        const checks = erasure.checks ?? (await this.checks(repo, doc));
        const payload = buildErasureReceipt({
          tenantId: repo.tenantId,
          tombstoneId: doc._id,
          erasedAt,
          requestId: erasure.requestId ?? null,
          reasonCode: erasure.reasonCode,
          keyId: doc.keyId,
          recordsRemoved: erasure.recordsRemoved,
          blindIndexEntriesRemoved: erasure.formerLookup.length,
          checks,
          suppressionEntriesKept: erasure.suppressionEntriesKept,
        });
        const { privateKey, kid } = this.deps.signer();
        set['erasure.receipt'] = await signReceipt(payload, privateKey, kid);
        set['erasure.erasedAt'] = erasedAt;
        set.status = 'ERASED';
        // The tombstone keeps ids, times, the reason code, counts and the receipt: no personal data, no hash of it.
        unset['erasure.formerLookup'] = '';
        unset['erasure.sample'] = '';
      }
      set['erasure.state'] = newState;
      const update = Object.keys(unset).length ? { $set: set, $unset: unset } : { $set: set };
      const updated = await repo.updateSubject(doc._id, doc.revision, update);
      if (!updated) {
        // Another instance moved the plan on: carry on from what it stored.
        const fresh = await repo.findSubject(doc._id);
        if (!fresh) throw subjectNotFound();
        doc = fresh;
        continue;
      }
      doc = updated;
      if (step === 'DONE') {
        const by: AuditCaller = caller ?? { tenantId: repo.tenantId, actor: { type: 'SYSTEM', id: null } };
        const removed = erasure.recordsRemoved;
        await this.deps.audit.append(
          auditEvent('subject.erased', {
            caller: by,
            resource: { id: doc._id },
            details: {
              reasonCode: erasure.reasonCode,
              keyId: doc.keyId,
              subjectKeysRemoved: removed[SUBJECT_KEYS_COLLECTION] ?? 0,
              subjectRecordsRemoved: removed[SUBJECTS_COLLECTION] ?? 0,
              accessLogEntriesRemoved: removed[ACCESS_LOG_COLLECTION] ?? 0,
              blindIndexEntriesRemoved: erasure.formerLookup.length,
            },
          }),
        );
      }
      if (newState !== 'PENDING') await this.deps.afterStep?.(step, doc._id);
    }
  }

  /** The post-conditions, each by name (machine names, as the receipt requires). */
  private async checks(repo: SubjectRepository, doc: DataSubjectDoc): Promise<ErasureCheck[]> {
    const erasure = doc.erasure!;
    const checks: ErasureCheck[] = [];
    checks.push({ name: 'subject_key_destroyed', passed: (await repo.countKeysOf(doc._id)) === 0 });
    for (const kind of ['email', 'phone', 'identity'] as const) {
      const entries = erasure.formerLookup.filter((entry) => entry.startsWith(`${kind}:`));
      const found = (await Promise.all(entries.map((entry) => repo.idsWithLookup(entry)))).some((ids) => ids.includes(doc._id));
      checks.push({ name: `lookup_by_former_${kind}_finds_nothing`, passed: !found });
    }
    const current = await repo.findSubject(doc._id);
    checks.push({ name: 'blind_index_entries_removed', passed: !!current && current.lookup.length === 0 && !current.externalKey.startsWith('x:') });
    checks.push({ name: 'personal_fields_removed', passed: !!current && Object.keys(current.sealed ?? {}).length === 0 && current.restriction === null });
    checks.push({ name: 'access_log_removed', passed: (await repo.countAccessLogOf(doc._id)) === 0 });
    checks.push({ name: 'sampled_ciphertext_unreadable', passed: await this.sampleUnreadable(repo, doc) });
    return checks;
  }

  /** The ciphertext sampled before erasure no longer opens: the key is gone from the store and from this instance's cache. */
  private async sampleUnreadable(repo: SubjectRepository, doc: DataSubjectDoc): Promise<boolean> {
    const sample = doc.erasure?.sample;
    if (!sample) return true;
    const key = await this.deps.keyStore.subjectKey(repo, doc._id, doc.keyId);
    if (!key) return true;
    try {
      openSubjectField(key, { tenantId: repo.tenantId, subjectId: doc._id, field: sample.field }, Buffer.from((sample.blob as Binary).buffer));
      return false;
    } catch (error) {
      return error instanceof IntegrityError;
    } finally {
      key.fill(0);
    }
  }
}
