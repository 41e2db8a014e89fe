import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { tenantCallerOf, type Context } from '../../graphql/context.js';
import { RetentionPolicy, RetentionPolicyInput, RetentionPurge, SubjectRetention } from './retention.types.js';

@Resolver()
export class RetentionResolver {
  @Query(() => RetentionPolicy, { description: 'The tenant\'s retention policy (all null until set: everything is kept).' })
  async retentionPolicy(@Ctx() ctx: Context) {
    return Object.assign(new RetentionPolicy(), await ctx.services.retention.policy(tenantCallerOf(ctx)));
  }

  @Mutation(() => RetentionPolicy, { description: 'Set the tenant\'s retention policy (the whole policy: a period left out is null, i.e. kept).' })
  async setRetentionPolicy(@Arg('input', () => RetentionPolicyInput, { description: 'The periods, in days.' }) input: RetentionPolicyInput, @Ctx() ctx: Context) {
    return Object.assign(new RetentionPolicy(), await ctx.services.retention.setPolicy(tenantCallerOf(ctx), input));
  }

  @Mutation(() => SubjectRetention, { description: 'Set (a future instant) or clear (null) a subject\'s own retention date; it overrides subjectRetentionDays.' })
  async setSubjectRetention(
    @Arg('subjectId', () => ID, { description: 'The subject.' }) subjectId: string,
    @Arg('until', () => Date, { nullable: true, description: 'Keep until then (future, within 36500 days); null clears it.' }) until: Date | null,
    @Ctx() ctx: Context,
  ) {
    return Object.assign(new SubjectRetention(), await ctx.services.retention.setSubjectRetention(tenantCallerOf(ctx), subjectId, until));
  }

  @Mutation(() => RetentionPurge, { description: 'Purge the tenant\'s data past retention now (what the daily sweep does): erase subjects with receipts, delete old access-log entries and closed requests. Idempotent.' })
  async purgeExpiredData(@Ctx() ctx: Context) {
    return Object.assign(new RetentionPurge(), await ctx.services.retention.purge(tenantCallerOf(ctx)));
  }
}
