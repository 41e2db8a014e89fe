import { randomBytes } from 'node:crypto';
import type { Logger } from '../../logger.js';
import type { AuditSink } from '../audit/audit-event.js';
import { auditEvent, userActor } from '../audit/audit-builder.js';
import { inTenant, type Caller } from '../../identity/caller.js';
import { ROLES, type Role } from '../../identity/roles.js';
import { badInput, forbidden, notFound } from '../../errors.js';
import type { MembershipRepository } from './membership.repository.js';
import { isDuplicateKey } from '../../db/mongo-errors.js';
import type { TenantDoc, TenantRepository, TenantStatus } from './tenant.repository.js';

export const TENANT_NAME_MAX = 100;

/** Turns a display name into a URL-safe slug. */
export function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48)
    .replace(/-+$/g, '');
  return slug || 'tenant';
}

interface TenantDeps {
  tenants: TenantRepository;
  /** Drops cached session state of a tenant (the session guard's, wired in the composition root). */
  forgetSessionsOfTenant: (tenantId: string) => void;
  /** Drops cached API-key state of a tenant when its status changes. */
  forgetKeysOfTenant: (tenantId: string) => void;
  membershipsOf: (tenantId: string) => MembershipRepository;
  logger: Logger;
  audit: AuditSink;
}

/** Creating tenants, and the platform administrator's view of all of them. */
export class TenantService {
  constructor(private readonly deps: TenantDeps) {}

  validName(name: string): string {
    const trimmed = name.trim();
    if (!trimmed) throw badInput('tenantName', 'must not be empty');
    if (trimmed.length > TENANT_NAME_MAX) throw badInput('tenantName', `must be at most ${TENANT_NAME_MAX} characters`);
    return trimmed;
  }

  /** Creates a tenant whose first member is `ownerId`; removes the tenant again if that fails. */
  async createWithOwner(name: string, ownerId: string): Promise<{ tenant: TenantDoc }> {
    const base = slugify(name);
    let tenant: TenantDoc | undefined;
    for (let attempt = 0; !tenant; attempt++) {
      const slug = attempt === 0 ? base : `${base}-${randomBytes(4).toString('hex')}`;
      try {
        tenant = await this.deps.tenants.create(name, slug);
      } catch (error) {
        if (!isDuplicateKey(error) || attempt >= 5) throw error;
      }
    }
    try {
      await this.deps.membershipsOf(tenant._id).add(ownerId, 'OWNER');
    } catch (error) {
      await this.deps.tenants.delete(tenant._id);
      throw error;
    }
    return { tenant };
  }

  /** Undoes createWithOwner (its caller failed right after). */
  async removeNew(tenantId: string, ownerId: string): Promise<void> {
    await this.deps.membershipsOf(tenantId).remove(ownerId, 'OWNER');
    await this.deps.tenants.delete(tenantId);
  }

  find(tenantId: string): Promise<TenantDoc | null> {
    return this.deps.tenants.findById(tenantId);
  }

  list(limit = 500): Promise<TenantDoc[]> {
    return this.deps.tenants.list(limit);
  }

  async setStatus(caller: Caller, tenantId: string, status: Exclude<TenantStatus, 'DELETED'>): Promise<TenantDoc> {
    const { request } = caller;
    const actorId = caller.actor.id;
    const tenant = await this.deps.tenants.setStatus(tenantId, status);
    if (!tenant) throw notFound('Tenant');
    this.deps.forgetSessionsOfTenant(tenantId);
    this.deps.forgetKeysOfTenant(tenantId);
    this.deps.logger.warn({ event: 'tenant.status_changed', tenantId, status, actorId }, `tenant ${status.toLowerCase()}`);
    await this.deps.audit.append(
      auditEvent(status === 'SUSPENDED' ? 'tenant.suspended' : 'tenant.reactivated', { caller: { tenantId, actor: userActor(actorId), request }, resource: { id: tenantId } }),
    );
    return tenant;
  }

  /**
   * Which roles of the tenant must use a second factor (an OWNER's decision; audited). Members
   * of those roles whose session has not used one are refused everything but enrolling and
   * their own session (TWO_FACTOR_REQUIRED, enforced in graphql/permissions.ts).
   */
  async setTwoFactorPolicy(caller: Caller, roles: Role[]): Promise<TenantDoc> {
    const { tenantId, role } = inTenant(caller);
    if (caller.actor.type !== 'USER' || role !== 'OWNER') throw forbidden('Only an OWNER sets the second-factor policy');
    const unique = ROLES.filter((r) => roles.includes(r));
    const tenant = await this.deps.tenants.setTwoFactorPolicy(tenantId, unique);
    if (!tenant) throw notFound('Tenant');
    this.deps.forgetSessionsOfTenant(tenantId);
    this.deps.logger.info({ event: 'tenant.two_factor_policy_changed', tenantId, roles: unique, requestId: caller.request.requestId }, 'second-factor policy changed');
    await this.deps.audit.append(
      auditEvent('tenant.two_factor_policy_changed', { caller: { tenantId, actor: caller.actor, request: caller.request }, resource: { id: tenantId }, details: { roles: unique } }),
    );
    return tenant;
  }
}
