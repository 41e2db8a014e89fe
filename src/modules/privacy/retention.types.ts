import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'How long the tenant keeps personal data (days; null keeps it).' })
export class RetentionPolicy {
  @Field(() => Int, { nullable: true, description: 'Data subjects are erased (crypto-shredding, with receipts) this many days after their last change (updatedAt, else createdAt), unless they carry their own retention date.' })
  subjectRetentionDays!: number | null;

  @Field(() => Int, { nullable: true, description: 'Data-access log entries are deleted this many days after they were recorded.' })
  accessLogRetentionDays!: number | null;

  @Field(() => Int, { nullable: true, description: 'Closed (COMPLETED, REJECTED) data-subject requests are deleted this many days after they were closed.' })
  requestRetentionDays!: number | null;

  @Field(() => Date, { nullable: true, description: 'When the policy was last set (null: never).' })
  updatedAt!: Date | null;
}

@InputType({ description: 'A retention policy; each period is 1–36500 days, or null (or left out) to keep that data.' })
export class RetentionPolicyInput {
  @Field(() => Int, { nullable: true, description: 'Days to keep data subjects after their last change.' })
  subjectRetentionDays?: number | null;

  @Field(() => Int, { nullable: true, description: 'Days to keep data-access log entries.' })
  accessLogRetentionDays?: number | null;

  @Field(() => Int, { nullable: true, description: 'Days to keep closed data-subject requests.' })
  requestRetentionDays?: number | null;
}

@ObjectType({ description: 'A data subject\'s own retention date.' })
export class SubjectRetention {
  @Field(() => ID, { description: 'The subject.' })
  subjectId!: string;

  @Field(() => Date, { nullable: true, description: 'Kept until then, then erased by the retention sweep (null: the tenant policy applies).' })
  retainUntil!: Date | null;
}

@ObjectType({ description: 'What a retention purge removed.' })
export class RetentionPurge {
  @Field(() => Int, { description: 'Subjects erased (reason RETENTION_PERIOD_ENDED, each with a signed receipt).' })
  subjectsErased!: number;

  @Field(() => Int, { description: 'Data-access log entries deleted.' })
  accessLogEntriesDeleted!: number;

  @Field(() => Int, { description: 'Closed data-subject requests deleted.' })
  requestsDeleted!: number;
}
