import { appError, badInput } from '../../errors.js';
import { inTenant, type TenantCaller } from '../../identity/caller.js';
import { internalRequest, systemCaller } from '../../identity/callers.js';
import type { Logger } from '../../logger.js';
import { auditEvent } from '../audit/audit-builder.js';
import type { AuditSink } from '../audit/audit-event.js';
import type { DsrRepository, RetentionDirectory } from './dsr.repository.js';
import type { RetentionPolicyDoc } from './dsr.document.js';
import { isDuplicateKey } from '../../db/mongo-errors.js';
import type { SubjectErasureService } from './subject-erasure.service.js';
import { accessorOf, subjectNotFound } from './subject.service.js';
import type { SubjectRepository } from './subject.repository.js';

/**
 * Retention (GDPR Art. 5(1)(e), storage limitation). A tenant sets how long it keeps data
 * subjects, data-access log entries and closed requests (days; null keeps forever); a subject
 * may carry its own date. Purging erases subjects past retention through the same
 * crypto-shredding erasure, with receipts (reason RETENTION_PERIOD_ENDED), and deletes
 * access-log entries and closed requests past theirs. Idempotent; one `retention.purged` audit
 * event per tenant per run.
 *
 * When a subject is past retention: its own `retainUntil` when set (whatever the policy), else
 * `subjectRetentionDays` after its last change (`updatedAt`, or `createdAt` when never
 * rectified). Subjects whose processing is restricted (Art. 18) are kept: a restriction is often
 * asked for precisely to preserve data (legal claims); lift it to let retention apply.
 */

export const RETENTION_DAYS_MIN = 1;
export const RETENTION_DAYS_MAX = 36_500;
/** Subjects erased per tenant per run at most (the next run carries on). */
export const RETENTION_ERASURE_BATCH = 500;
const DAY_MS = 86_400_000;

export interface RetentionPolicyInput {
  subjectRetentionDays?: number | null;
  accessLogRetentionDays?: number | null;
  requestRetentionDays?: number | null;
}

export interface RetentionPolicyView {
  subjectRetentionDays: number | null;
  accessLogRetentionDays: number | null;
  requestRetentionDays: number | null;
  updatedAt: Date | null;
}

export interface PurgeCounts {
  subjectsErased: number;
  accessLogEntriesDeleted: number;
  requestsDeleted: number;
}

export interface RetentionDeps {
  dsrOf: (tenantId: string) => DsrRepository;
  subjectsOf: (tenantId: string) => SubjectRepository;
  erasure: SubjectErasureService;
  directory: RetentionDirectory;
  audit: AuditSink;
  logger: Logger;
  now: () => Date;
}

const POLICY_FIELDS = ['subjectRetentionDays', 'accessLogRetentionDays', 'requestRetentionDays'] as const;

function validDays(value: unknown, field: string): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < RETENTION_DAYS_MIN || value > RETENTION_DAYS_MAX) {
    throw badInput(`input.${field}`, `must be a whole number of days from ${RETENTION_DAYS_MIN} to ${RETENTION_DAYS_MAX}, or null to keep`);
  }
  return value;
}

const viewOf = (doc: RetentionPolicyDoc | null): RetentionPolicyView => ({
  subjectRetentionDays: doc?.subjectRetentionDays ?? null,
  accessLogRetentionDays: doc?.accessLogRetentionDays ?? null,
  requestRetentionDays: doc?.requestRetentionDays ?? null,
  updatedAt: doc?.updatedAt ?? null,
});

export class RetentionService {
  constructor(private readonly deps: RetentionDeps) {}

  async policy(caller: TenantCaller): Promise<RetentionPolicyView> {
    return this.policyOf(caller.tenantId);
  }

  /** The tenant's policy (all null when none is set), for the consent module's record of processing (wired in services.ts). */
  async policyOf(tenantId: string): Promise<RetentionPolicyView> {
    return viewOf(await this.deps.dsrOf(tenantId).findPolicy());
  }

  /** Sets the whole policy (a field left out or null keeps that kind of data). */
  async setPolicy(caller: TenantCaller, input: RetentionPolicyInput): Promise<RetentionPolicyView> {
    const values = {
      subjectRetentionDays: validDays(input.subjectRetentionDays, 'subjectRetentionDays'),
      accessLogRetentionDays: validDays(input.accessLogRetentionDays, 'accessLogRetentionDays'),
      requestRetentionDays: validDays(input.requestRetentionDays, 'requestRetentionDays'),
    };
    const repo = this.deps.dsrOf(caller.tenantId);
    const now = this.deps.now();
    const updatedBy = accessorOf(caller);
    let saved: RetentionPolicyDoc | null = null;
    for (let attempt = 0; attempt < 3 && !saved; attempt++) {
      const current = await repo.findPolicy();
      if (current) {
        saved = await repo.updatePolicy(current.revision, { ...values, updatedAt: now, updatedBy });
      } else {
        try {
          saved = await repo.insertPolicy({ ...values, updatedAt: now, updatedBy, revision: 1 });
        } catch (error) {
          if (!isDuplicateKey(error)) throw error; // created meanwhile: update it on the next attempt
        }
      }
    }
    if (!saved) throw appError('CONFLICT', 'The retention policy changed meanwhile; retry');
    const details: Partial<Record<(typeof POLICY_FIELDS)[number], number>> = {};
    for (const field of POLICY_FIELDS) if (values[field] !== null) details[field] = values[field];
    await this.deps.audit.append(auditEvent('retention.policy_set', { caller, resource: { id: caller.tenantId }, details }));
    return viewOf(saved);
  }

  /** A subject's own retention date (null clears it: the policy applies). Must lie in the future. */
  async setSubjectRetention(caller: TenantCaller, subjectId: string, until: Date | null): Promise<{ subjectId: string; retainUntil: Date | null }> {
    const now = this.deps.now();
    if (until !== null) {
      if (!(until instanceof Date) || Number.isNaN(until.getTime())) throw badInput('until', 'must be a date-time');
      if (until.getTime() <= now.getTime()) throw badInput('until', 'must be in the future (erase the subject now with eraseSubject)');
      if (until.getTime() > now.getTime() + RETENTION_DAYS_MAX * DAY_MS) throw badInput('until', `must be within ${RETENTION_DAYS_MAX} days`);
    }
    const repo = this.deps.subjectsOf(caller.tenantId);
    if (typeof subjectId !== 'string' || !/^ds_[0-9a-f]{24}$/.test(subjectId)) throw subjectNotFound();
    const doc = await repo.findSubject(subjectId);
    if (!doc || doc.status !== 'ACTIVE') throw subjectNotFound();
    const updated = await repo.updateSubject(doc._id, doc.revision, { $set: { retainUntil: until } });
    if (!updated) throw appError('CONFLICT', 'The data subject changed meanwhile; retry');
    await this.deps.audit.append(auditEvent('subject.retention_set', { caller, resource: { id: doc._id }, details: until ? { until: until.toISOString() } : {} }));
    return { subjectId: doc._id, retainUntil: until };
  }

  /** purgeExpiredData: the caller's tenant, now. */
  purge(caller: TenantCaller): Promise<PurgeCounts> {
    return this.purgeTenant(caller, 'ON_DEMAND');
  }

  /** The scheduled sweep: every tenant with a policy or a subject past its own date. Returns the totals. */
  async sweep(): Promise<PurgeCounts> {
    const total: PurgeCounts = { subjectsErased: 0, accessLogEntriesDeleted: 0, requestsDeleted: 0 };
    for (const tenantId of await this.deps.directory.tenantsToSweep(this.deps.now())) {
      const caller = inTenant(systemCaller('retention-sweep', internalRequest(`retention-${Date.now()}`), { tenantId, role: 'OWNER' }));
      try {
        const counts = await this.purgeTenant(caller, 'SWEEP');
        total.subjectsErased += counts.subjectsErased;
        total.accessLogEntriesDeleted += counts.accessLogEntriesDeleted;
        total.requestsDeleted += counts.requestsDeleted;
      } catch (error) {
        this.deps.logger.error({ err: error, tenantId }, 'retention sweep failed for a tenant; the next sweep retries');
      }
    }
    if (total.subjectsErased + total.accessLogEntriesDeleted + total.requestsDeleted > 0) this.deps.logger.info({ event: 'retention.sweep', ...total }, 'purged data past retention');
    return total;
  }

  private async purgeTenant(caller: TenantCaller, trigger: 'SWEEP' | 'ON_DEMAND'): Promise<PurgeCounts> {
    const now = this.deps.now();
    const dsr = this.deps.dsrOf(caller.tenantId);
    const subjects = this.deps.subjectsOf(caller.tenantId);
    const policy = viewOf(await dsr.findPolicy());
    const cutoff = (days: number | null) => (days === null ? null : new Date(now.getTime() - days * DAY_MS));

    const due = await subjects.pastRetention(now, cutoff(policy.subjectRetentionDays), RETENTION_ERASURE_BATCH);
    let subjectsErased = 0;
    for (const id of due) {
      try {
        const outcome = await this.deps.erasure.erase(caller, id, 'RETENTION_PERIOD_ENDED');
        if (outcome.started) subjectsErased++;
      } catch (error) {
        this.deps.logger.error({ err: error, tenantId: caller.tenantId, subjectId: id }, 'retention could not erase a subject; the next run retries');
      }
    }
    const logCutoff = cutoff(policy.accessLogRetentionDays);
    const accessLogEntriesDeleted = logCutoff ? await subjects.deleteAccessLogBefore(logCutoff) : 0;
    const requestCutoff = cutoff(policy.requestRetentionDays);
    const requestsDeleted = requestCutoff ? await dsr.deleteClosedBefore(requestCutoff) : 0;
    const counts = { subjectsErased, accessLogEntriesDeleted, requestsDeleted };
    await this.deps.audit.append(auditEvent('retention.purged', { caller, resource: { id: caller.tenantId }, details: { trigger, ...counts } }));
    return counts;
  }
}
