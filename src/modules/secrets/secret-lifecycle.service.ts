import { conflict, badInput, notFound, notFoundBecause } from '../../errors.js';
import type { AuditSink } from '../audit/audit-event.js';
import type { TenantCaller } from '../../identity/caller.js';
import type { SecretDoc } from './secret.document.js';
import type { SecretRepository } from './secret.repository.js';
import { validName, withinPrefixes } from './secret-rules.js';
import { assertNameAllowed } from './secret.service.js';
import { auditEvent } from '../audit/audit-builder.js';

interface LifecycleDeps {
  secretsOf: (tenantId: string) => SecretRepository;
  audit: AuditSink;
  recoveryDays: number;
}

const CAS_ATTEMPTS = 8;

/** Soft delete, restore, destroying versions and purging. */
export class SecretLifecycleService {
  constructor(private readonly deps: LifecycleDeps) {}

  /** When a soft-deleted secret stops being restorable (and the sweep purges it). */
  purgeAfter(deletedAt: Date): Date {
    return new Date(deletedAt.getTime() + this.deps.recoveryDays * 86_400_000);
  }

  private async load(principal: TenantCaller, name: string): Promise<SecretDoc> {
    validName(name);
    await assertNameAllowed(principal, name, this.deps.audit);
    const doc = await this.deps.secretsOf(principal.tenantId).findByName(name);
    if (!doc || !withinPrefixes(doc.name, principal.prefixes)) throw notFound(`Secret "${name}"`);
    return doc;
  }

  /** Retries a compare-and-set write against fresh reads until it lands. */
  private async write(principal: TenantCaller, name: string, step: (doc: SecretDoc) => Partial<SecretDoc>): Promise<SecretDoc> {
    const repo = this.deps.secretsOf(principal.tenantId);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const doc = await this.load(principal, name);
      const changes = step(doc);
      if (await repo.compareAndSet(doc._id, doc.revision, { $set: changes })) return { ...doc, ...changes, revision: doc.revision + 1 };
    }
    throw conflict(`Secret "${name}" is being changed concurrently; try again`);
  }

  async softDelete(principal: TenantCaller, name: string): Promise<SecretDoc> {
    const doc = await this.write(principal, name, (d) => {
      if (d.deletedAt) throw conflict(`Secret "${name}" is already deleted`);
      return { deletedAt: new Date(), deletedBy: principal.actor.id, updatedAt: new Date(), updatedBy: principal.actor.id };
    });
    await this.deps.audit.append(auditEvent('secret.deleted', { caller: principal, resource: { id: doc._id }, details: { name, purgeAfter: this.purgeAfter(doc.deletedAt!).toISOString() } }));
    return doc;
  }

  async restore(principal: TenantCaller, name: string): Promise<SecretDoc> {
    const doc = await this.write(principal, name, (d) => {
      if (!d.deletedAt) throw conflict(`Secret "${name}" is not deleted`);
      if (this.purgeAfter(d.deletedAt) <= new Date()) throw notFoundBecause(`Secret "${name}" can no longer be restored: its recovery window has ended`);
      return { deletedAt: null, deletedBy: null, updatedAt: new Date(), updatedBy: principal.actor.id };
    });
    await this.deps.audit.append(auditEvent('secret.restored', { caller: principal, resource: { id: doc._id }, details: { name } }));
    return doc;
  }

  /** Irreversibly removes the ciphertext of the given versions; the version metadata stays. */
  async destroyVersions(principal: TenantCaller, name: string, versions: number[]): Promise<SecretDoc> {
    if (!versions.length) throw badInput('versions', 'name at least one version');
    const wanted = new Set(versions);
    const doc = await this.write(principal, name, (d) => {
      const known = new Set(d.versions.map((v) => v.version));
      const unknown = [...wanted].filter((v) => !known.has(v));
      if (unknown.length) throw badInput('versions', `no such version(s): ${unknown.join(', ')} (kept: ${[...known].join(', ')})`);
      const now = new Date();
      return {
        versions: d.versions.map((v) => (wanted.has(v.version) && v.ciphertext ? { ...v, ciphertext: null, destroyedAt: now } : v)),
        updatedAt: now,
        updatedBy: principal.actor.id,
      };
    });
    await this.deps.audit.append(auditEvent('secret.versions_destroyed', { caller: principal, resource: { id: doc._id }, details: { name, versions: [...wanted].sort((a, b) => a - b) } }));
    return doc;
  }

  /** Removes a soft-deleted secret for good. */
  async purge(principal: TenantCaller, name: string): Promise<boolean> {
    const repo = this.deps.secretsOf(principal.tenantId);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const doc = await this.load(principal, name);
      if (!doc.deletedAt) throw conflict(`Secret "${name}" must be deleted (deleteSecret) before it can be purged`);
      if (await repo.deleteIfRevision(doc._id, doc.revision)) {
        await this.deps.audit.append(auditEvent('secret.purged', { caller: principal, resource: { id: doc._id }, details: { name } }));
        return true;
      }
    }
    throw conflict(`Secret "${name}" is being changed concurrently; try again`);
  }
}
