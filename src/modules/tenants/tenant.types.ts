import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { enumOf } from '../../graphql/enums.js';
import { TENANT_STATUSES, type TenantDoc } from './tenant.repository.js';

export const TenantStatusEnum = enumOf(TENANT_STATUSES);
registerEnumType(TenantStatusEnum, {
  name: 'TenantStatus',
  description: 'Whether a tenant can be used.',
  valuesConfig: {
    ACTIVE: { description: 'The tenant works normally.' },
    SUSPENDED: { description: 'Suspended by a platform administrator: its tokens stop working and nobody can log in to it.' },
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

  @Field(() => TenantStatusEnum, { description: 'ACTIVE or SUSPENDED.' })
  status!: keyof typeof TenantStatusEnum;

  @Field(() => Date, { description: 'When the tenant was created.' })
  createdAt!: Date;
}

export function toTenant(doc: TenantDoc): Tenant {
  return Object.assign(new Tenant(), {
    id: doc._id,
    name: doc.name,
    slug: doc.slug,
    status: doc.status,
    createdAt: doc.createdAt,
  });
}
