import { Field, ID, Int, ObjectType } from 'type-graphql';
import { domainEnum } from '../../graphql/enums.js';
import { RoleEnum } from '../../graphql/role.enum.js';
import type { Role } from '../../identity/roles.js';
import { TENANT_DELETION_STATES, TENANT_STATUSES, type TenantDoc } from './tenant.repository.js';
import type { TenantDeletionView } from './tenant-deletion.service.js';

export const TenantStatusEnum = domainEnum(TENANT_STATUSES, {
  name: 'TenantStatus',
  description: 'Whether a tenant can be used.',
  valuesConfig: {
    ACTIVE: { description: 'The tenant works normally.' },
    SUSPENDED: { description: 'Suspended by a platform administrator: its tokens stop working and nobody can log in to it.' },
    DELETED: { description: 'Deleted by an OWNER (deleteTenant): keys destroyed, documents purged; only this tombstone and its receipt remain.' },
  },
});

@ObjectType({ description: 'An organisation: the unit of isolation. All tenant data belongs to exactly one tenant.' })
export class Tenant {
  @Field(() => ID, { description: 'Stable identifier of the tenant.' })
  id!: string;

  @Field(() => String, { description: 'Display name.' })
  name!: string;

  @Field(() => String, { description: 'Unique URL-safe name derived from the display name.' })
  slug!: string;

  @Field(() => TenantStatusEnum, { description: 'ACTIVE, SUSPENDED or DELETED.' })
  status!: keyof typeof TenantStatusEnum;

  @Field(() => Date, { description: 'When the tenant was created.' })
  createdAt!: Date;

  @Field(() => [RoleEnum], {
    description:
      'Roles that must use a second factor (TOTP) in this tenant (updateTwoFactorPolicy). Their members get TWO_FACTOR_REQUIRED on everything but enrolling and their own session until their session has used one; empty: none.',
  })
  requireTwoFactorFor!: Role[];
}

export function toTenant(doc: TenantDoc): Tenant {
  return Object.assign(new Tenant(), {
    id: doc._id,
    name: doc.name,
    slug: doc.slug,
    status: doc.status,
    createdAt: doc.createdAt,
    requireTwoFactorFor: doc.requireTwoFactorFor ?? [],
  });
}

export const TenantDeletionStateEnum = domainEnum(TENANT_DELETION_STATES, {
  name: 'TenantDeletionState',
  description: 'How far a tenant deletion has got; each step is stored, so an interrupted deletion carries on.',
  valuesConfig: {
    PENDING: { description: 'Planned: the key inventory is recorded, keys are being destroyed.' },
    KEYS_DESTROYED: { description: 'Every key of the tenant is destroyed (DEKs, audit key, subject keys, blind-index key).' },
    MARKED_DELETED: { description: 'The tenant is DELETED: its tokens and API keys are refused; documents are being purged.' },
    PURGED: { description: 'Every tenant collection is purged; the receipt is being signed.' },
    DONE: { description: 'Finished; the signed receipt is available.' },
  },
});

@ObjectType({ description: 'A number of documents or keys in one collection.' })
export class CollectionCount {
  @Field(() => String, { description: 'Collection name.' })
  collection!: string;

  @Field(() => Int, { description: 'How many.' })
  count!: number;
}

@ObjectType({ description: 'The deletion of a tenant (deleteTenant) and its signed receipt.' })
export class TenantDeletion {
  @Field(() => ID, { description: 'The deleted tenant.' })
  tenantId!: string;

  @Field(() => TenantDeletionStateEnum, { description: 'How far the deletion has got (DONE when finished).' })
  state!: keyof typeof TenantDeletionStateEnum;

  @Field(() => ID, { description: 'The receipt id (also on the platform audit chain, tenant.deleted).' })
  receiptId!: string;

  @Field(() => ID, { description: 'The OWNER who deleted the tenant (user id).' })
  requestedBy!: string;

  @Field(() => Date, { description: 'When the deletion started.' })
  startedAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When it finished; null until DONE.' })
  completedAt!: Date | null;

  @Field(() => [Int], { description: 'Versions of the data keys (DEKs) destroyed.' })
  destroyedDekVersions!: number[];

  @Field(() => Boolean, { description: 'Whether the tenant audit-chain key was destroyed.' })
  destroyedAuditKey!: boolean;

  @Field(() => [CollectionCount], { description: 'Wrapped keys destroyed, per collection (subject keys, the blind-index key).' })
  destroyedWrappedKeys!: CollectionCount[];

  @Field(() => [CollectionCount], { description: 'Documents purged, per collection.' })
  recordsRemoved!: CollectionCount[];

  @Field(() => String, {
    nullable: true,
    description: 'The signed receipt: a JWT (typ coffer-tenant-deletion-receipt+jwt, EdDSA) verifiable with /.well-known/jwks.json; null until DONE.',
  })
  receipt!: string | null;
}

const counts = (record: Record<string, number>): CollectionCount[] =>
  Object.keys(record).sort().map((collection) => Object.assign(new CollectionCount(), { collection, count: record[collection]! }));

export function toTenantDeletion(view: TenantDeletionView): TenantDeletion {
  return Object.assign(new TenantDeletion(), {
    tenantId: view.tenantId,
    state: view.state,
    receiptId: view.receiptId,
    requestedBy: view.requestedBy,
    startedAt: view.startedAt,
    completedAt: view.completedAt,
    destroyedDekVersions: view.keysDestroyed?.dekVersions ?? [],
    destroyedAuditKey: view.keysDestroyed?.auditKey ?? false,
    destroyedWrappedKeys: counts(view.keysDestroyed?.wrappedKeys ?? {}),
    recordsRemoved: counts(view.recordsRemoved),
    receipt: view.receipt,
  });
}
