import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { connectionOf } from '../../graphql/connection.js';
import { domainEnum } from '../../graphql/enums.js';
import {
  CHANNELS,
  CONSENT_METHODS,
  CONTACT_REASONS,
  LEDGER_KINDS,
  LEDGER_PROBLEMS,
  LEGAL_BASES,
  OPT_OUT_REASONS,
  OPT_OUT_SOURCES,
  type Channel,
  type ConsentMethod,
  type ContactReason,
  type LedgerKind,
  type LedgerProblem,
  type LegalBasis,
  type OptOutReason,
  type OptOutSource,
} from './consent-vocab.js';

export const LegalBasisEnum = domainEnum(LEGAL_BASES, { name: 'LegalBasis', description: 'GDPR Art. 6(1) legal basis of a purpose. Only CONSENT needs a consent record before contacting someone.', valuesConfig: { CONSENT: { description: 'Art. 6(1)(a): the subject consented (a consent record is needed to contact them).' }, CONTRACT: { description: 'Art. 6(1)(b): needed for a contract with the subject.' }, LEGAL_OBLIGATION: { description: 'Art. 6(1)(c): required by law.' }, VITAL_INTERESTS: { description: 'Art. 6(1)(d): protects vital interests of a person.' }, PUBLIC_TASK: { description: 'Art. 6(1)(e): a task in the public interest.' }, LEGITIMATE_INTERESTS: { description: 'Art. 6(1)(f): legitimate interests of the controller.' } } });
export const ConsentMethodEnum = domainEnum(CONSENT_METHODS, { name: 'ConsentMethod', description: 'How a consent decision was collected.', valuesConfig: { WEB_FORM: { description: 'A form the subject submitted.' }, API: { description: 'Recorded through the API by the tenant systems.' }, DOUBLE_OPT_IN: { description: 'Confirmed through a signed confirmation link.' }, VERBAL: { description: 'Said to a person (e.g. on the phone).' }, IMPORT: { description: 'Imported from another system.' }, GPC: { description: 'A Global Privacy Control signal.' } } });
export const ChannelEnum = domainEnum(CHANNELS, { name: 'Channel', description: 'A contact channel.', valuesConfig: { EMAIL: { description: 'Email (suppressed by email address).' }, SMS: { description: 'Text messages (suppressed by phone number).' }, WHATSAPP: { description: 'WhatsApp (suppressed by phone number).' }, PUSH: { description: 'Push notifications (no suppression entry).' }, PHONE: { description: 'Phone calls (suppressed by phone number).' }, POST: { description: 'Letters (no suppression entry).' } } });
export const OptOutReasonEnum = domainEnum(OPT_OUT_REASONS, { name: 'OptOutReason', description: 'Why a subject opted out (a code).', valuesConfig: { UNSUBSCRIBE_LINK: { description: 'The unsubscribe page or the app.' }, ONE_CLICK: { description: 'An RFC 8058 one-click POST from a mail provider.' }, SUBJECT_REQUEST: { description: 'The subject asked.' }, COMPLAINT: { description: 'A complaint (e.g. a spam report).' }, BOUNCE: { description: 'The address or number does not work.' }, IMPORT: { description: 'Imported from another system.' }, OTHER: { description: 'Any other reason.' } } });
export const OptOutSourceEnum = domainEnum(OPT_OUT_SOURCES, { name: 'OptOutSource', description: 'Where an opt-out or opt-in came from.', valuesConfig: { PUBLIC_PAGE: { description: 'The public unsubscribe page.' }, EMAIL_HEADER: { description: 'The List-Unsubscribe one-click header.' }, APP: { description: 'An app, through the GraphQL unsubscribe mutation.' }, API: { description: 'The tenant systems.' }, SUPPORT: { description: 'The tenant support staff.' }, IMPORT: { description: 'Imported from another system.' } } });
export const LedgerKindEnum = domainEnum(LEDGER_KINDS, { name: 'ConsentRecordKind', description: 'A consent decision, a channel opt-out or opt-in, or a Global Privacy Control signal.', valuesConfig: { CONSENT: { description: 'A consent decision (granted or withdrawn).' }, OPT_OUT: { description: 'A channel opt-out.' }, OPT_IN: { description: 'A channel opt-in.' }, GPC: { description: 'A Global Privacy Control signal.' } } });
export const ContactReasonEnum = domainEnum(CONTACT_REASONS, { name: 'ContactReason', description: 'Why a contact is not allowed.', valuesConfig: { OPTED_OUT: { description: 'The subject opted out of the channel (or of it for this purpose).' }, SUPPRESSED: { description: 'The contact point is on the suppression list.' }, NO_CONSENT: { description: 'The purpose needs consent and none was recorded.' }, CONSENT_WITHDRAWN: { description: 'Consent was withdrawn.' }, NOTICE_OUTDATED: { description: 'Consent was given under an older notice version.' }, GPC: { description: 'A Global Privacy Control signal overrides consent.' }, RESTRICTED: { description: 'Processing is restricted (Art. 18).' }, ERASED: { description: 'The subject was erased.' }, UNKNOWN_SUBJECT: { description: 'No subject matches.' } } });
export const LedgerProblemEnum = domainEnum(LEDGER_PROBLEMS, { name: 'ConsentLedgerProblem', description: 'What a raw change to the consent ledger looks like to verification.', valuesConfig: { EDITED: { description: 'A record no longer matches its HMAC.' }, DELETED: { description: 'A record is missing from the sequence.' }, INSERTED: { description: 'A record the chain never issued.' } } });

@ObjectType({ description: 'One published version of a purpose\'s notice.' })
export class NoticeVersion {
  @Field(() => Int, { description: 'Version, from 1.' }) version!: number;
  @Field(() => String, { description: 'The notice text shown to subjects.' }) text!: string;
  @Field(() => String, { description: 'SHA-256 of the text (hex), as consent receipts carry it.' }) sha256!: string;
  @Field(() => Date, { description: 'When it was published.' }) publishedAt!: Date;
}

@ObjectType({ description: 'A processing purpose with its legal basis and versioned notice.' })
export class ConsentPurpose {
  @Field(() => ID, { description: 'The purpose id.' }) id!: string;
  @Field(() => String, { description: 'Machine key, unique per tenant (e.g. newsletter).' }) key!: string;
  @Field(() => String, { description: 'Display name.' }) name!: string;
  @Field(() => String, { description: 'What the processing is.' }) description!: string;
  @Field(() => LegalBasisEnum, { description: 'GDPR Art. 6(1) legal basis.' }) legalBasis!: LegalBasis;
  @Field(() => Boolean, { description: 'Whether Global Privacy Control opts subjects out of it.' }) honoursGpc!: boolean;
  @Field(() => Int, { description: 'The current notice version.' }) noticeVersion!: number;
  @Field(() => String, { description: 'The current notice text.' }) noticeText!: string;
  @Field(() => String, { description: 'SHA-256 of the current notice text (hex).' }) noticeSha256!: string;
  @Field(() => [NoticeVersion], { description: 'Every published notice version, oldest first.' }) notices!: NoticeVersion[];
  @Field(() => Boolean, { description: 'Retired purposes take no new consent; their records stay.' }) retired!: boolean;
  @Field(() => Date, { nullable: true, description: 'When it was retired.' }) retiredAt!: Date | null;
  @Field(() => Date, { description: 'When it was created.' }) createdAt!: Date;
  @Field(() => Date, { nullable: true, description: 'When it last changed.' }) updatedAt!: Date | null;
}

@ObjectType({ description: 'How long the tenant keeps personal data (its retention policy), in days; null keeps it.' })
export class ProcessingRetention {
  @Field(() => Int, { nullable: true, description: 'Data subjects are erased this many days after their last change (a subject\'s own retention date overrides it).' }) subjectRetentionDays!: number | null;
  @Field(() => Int, { nullable: true, description: 'Data-access log entries are deleted this many days after they were recorded.' }) accessLogRetentionDays!: number | null;
  @Field(() => Int, { nullable: true, description: 'Closed data-subject requests are deleted this many days after they were closed.' }) requestRetentionDays!: number | null;
}

@ObjectType({ description: 'One entry of the record of processing activities (GDPR Art. 30).' })
export class ProcessingRecord {
  @Field(() => ConsentPurpose, { description: 'The purpose.' }) purpose!: ConsentPurpose;
  @Field(() => LegalBasisEnum, { description: 'Its legal basis.' }) legalBasis!: LegalBasis;
  @Field(() => [String], { description: 'Kinds of personal data held about data subjects (field names).' }) personalData!: string[];
  @Field(() => String, { nullable: true, description: 'The tenant\'s retention periods in words (from its retention policy; "kept" where no period is set).' }) retention!: string | null;
  @Field(() => ProcessingRetention, { description: 'The tenant\'s retention periods in days (its retention policy; null keeps that data).' }) retentionPeriods!: ProcessingRetention;
  @Field(() => String, { nullable: true, description: 'A note on retention.' }) retentionNote!: string | null;
}

@ObjectType({ description: 'One immutable record of the consent ledger. Its proof is sealed under the subject\'s key (shredded by erasure).' })
export class ConsentRecord {
  @Field(() => ID, { description: 'Record id, also the receipt id.' }) id!: string;
  @Field(() => Int, { description: 'Place in the tenant\'s chained ledger.' }) seq!: number;
  @Field(() => LedgerKindEnum, { description: 'What kind of record.' }) kind!: LedgerKind;
  @Field(() => ID, { description: 'The data subject.' }) subjectId!: string;
  @Field(() => String, { nullable: true, description: 'Purpose key (null: every purpose of the channel, or a GPC signal).' }) purpose!: string | null;
  @Field(() => ChannelEnum, { nullable: true, description: 'Channel (null for a GPC signal).' }) channel!: Channel | null;
  @Field(() => Boolean, { description: 'Granted or opted in (true); withdrawn or opted out (false).' }) granted!: boolean;
  @Field(() => ConsentMethodEnum, { nullable: true, description: 'Collection method (consent records).' }) method!: ConsentMethod | null;
  @Field(() => Int, { nullable: true, description: 'Notice version (consent records).' }) noticeVersion!: number | null;
  @Field(() => String, { nullable: true, description: 'SHA-256 of that notice (hex).' }) noticeSha256!: string | null;
  @Field(() => LegalBasisEnum, { nullable: true, description: 'Legal basis at the time.' }) legalBasis!: LegalBasis | null;
  @Field(() => Boolean, { description: 'Whether it carried a Global Privacy Control signal.' }) gpc!: boolean;
  @Field(() => OptOutReasonEnum, { nullable: true, description: 'Opt-out reason.' }) reason!: OptOutReason | null;
  @Field(() => OptOutSourceEnum, { nullable: true, description: 'Opt-out or opt-in source.' }) source!: OptOutSource | null;
  @Field(() => Date, { description: 'When it was recorded.' }) at!: Date;
  @Field(() => String, { description: 'Who recorded it: USER, API_KEY, SYSTEM or PUBLIC.' }) actorType!: string;
  @Field(() => Boolean, { description: 'Whether a sealed proof is attached.' }) hasProof!: boolean;
}

export const ConsentRecordConnection = connectionOf('ConsentRecord', ConsentRecord, {
  edge: 'A consent record in a page.',
  cursor: 'Opaque cursor of this record.',
  node: 'The record.',
  connection: 'A page of consent records, newest first.',
  edges: 'The records of this page.',
  pageInfo: 'Where the page ends.',
  totalCount: 'How many records the subject has.',
});

@ObjectType({ description: 'The current state of consent to one purpose on one channel (the latest record wins).' })
export class ConsentStatusEntry {
  @Field(() => String, { description: 'Purpose key.' }) purpose!: string;
  @Field(() => ChannelEnum, { description: 'Channel.' }) channel!: Channel;
  @Field(() => Boolean, { description: 'Whether consent holds now (after Global Privacy Control).' }) granted!: boolean;
  @Field(() => Boolean, { description: 'What the latest record says.' }) recordedGranted!: boolean;
  @Field(() => Boolean, { description: 'A recorded grant overridden by a later GPC signal (the conflict: it holds again only after a new affirmative grant).' }) gpcOverride!: boolean;
  @Field(() => Int, { nullable: true, description: 'Notice version of the latest record.' }) noticeVersion!: number | null;
  @Field(() => Int, { description: 'The purpose\'s current notice version.' }) currentNoticeVersion!: number;
  @Field(() => Boolean, { description: 'Granted under an older notice version: ask again.' }) needsRenewal!: boolean;
  @Field(() => ConsentMethodEnum, { nullable: true, description: 'Method of the latest record.' }) method!: ConsentMethod | null;
  @Field(() => Date, { description: 'When the latest record was made.' }) at!: Date;
  @Field(() => ID, { description: 'The latest record (and its receipt).' }) recordId!: string;
}

@ObjectType({ description: 'Whether a subject is opted out of a channel (for every purpose, or one).' })
export class ChannelOptOutState {
  @Field(() => ChannelEnum, { description: 'Channel.' }) channel!: Channel;
  @Field(() => String, { nullable: true, description: 'Purpose key (null: every purpose).' }) purpose!: string | null;
  @Field(() => Boolean, { description: 'Opted out now.' }) optedOut!: boolean;
}

@ObjectType({ description: 'A subject\'s consent and opt-out state.' })
export class ConsentStatus {
  @Field(() => ID, { description: 'The subject.' }) subjectId!: string;
  @Field(() => [ConsentStatusEntry], { description: 'Per purpose × channel.' }) entries!: ConsentStatusEntry[];
  @Field(() => [ChannelOptOutState], { description: 'Per channel (and purpose) with opt-out records.' }) channels!: ChannelOptOutState[];
  @Field(() => Boolean, { description: 'Whether a Global Privacy Control signal was ever recorded.' }) gpcSignalled!: boolean;
  @Field(() => Date, { nullable: true, description: 'When the latest GPC signal was recorded.' }) gpcSignalledAt!: Date | null;
}

@ObjectType({ description: 'A signed consent receipt (ISO/IEC TS 27560, Kantara): a JWS verifiable with /.well-known/jwks.json, typ coffer-consent-receipt+jwt.' })
export class ConsentReceipt {
  @Field(() => ID, { description: 'Receipt id (the record id).' }) id!: string;
  @Field(() => String, { description: 'The compact JWS.' }) jws!: string;
  @Field(() => GraphQLJSONObject, { description: 'Its payload, as signed.' }) payload!: Record<string, unknown>;
}

@ObjectType({ description: 'A raw change to the consent ledger found by verification.' })
export class ConsentLedgerFinding {
  @Field(() => Int, { nullable: true, description: 'Where in the chain.' }) seq!: number | null;
  @Field(() => ID, { nullable: true, description: 'The record, when there is one.' }) recordId!: string | null;
  @Field(() => LedgerProblemEnum, { description: 'What was found.' }) problem!: LedgerProblem;
}

@ObjectType({ description: 'The outcome of verifying the tenant\'s consent ledger chain.' })
export class ConsentLedgerVerification {
  @Field(() => Boolean, { description: 'True when nothing was edited, deleted or inserted.' }) valid!: boolean;
  @Field(() => Int, { description: 'Records checked.' }) checked!: number;
  @Field(() => Int, { description: 'The last sequence number the chain head recorded.' }) headSeq!: number;
  @Field(() => [ConsentLedgerFinding], { description: 'What was found (at most 1,000).' }) findings!: ConsentLedgerFinding[];
}

@ObjectType({ description: 'Whether a subject may be contacted on a channel for a purpose.' })
export class ContactDecision {
  @Field(() => ID, { nullable: true, description: 'The subject (null when an email or phone matched none).' }) subjectId!: string | null;
  @Field(() => Boolean, { description: 'Allowed when no reason stands in the way.' }) allowed!: boolean;
  @Field(() => [ContactReasonEnum], { description: 'Why not.' }) reasons!: ContactReason[];
}

@ObjectType({ description: 'Opt-outs of one channel for one reason.' })
export class OptOutCount {
  @Field(() => ChannelEnum, { description: 'Channel.' }) channel!: Channel;
  @Field(() => OptOutReasonEnum, { description: 'Reason.' }) reason!: OptOutReason;
  @Field(() => Int, { description: 'How many.' }) count!: number;
}

@ObjectType({ description: 'Opt-outs recorded in a period.' })
export class OptOutStatistics {
  @Field(() => Date, { description: 'Start (inclusive).' }) from!: Date;
  @Field(() => Date, { description: 'End (exclusive).' }) to!: Date;
  @Field(() => Int, { description: 'All opt-outs.' }) total!: number;
  @Field(() => [OptOutCount], { description: 'Per channel and reason.' }) counts!: OptOutCount[];
}

@ObjectType({ description: 'A signed, expiring link to a public page.' })
export class SignedLink {
  @Field(() => String, { description: 'The URL.' }) url!: string;
  @Field(() => Date, { description: 'When its token expires.' }) expiresAt!: Date;
}

@ObjectType({ description: 'RFC 8058 headers a sender sets on an email.' })
export class EmailUnsubscribeHeaders {
  @Field(() => String, { description: 'Value of List-Unsubscribe: <https URL>.' }) listUnsubscribe!: string;
  @Field(() => String, { description: 'Value of List-Unsubscribe-Post: List-Unsubscribe=One-Click.' }) listUnsubscribePost!: string;
  @Field(() => String, { description: 'The unsubscribe URL.' }) url!: string;
  @Field(() => Date, { description: 'When its token expires.' }) expiresAt!: Date;
}

@ObjectType({ description: 'What an unsubscribe or confirmation did (never anything about the subject).' })
export class PublicLinkResult {
  @Field(() => String, { description: 'The tenant\'s name.' }) tenantName!: string;
  @Field(() => ChannelEnum, { description: 'The channel.' }) channel!: Channel;
  @Field(() => String, { description: 'The purpose\'s name.' }) purposeName!: string;
}

@InputType({ description: 'A new consent purpose.' })
export class CreateConsentPurposeInput {
  @Field(() => String, { description: 'Machine key (2–64 of a-z, 0-9, _ . -).' }) key!: string;
  @Field(() => String, { description: 'Display name (≤ 200).' }) name!: string;
  @Field(() => String, { description: 'Description (≤ 2,000).' }) description!: string;
  @Field(() => LegalBasisEnum, { description: 'Legal basis.' }) legalBasis!: LegalBasis;
  @Field(() => String, { description: 'Notice text (≤ 20,000): version 1.' }) noticeText!: string;
  @Field(() => Boolean, { nullable: true, description: 'Honour Global Privacy Control (default false).' }) honoursGpc!: boolean | null;
}

@InputType({ description: 'Changes to a consent purpose; a changed noticeText publishes a new notice version.' })
export class UpdateConsentPurposeInput {
  @Field(() => String, { description: 'The purpose key.' }) key!: string;
  @Field(() => String, { nullable: true, description: 'New name.' }) name!: string | null;
  @Field(() => String, { nullable: true, description: 'New description.' }) description!: string | null;
  @Field(() => LegalBasisEnum, { nullable: true, description: 'New legal basis.' }) legalBasis!: LegalBasis | null;
  @Field(() => String, { nullable: true, description: 'New notice text.' }) noticeText!: string | null;
  @Field(() => Boolean, { nullable: true, description: 'Honour Global Privacy Control.' }) honoursGpc!: boolean | null;
}

@InputType({ description: 'Proof of a decision: personal data, sealed under the subject\'s key.' })
export class ConsentProofInput {
  @Field(() => String, { nullable: true, description: 'IP address (≤ 64).' }) ip!: string | null;
  @Field(() => String, { nullable: true, description: 'User agent (≤ 512).' }) userAgent!: string | null;
  @Field(() => Date, { nullable: true, description: 'When the decision was captured.' }) capturedAt!: Date | null;
  @Field(() => String, { nullable: true, description: 'Evidence, e.g. the form or recording reference (≤ 2,000).' }) evidence!: string | null;
}

@InputType({ description: 'A consent decision to append to the ledger.' })
export class RecordConsentInput {
  @Field(() => ID, { description: 'The data subject.' }) subjectId!: string;
  @Field(() => String, { description: 'Purpose key.' }) purpose!: string;
  @Field(() => ChannelEnum, { description: 'Channel.' }) channel!: Channel;
  @Field(() => Boolean, { description: 'Granted (true) or withdrawn (false).' }) granted!: boolean;
  @Field(() => ConsentMethodEnum, { description: 'How it was collected.' }) method!: ConsentMethod;
  @Field(() => Int, { nullable: true, description: 'The notice version shown (default: current).' }) noticeVersion!: number | null;
  @Field(() => ConsentProofInput, { nullable: true, description: 'Proof (sealed).' }) proof!: ConsentProofInput | null;
  @Field(() => Boolean, { nullable: true, description: 'The request carried a Global Privacy Control signal.' }) gpc!: boolean | null;
}

@InputType({ description: 'One recipient: exactly one of subjectId, email, phone.' })
export class ContactInput {
  @Field(() => ID, { nullable: true, description: 'A data subject.' }) subjectId!: string | null;
  @Field(() => String, { nullable: true, description: 'An email address.' }) email!: string | null;
  @Field(() => String, { nullable: true, description: 'A phone number.' }) phone!: string | null;
}
