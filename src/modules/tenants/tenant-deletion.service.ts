import { randomUUID, type KeyObject } from 'node:crypto';
import type { Db } from 'mongodb';
import { TenantScope, type TenantDocument } from '../../db/tenant-scope.js';
import { badInput, forbidden, notFound } from '../../errors.js';
import { inTenant, type Caller } from '../../identity/caller.js';
import type { Logger } from '../../logger.js';
import { auditEvent, userActor } from '../audit/audit-builder.js';
import type { AuditSink } from '../audit/audit-event.js';
import type { TenantKeyService } from '../keys/tenant-key.service.js';
import { signTenantDeletionReceipt, tenantDeletionReceipt } from './tenant-deletion-receipt.js';
import type { DestroyedKeys, TenantDeletionDoc, TenantDeletionState, TenantDoc, TenantRepository } from './tenant.repository.js';

/** Called after each recorded step (tests stop a deletion there to prove it resumes). */
export type TenantDeletionStepHook = (tenantId: string, state: TenantDeletionState) => Promise<void> | void;

/** A tenant collection and what deletion does with it (module.ts CollectionSpec.tenantData). */
export interface TenantCollectionRef {
  name: string;
  tenantData: 'KEYS' | 'RECORDS';
}

interface TenantDeletionDeps {
  db: Db;
  tenants: TenantRepository;
  keys: Pick<TenantKeyService, 'inventory' | 'destroyTenantKeys'>;
  /** Every collection holding tenant documents (modules/index.ts tenantCollections()). */
  collections: readonly TenantCollectionRef[];
  /** Revokes the sessions scoped to the tenant and detaches them from it (auth, wired in the composition root). */
  detachSessionsOfTenant: (tenantId: string) => Promise<number>;
  forgetSessionsOfTenant: (tenantId: string) => void;
  forgetKeysOfTenant: (tenantId: string) => void;
  /** The access-token signing key: receipts verify with /.well-known/jwks.json. */
  signer: () => { privateKey: KeyObject; kid: string };
  audit: AuditSink;
  logger: Logger;
  afterStep?: TenantDeletionStepHook;
}

/** A deletion as the API shows it. */
export interface TenantDeletionView extends TenantDeletionDoc {
  tenantId: string;
}

/** What a tombstone keeps of the tenant's display name (the name is the tenant's data). */
export const DELETED_TENANT_NAME = 'Deleted tenant';

/**
 * deleteTenant: crypto-shredding first, then the DELETED status, then purging every tenant
 * collection, then a signed receipt (README "Deleting a tenant"). The state is stored on the
 * tenant document and each step is idempotent, so a deletion interrupted anywhere completes at
 * the next start (resumeAll), on the owner's next call, or when a platform administrator asks
 * for the receipt.
 */
export class TenantDeletionService {
  constructor(private readonly deps: TenantDeletionDeps) {}

  /** OWNER only; `confirmSlug` must be the tenant's slug exactly, else BAD_USER_INPUT and nothing happens. */
  async deleteTenant(caller: Caller, confirmSlug: string): Promise<TenantDeletionView> {
    const member = inTenant(caller);
    if (member.actor.type !== 'USER' || member.role !== 'OWNER') throw forbidden('Only an OWNER can delete the tenant');
    const tenant = await this.deps.tenants.findById(member.tenantId);
    if (!tenant) throw notFound('Tenant');
    if (confirmSlug !== tenant.slug) throw badInput('confirmSlug', 'must be exactly the slug of the current tenant (see me.tenant.slug); nothing was deleted');
    const started = tenant.deletion
      ? tenant
      : await this.deps.tenants.startDeletion(tenant._id, {
          state: 'PENDING',
          requestedBy: member.actor.id,
          receiptId: randomUUID(),
          startedAt: new Date(),
          keysDestroyed: null,
          recordsRemoved: {},
          completedAt: null,
          receipt: null,
        });
    this.deps.logger.warn({ event: 'tenant.deletion_started', tenantId: tenant._id, actorId: member.actor.id }, 'tenant deletion started');
    return this.run(started ?? (await this.reload(tenant._id)));
  }

  /** Platform administrators: a deletion and its receipt; an unfinished one is completed first. */
  async receipt(tenantId: string): Promise<TenantDeletionView> {
    const tenant = await this.deps.tenants.findById(tenantId);
    if (!tenant?.deletion) throw notFound('Tenant deletion');
    return this.run(tenant);
  }

  /** Completes every deletion a stop or crash interrupted; returns how many. */
  async resumeAll(): Promise<number> {
    const unfinished = await this.deps.tenants.listUnfinishedDeletions();
    for (const tenant of unfinished) {
      try {
        await this.run(tenant);
      } catch (error) {
        this.deps.logger.error({ err: error, tenantId: tenant._id }, 'could not resume a tenant deletion');
      }
    }
    return unfinished.length;
  }

  private async reload(tenantId: string): Promise<TenantDoc> {
    const tenant = await this.deps.tenants.findById(tenantId);
    if (!tenant?.deletion) throw notFound('Tenant deletion');
    return tenant;
  }

  /** Runs the remaining steps; each is recorded with a compare-and-set, a lost race re-reads and carries on. */
  private async run(first: TenantDoc): Promise<TenantDeletionView> {
    let tenant = first;
    for (let guard = 0; guard < 20; guard++) {
      const deletion = tenant.deletion;
      if (!deletion) throw notFound('Tenant deletion');
      if (deletion.state === 'DONE') return { tenantId: tenant._id, ...deletion };
      const next = await this.step(tenant, deletion);
      if (next && next.deletion?.state !== deletion.state) await this.deps.afterStep?.(tenant._id, next.deletion!.state);
      tenant = next ?? (await this.reload(tenant._id));
    }
    throw new Error(`tenant ${first._id}: deletion kept changing; try again`);
  }

  private async step(tenant: TenantDoc, deletion: TenantDeletionDoc): Promise<TenantDoc | null> {
    const id = tenant._id;
    const { tenants } = this.deps;
    switch (deletion.state) {
      case 'PENDING': {
        // The inventory is stored before anything is destroyed, so a resumed run still reports it.
        let keysDestroyed = deletion.keysDestroyed;
        if (!keysDestroyed) {
          keysDestroyed = await this.inventory(id);
          const planned = await tenants.advanceDeletion(id, 'PENDING', { state: 'PENDING', keysDestroyed });
          if (!planned) return null;
        }
        await this.destroyKeys(id, keysDestroyed.dekVersions);
        return tenants.advanceDeletion(id, 'PENDING', { state: 'KEYS_DESTROYED' });
      }
      case 'KEYS_DESTROYED': {
        const marked = await tenants.advanceDeletion(id, 'KEYS_DESTROYED', { state: 'MARKED_DELETED' }, { status: 'DELETED', deletedAt: new Date(), name: DELETED_TENANT_NAME });
        // Every member's token and the tenant's API keys are refused at once here (the status), elsewhere within the cache delay.
        this.deps.forgetSessionsOfTenant(id);
        this.deps.forgetKeysOfTenant(id);
        return marked;
      }
      case 'MARKED_DELETED': {
        this.deps.forgetSessionsOfTenant(id);
        this.deps.forgetKeysOfTenant(id);
        const scope = new TenantScope(this.deps.db, id);
        for (const { name } of this.deps.collections.filter((c) => c.tenantData === 'RECORDS')) {
          const { deletedCount } = await scope.collection<TenantDocument>(name).deleteMany({});
          await tenants.countPurged(id, name, deletedCount);
        }
        const sessions = await this.deps.detachSessionsOfTenant(id);
        // Anything keyed while the deletion ran (a request already past its checks) goes too.
        await this.destroyKeys(id, deletion.keysDestroyed?.dekVersions ?? []);
        this.deps.logger.info({ event: 'tenant.purged', tenantId: id, sessionsRevoked: sessions }, 'tenant documents purged');
        return tenants.advanceDeletion(id, 'MARKED_DELETED', { state: 'PURGED' });
      }
      case 'PURGED': {
        const completedAt = new Date();
        const keysDestroyed = deletion.keysDestroyed ?? { dekVersions: [], auditKey: false, wrappedKeys: {} };
        const payload = tenantDeletionReceipt({
          receiptId: deletion.receiptId,
          tenantId: id,
          requestedBy: deletion.requestedBy,
          startedAt: deletion.startedAt,
          deletedAt: completedAt,
          keysDestroyed,
          recordsRemoved: deletion.recordsRemoved,
        });
        const receipt = await signTenantDeletionReceipt(payload, this.deps.signer());
        const collections = Object.keys(payload.recordsRemoved);
        // The tenant's own chain is gone: the platform chain records the deletion (ids and counts only).
        await this.deps.audit.append(
          auditEvent('tenant.deleted', {
            caller: { tenantId: null, actor: userActor(deletion.requestedBy) },
            resource: { id },
            details: {
              receiptId: deletion.receiptId,
              dekVersionsDestroyed: payload.keysDestroyed.dekVersions,
              wrappedKeysDestroyed: Object.values(keysDestroyed.wrappedKeys).reduce((a, b) => a + b, 0),
              collections,
              documentsRemoved: collections.map((c) => payload.recordsRemoved[c]!),
            },
          }),
        );
        this.deps.logger.warn({ event: 'tenant.deleted', tenantId: id, receiptId: deletion.receiptId }, 'tenant deleted');
        return tenants.advanceDeletion(id, 'PURGED', { state: 'DONE', completedAt, receipt });
      }
      default:
        return tenant;
    }
  }

  /** What will be destroyed: DEK versions, the audit key, wrapped keys per KEYS collection. */
  private async inventory(tenantId: string): Promise<DestroyedKeys> {
    const keys = await this.deps.keys.inventory(tenantId);
    const scope = new TenantScope(this.deps.db, tenantId);
    const wrappedKeys: Record<string, number> = {};
    for (const { name } of this.deps.collections.filter((c) => c.tenantData === 'KEYS')) {
      wrappedKeys[name] = await scope.collection<TenantDocument>(name).countDocuments({});
    }
    return { dekVersions: keys?.dekVersions ?? [], auditKey: keys?.auditKey ?? false, wrappedKeys };
  }

  /** Crypto-shredding: wrapped keys under the DEKs first, then the DEKs and the audit key themselves. */
  private async destroyKeys(tenantId: string, dekVersions: readonly number[]): Promise<void> {
    const scope = new TenantScope(this.deps.db, tenantId);
    for (const { name } of this.deps.collections.filter((c) => c.tenantData === 'KEYS')) {
      await scope.collection<TenantDocument>(name).deleteMany({});
    }
    await this.deps.keys.destroyTenantKeys(tenantId, dekVersions);
  }
}
