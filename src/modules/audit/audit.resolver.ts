import { Arg, Ctx, Int, Query, Resolver } from 'type-graphql';
import { callerOf, type Context } from '../../graphql/context.js';
import { tenantIdOf } from '../../identity/caller.js';
import { PLATFORM_CHAIN } from './audit-event.js';
import {
  AuditEventConnection,
  AuditEventFilter,
  AuditVerification,
  toAuditEventConnection,
  toAuditVerification,
} from './audit.types.js';

@Resolver()
export class AuditResolver {
  @Query(() => AuditEventConnection, { description: 'The current tenant\'s audit log, newest first, cursor-paginated.' })
  async auditEvents(
    @Arg('filter', () => AuditEventFilter, { nullable: true, description: 'Only events matching all given fields.' }) filter: AuditEventFilter | null,
    @Arg('first', () => Int, { nullable: true, description: 'Page size: 1 to 200, default 50.' }) first: number | null,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page; omit for the newest events.' }) after: string | null,
    @Ctx() ctx: Context,
  ) {
    return toAuditEventConnection(await ctx.services.audit.list(tenantIdOf(callerOf(ctx)), filter ?? {}, first, after));
  }

  @Query(() => AuditVerification, { description: 'Checks the current tenant\'s audit hash chain for edited, inserted, reordered or deleted events.' })
  async verifyAuditLog(
    @Arg('from', () => Int, { nullable: true, description: 'First sequence number to check (default 1); it is anchored on event from − 1.' }) from: number | null,
    @Arg('to', () => Int, { nullable: true, description: 'Last sequence number to check (default: the newest).' }) to: number | null,
    @Ctx() ctx: Context,
  ) {
    return toAuditVerification(await ctx.services.audit.verify(tenantIdOf(callerOf(ctx)), from, to));
  }

  @Query(() => AuditEventConnection, {
    description: 'Platform administrators only: the platform chain (events before any tenant is known, such as failed logins and lockouts).',
  })
  async platformAuditEvents(
    @Arg('filter', () => AuditEventFilter, { nullable: true, description: 'Only events matching all given fields.' }) filter: AuditEventFilter | null,
    @Arg('first', () => Int, { nullable: true, description: 'Page size: 1 to 200, default 50.' }) first: number | null,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page; omit for the newest events.' }) after: string | null,
    @Ctx() ctx: Context,
  ) {
    return toAuditEventConnection(await ctx.services.audit.list(PLATFORM_CHAIN, filter ?? {}, first, after));
  }

  @Query(() => AuditVerification, { description: 'Platform administrators only: checks the platform audit chain.' })
  async verifyPlatformAuditLog(
    @Arg('from', () => Int, { nullable: true, description: 'First sequence number to check (default 1).' }) from: number | null,
    @Arg('to', () => Int, { nullable: true, description: 'Last sequence number to check (default: the newest).' }) to: number | null,
    @Ctx() ctx: Context,
  ) {
    return toAuditVerification(await ctx.services.audit.verify(PLATFORM_CHAIN, from, to));
  }
}
