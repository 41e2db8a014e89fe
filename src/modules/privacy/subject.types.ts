import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { connectionOf } from '../../graphql/connection.js';
import { describeEach, domainEnum } from '../../graphql/enums.js';
import { ActorTypeEnum } from '../audit/audit.types.js';
import type { ActorType } from '../audit/audit-event.js';
import type { JsonObject } from './attributes.js';
import { ERASURE_REASON_CODES, type ErasureReasonCode } from './erasure-receipt.js';

const REASON_DESCRIPTIONS: Record<ErasureReasonCode, string> = {
  NO_LONGER_NECESSARY: 'GDPR Art. 17(1)(a): no longer necessary for the purposes collected.',
  CONSENT_WITHDRAWN: 'Art. 17(1)(b): consent withdrawn and no other legal ground.',
  OBJECTION: 'Art. 17(1)(c): the subject objected to the processing.',
  UNLAWFUL_PROCESSING: 'Art. 17(1)(d): the data was processed unlawfully.',
  LEGAL_OBLIGATION: 'Art. 17(1)(e): erasure required by law.',
  CHILD_INFORMATION_SOCIETY_SERVICE: 'Art. 17(1)(f): collected from a child for an information society service.',
  RETENTION_PERIOD_ENDED: 'The tenant\'s retention period ended.',
  TENANT_DECISION: 'The tenant decided to erase the subject.',
};

export const ErasureReasonEnum = domainEnum(ERASURE_REASON_CODES, {
  name: 'ErasureReason',
  description: 'Why a data subject is erased (recorded in the signed receipt).',
  valuesConfig: describeEach(REASON_DESCRIPTIONS),
});

@ObjectType({ description: 'A labelled identifier of a data subject (customer number, device id, …), blind-indexed for exact lookup.' })
export class SubjectIdentity {
  @Field(() => String, { description: 'Machine label, e.g. customer_id (a-z, 0-9, _ . -; coffer.* is reserved).' })
  label!: string;

  @Field(() => String, { description: 'The identifier (personal data; stored sealed).' })
  value!: string;
}

@InputType({ description: 'A labelled identifier of a data subject.' })
export class SubjectIdentityInput {
  @Field(() => String, { description: 'Machine label, e.g. customer_id.' })
  label!: string;

  @Field(() => String, { description: 'The identifier (1–256 characters).' })
  value!: string;
}

@ObjectType({
  description:
    'A data subject: one of the tenant\'s customers. Personal fields are sealed under the subject\'s own key; only the fields selected are decrypted, and every read is logged with its purpose.',
})
export class DataSubject {
  @Field(() => ID, { description: 'The subject id (kept by the tombstone after erasure).' })
  id!: string;

  @Field(() => String, { nullable: true, description: 'The tenant\'s own id for the subject (unique per tenant).' })
  externalId!: string | null;

  @Field(() => String, { nullable: true, description: 'Email address, normalised (lower case, NFC).' })
  email!: string | null;

  @Field(() => String, { nullable: true, description: 'Phone number in E.164.' })
  phone!: string | null;

  @Field(() => String, { nullable: true, description: 'Full name.' })
  fullName!: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Free-form personal data (JSON object ≤ 16 KiB, ≤ 5 levels).' })
  attributes!: JsonObject | null;

  @Field(() => [SubjectIdentity], { nullable: true, description: 'Labelled identifiers.' })
  identities!: SubjectIdentity[] | null;

  @Field(() => Boolean, { description: 'Whether processing is restricted (GDPR Art. 18). Personal fields of a restricted subject are null in listings unless purpose is legal_claims.' })
  restricted!: boolean;

  @Field(() => Date, { nullable: true, description: 'Since when processing is restricted.' })
  restrictedSince!: Date | null;

  @Field(() => Date, { description: 'When the subject was created.' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When it was last rectified.' })
  updatedAt!: Date | null;

  @Field(() => Int, { description: 'Incremented by every change.' })
  revision!: number;
}

@InputType({ description: 'A new data subject. Every field is optional; values are validated before anything is written.' })
export class CreateDataSubjectInput {
  @Field(() => String, { nullable: true, description: 'The tenant\'s own id (1–256 characters, unique per tenant).' })
  externalId?: string | null;

  @Field(() => String, { nullable: true, description: 'Email address.' })
  email?: string | null;

  @Field(() => String, { nullable: true, description: 'Phone number in international form (+44 20 7946 0958).' })
  phone?: string | null;

  @Field(() => String, { nullable: true, description: 'Full name (1–300 characters).' })
  fullName?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Free-form personal data (JSON object ≤ 16 KiB, ≤ 5 levels).' })
  attributes?: JsonObject | null;

  @Field(() => [SubjectIdentityInput], { nullable: true, description: 'Labelled identifiers (≤ 20).' })
  identities?: SubjectIdentityInput[] | null;
}

@InputType({ description: 'Rectification: the fields given replace the stored ones; null clears one. Audited with the names of the fields changed.' })
export class UpdateDataSubjectInput extends CreateDataSubjectInput {
  @Field(() => ID, { description: 'The subject.' })
  id!: string;
}

@ObjectType({ description: 'The outcome of a rectification (no personal data is returned).' })
export class DataSubjectUpdate {
  @Field(() => ID, { description: 'The subject.' })
  id!: string;

  @Field(() => [String], { description: 'Names of the fields changed.' })
  changedFields!: string[];

  @Field(() => Date, { description: 'When.' })
  updatedAt!: Date;

  @Field(() => Int, { description: 'The subject\'s revision after the change.' })
  revision!: number;
}

@InputType({ description: 'Exact-match lookup through blind indexes; give at most one.' })
export class DataSubjectFilter {
  @Field(() => String, { nullable: true, description: 'Email address (normalised before lookup).' })
  email?: string | null;

  @Field(() => String, { nullable: true, description: 'Phone number (normalised to E.164 before lookup).' })
  phone?: string | null;

  @Field(() => String, { nullable: true, description: 'The tenant\'s external id.' })
  externalId?: string | null;

  @Field(() => SubjectIdentityInput, { nullable: true, description: 'A labelled identifier.' })
  identity?: SubjectIdentityInput | null;
}

export const DataSubjectConnection = connectionOf('DataSubject', DataSubject, {
  edge: 'A data subject in a page.',
  cursor: 'Cursor of this subject.',
  node: 'The subject.',
  connection: 'A page of data subjects, in id order.',
  edges: 'The subjects of this page.',
  pageInfo: 'Where the page ends.',
  totalCount: 'How many live subjects match the filter in all.',
});

@ObjectType({ description: 'Whether processing of a subject is restricted (GDPR Art. 18).' })
export class ProcessingRestriction {
  @Field(() => ID, { description: 'The subject.' })
  subjectId!: string;

  @Field(() => Boolean, { description: 'Whether processing is now restricted.' })
  restricted!: boolean;

  @Field(() => Date, { nullable: true, description: 'Since when (null when not restricted).' })
  since!: Date | null;
}

@ObjectType({ description: 'One read of a subject\'s personal data (GDPR Art. 30, 15(1)(c)).' })
export class DataAccessEntry {
  @Field(() => ID, { description: 'Entry id.' })
  id!: string;

  @Field(() => Date, { description: 'When the data was read.' })
  at!: Date;

  @Field(() => ActorTypeEnum, { description: 'Who read it: a user or an API key.' })
  actorType!: ActorType;

  @Field(() => String, { nullable: true, description: 'The user id or API key id.' })
  actorId!: string | null;

  @Field(() => String, { description: 'READ or EXPORT.' })
  action!: string;

  @Field(() => [String], { description: 'The personal fields read.' })
  fields!: string[];

  @Field(() => String, { description: 'The purpose the reader gave.' })
  purpose!: string;

  @Field(() => String, { nullable: true, description: 'The reader\'s IP address.' })
  ip!: string | null;

  @Field(() => String, { nullable: true, description: 'The reader\'s user agent.' })
  userAgent!: string | null;

  @Field(() => String, { nullable: true, description: 'The request that read it.' })
  requestId!: string | null;
}

export const DataAccessEntryConnection = connectionOf('DataAccessEntry', DataAccessEntry, {
  edge: 'An access-log entry in a page.',
  cursor: 'Cursor of this entry.',
  node: 'The entry.',
  connection: 'A page of the data-access log, newest first.',
  edges: 'The entries of this page.',
  pageInfo: 'Where the page ends.',
  totalCount: 'How many entries the subject\'s access log holds in all.',
});

@ObjectType({ description: 'A subject export (GDPR Art. 15 and 20): the versioned document of docs/privacy-export-format.md.' })
export class SubjectExport {
  @Field(() => String, { description: 'coffer.subject-export.' })
  format!: string;

  @Field(() => Int, { description: 'Format version (1).' })
  version!: number;

  @Field(() => String, { description: 'A download file name that names no personal data.' })
  fileName!: string;

  @Field(() => GraphQLJSONObject, { description: 'The export document.' })
  document!: JsonObject;
}

@ObjectType({ description: 'The state of a subject\'s erasure and, once done, its signed receipt.' })
export class SubjectErasure {
  @Field(() => ID, { description: 'The erased subject.' })
  subjectId!: string;

  @Field(() => ID, { description: 'The tombstone left in its place (same id; it holds no personal data).' })
  tombstoneId!: string;

  @Field(() => String, { description: 'Last step completed: PENDING, KEY_DESTROYED, INDEX_REMOVED, RECORDS_SCRUBBED, VERIFIED or DONE.' })
  state!: string;

  @Field(() => Date, { nullable: true, description: 'When erasure completed.' })
  erasedAt!: Date | null;

  @Field(() => String, {
    nullable: true,
    description: 'The erasure receipt: a JWT (typ coffer-erasure-receipt+jwt, EdDSA) verifiable with /.well-known/jwks.json; null until DONE.',
  })
  receipt!: string | null;
}
