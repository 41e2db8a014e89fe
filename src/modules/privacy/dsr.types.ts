import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { connectionOf } from '../../graphql/connection.js';
import { describeEach, domainEnum } from '../../graphql/enums.js';
import { DSR_STATUSES, DSR_TYPES, type DsrStatus, type DsrType } from './dsr-state.js';
import { SubjectErasure, SubjectExport } from './subject.types.js';

const TYPE_DESCRIPTIONS: Record<DsrType, string> = {
  ACCESS: 'Right of access (GDPR Art. 15): completing it produces the subject export.',
  PORTABILITY: 'Right to data portability (Art. 20): completing it produces the subject export.',
  RECTIFICATION: 'Right to rectification (Art. 16).',
  ERASURE: 'Right to erasure (Art. 17): completing it erases the subject and keeps the signed receipt.',
  RESTRICTION: 'Right to restriction of processing (Art. 18).',
  OBJECTION: 'Right to object (Art. 21).',
};
const STATUS_DESCRIPTIONS: Record<DsrStatus, string> = {
  RECEIVED: 'Recorded, not yet worked on.',
  IN_PROGRESS: 'Being worked on.',
  COMPLETED: 'Done (final).',
  REJECTED: 'Refused, e.g. manifestly unfounded or unverifiable (Art. 12(5); final).',
};

export const DsrTypeEnum = domainEnum(DSR_TYPES, {
  name: 'DataSubjectRequestType',
  description: 'The right a data-subject request exercises.',
  valuesConfig: describeEach(TYPE_DESCRIPTIONS),
});
export const DsrStatusEnum = domainEnum(DSR_STATUSES, {
  name: 'DataSubjectRequestStatus',
  description: 'Where a data-subject request stands: RECEIVED → IN_PROGRESS → COMPLETED | REJECTED (REJECTED also straight from RECEIVED).',
  valuesConfig: describeEach(STATUS_DESCRIPTIONS),
});

@ObjectType({ description: 'The one extension of a request\'s deadline (GDPR Art. 12(3)).' })
export class DataSubjectRequestExtension {
  @Field(() => Int, { description: 'Further months granted (1 or 2).' })
  months!: number;

  @Field(() => Date, { description: 'When the extension was decided.' })
  decidedAt!: Date;

  @Field(() => String, { nullable: true, description: 'Why (sealed under the subject key; null once the subject is erased).' })
  reason!: string | null;
}

@ObjectType({ description: 'A data-subject request (GDPR Art. 15–21) with its deadline. Free text is sealed under the subject key, so erasing the subject shreds it.' })
export class DataSubjectRequest {
  @Field(() => ID, { description: 'The request id.' })
  id!: string;

  @Field(() => ID, { description: 'The subject it is about (the tombstone id once erased).' })
  subjectId!: string;

  @Field(() => DsrTypeEnum, { description: 'The right exercised.' })
  type!: DsrType;

  @Field(() => DsrStatusEnum, { description: 'Where it stands.' })
  status!: DsrStatus;

  @Field(() => Date, { description: 'When the request was received.' })
  receivedAt!: Date;

  @Field(() => Date, { description: 'The deadline in force: one GDPR month after receipt (the same date next month, or that month\'s last day), or 1 + n months once extended by n.' })
  dueAt!: Date;

  @Field(() => Date, { description: 'The original deadline: one GDPR month after receipt.' })
  originalDueAt!: Date;

  @Field(() => Boolean, { description: 'Whether it is open and past its deadline.' })
  overdue!: boolean;

  @Field(() => DataSubjectRequestExtension, { nullable: true, description: 'The extension, if one was decided.' })
  extension!: DataSubjectRequestExtension | null;

  @Field(() => String, { nullable: true, description: 'The tenant\'s notes (personal data: sealed under the subject key; reading them is logged in the subject\'s data-access log; null once the subject is erased).' })
  notes!: string | null;

  @Field(() => String, { nullable: true, description: 'Why it was rejected (sealed like notes).' })
  rejectionReason!: string | null;

  @Field(() => Date, { description: 'When it was recorded.' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When work started.' })
  startedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When it was completed or rejected.' })
  closedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'ACCESS/PORTABILITY: when the export was produced and handed out (Coffer keeps no export file).' })
  exportProducedAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'ERASURE: the signed erasure receipt (JWT, verifiable with /.well-known/jwks.json; it names this request).' })
  erasureReceipt!: string | null;

  @Field(() => Int, { description: 'Incremented by every change.' })
  revision!: number;
}

@InputType({ description: 'A data-subject request as received.' })
export class CreateDataSubjectRequestInput {
  @Field(() => ID, { description: 'The (live) subject it is about.' })
  subjectId!: string;

  @Field(() => DsrTypeEnum, { description: 'The right exercised.' })
  type!: DsrType;

  @Field(() => Date, { description: 'When it was received (not in the future, not before 2000): the deadline runs from here.' })
  receivedAt!: Date;

  @Field(() => String, { nullable: true, description: 'Free notes about the request (≤ 4000 characters; sealed under the subject key, never logged or audited).' })
  notes?: string | null;
}

@InputType({ description: 'Which requests to list; every criterion is optional.' })
export class DataSubjectRequestFilter {
  @Field(() => DsrStatusEnum, { nullable: true, description: 'Only this status.' })
  status?: DsrStatus | null;

  @Field(() => DsrTypeEnum, { nullable: true, description: 'Only this type.' })
  type?: DsrType | null;

  @Field(() => Boolean, { nullable: true, description: 'true: open requests past their deadline; false: open requests not yet due.' })
  overdue?: boolean | null;

  @Field(() => Int, { nullable: true, description: 'Open requests due within this many days from now (0–365), not yet overdue.' })
  dueWithinDays?: number | null;
}

export const DataSubjectRequestConnection = connectionOf('DataSubjectRequest', DataSubjectRequest, {
  edge: 'A data-subject request in a page.',
  cursor: 'Cursor of this request.',
  node: 'The request.',
  connection: 'A page of data-subject requests, earliest deadline first.',
  edges: 'The requests of this page.',
  pageInfo: 'Where the page ends.',
  totalCount: 'How many requests match the filter in all.',
});

@ObjectType({ description: 'The outcome of completing a request: the request, and what completing it produced.' })
export class DataSubjectRequestCompletion {
  @Field(() => DataSubjectRequest, { description: 'The completed request.' })
  request!: DataSubjectRequest;

  @Field(() => SubjectExport, { nullable: true, description: 'ACCESS/PORTABILITY: the export to hand to the subject (returned once, not stored).' })
  export!: SubjectExport | null;

  @Field(() => SubjectErasure, { nullable: true, description: 'ERASURE: the erasure and its signed receipt.' })
  erasure!: SubjectErasure | null;
}
