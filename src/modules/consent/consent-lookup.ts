import { forbidden, notFound, notFoundBecause } from '../../errors.js';
import type { RequestInfo, TenantCaller } from '../../identity/caller.js';
import type { AuditCaller } from '../audit/audit-builder.js';
import type { DataSubjectDoc } from '../privacy/subject.document.js';
import type { SubjectRepository } from '../privacy/subject.repository.js';
import { isSubjectId, validPurposeKey } from './consent-rules.js';
import type { PurposeDoc } from './consent.document.js';
import type { ConsentRepository } from './consent.repository.js';

/** Lookups and callers shared by the consent services: a purpose by key, a live subject, who acts. */

/** The purpose with this key; NOT_FOUND naming `field` when there is none. */
export async function purposeByKey(repo: ConsentRepository, key: string, field: string): Promise<PurposeDoc> {
  const purpose = await repo.findPurposeByKey(validPurposeKey(key, field));
  if (!purpose) throw notFoundBecause(`${field}: no consent purpose with this key`);
  return purpose;
}

/** An ACTIVE subject of the tenant; NOT_FOUND otherwise (also for a malformed id). */
export async function liveSubject(subjectsOf: (tenantId: string) => SubjectRepository, tenantId: string, id: string): Promise<DataSubjectDoc> {
  if (!isSubjectId(id)) throw notFound('Data subject');
  const doc = await subjectsOf(tenantId).findSubject(id);
  if (!doc || doc.status !== 'ACTIVE') throw notFound('Data subject');
  return doc;
}

/** A signed-in member or an API key; the public caller is refused. */
export function auditCallerOf(caller: TenantCaller): AuditCaller {
  if (caller.actor.type === 'PUBLIC') throw forbidden('Consent records need a signed-in member or an API key');
  return { tenantId: caller.tenantId, actor: { type: caller.actor.type, id: caller.actor.id }, request: caller.request };
}

/**
 * An anonymous visitor of a public page, in the link's tenant. The audit event keeps only the
 * request id: the visitor's ip and user agent are personal data and go only into the proof,
 * sealed under the subject's key (so erasure shreds them).
 */
export function publicCallerIn(tenantId: string, request: RequestInfo): AuditCaller {
  return { tenantId, actor: { type: 'PUBLIC', id: null }, request: { ip: null, userAgent: null, requestId: request.requestId || null } };
}

/** The actor stored on a ledger record. */
export function actorOf(by: AuditCaller): { type: string; id: string | null } {
  return { type: by.actor.type, id: by.actor.id };
}
