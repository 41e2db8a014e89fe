import { IsOptional, MaxLength } from 'class-validator';
import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { connectionOf } from '../../graphql/connection.js';
import { domainEnum } from '../../graphql/enums.js';
import { ACTOR_TYPES } from '../../identity/caller.js';
import { AUDIT_ACTIONS, AUDIT_CATALOGUE, AUDIT_RESOURCES, AUDIT_RESOURCE_TYPES, actionEnumName } from './audit-catalogue.js';
import { AUDIT_OUTCOMES, type ActorType, type AuditAction, type AuditOutcome, type AuditResourceType } from './audit-event.js';
import type { AuditEventPage } from './audit-query.js';
import type { AuditVerification as AuditVerificationData } from './audit-verify.js';
import type { AuditDetails, AuditEventDoc } from './audit.document.js';

export const ActorTypeEnum = domainEnum(ACTOR_TYPES, {
  name: 'ActorType',
  description: 'What kind of principal performed an audited action.',
  valuesConfig: {
    USER: { description: 'A signed-in user; the actor id is the user id.' },
    API_KEY: { description: 'An API key; the actor id is the key id.' },
    SYSTEM: { description: 'Coffer itself (scheduled jobs, rotations, sweeps).' },
    PUBLIC: { description: 'An unauthenticated caller (e.g. a failed login).' },
  },
});

export const AuditOutcomeEnum = domainEnum(AUDIT_OUTCOMES, {
  name: 'AuditOutcome',
  description: 'How an audited action ended.',
  valuesConfig: {
    SUCCESS: { description: 'It was carried out.' },
    FAILURE: { description: 'It was attempted and failed (bad input, wrong password, conflict).' },
    DENIED: { description: 'It was refused for lack of permission.' },
  },
});

/**
 * Derived from the audit catalogue (audit-catalogue.ts), so the API cannot drift from
 * what is recorded. GraphQL enum names cannot hold dots: secret.versions_destroyed is
 * SECRET_VERSIONS_DESTROYED; the stored value stays dotted.
 */
export const AuditActionEnum = Object.fromEntries(AUDIT_ACTIONS.map((action) => [actionEnumName(action), action])) as Record<string, AuditAction>;
registerEnumType(AuditActionEnum, {
  name: 'AuditAction',
  description: 'Every action the audit log records (stored dotted, e.g. SECRET_REVEALED is stored as secret.revealed). README "The audit log" lists each action\'s details.',
  valuesConfig: Object.fromEntries(AUDIT_ACTIONS.map((action) => [actionEnumName(action), { description: `${AUDIT_CATALOGUE[action].description} Stored as ${action}.` }])),
});

/** Derived from the audit catalogue's resource types. */
export const AuditResourceTypeEnum = Object.fromEntries(AUDIT_RESOURCE_TYPES.map((type) => [type, type])) as { [K in AuditResourceType]: K };
registerEnumType(AuditResourceTypeEnum, {
  name: 'AuditResourceType',
  description: 'What kind of thing an audited action was performed on.',
  valuesConfig: Object.fromEntries(AUDIT_RESOURCE_TYPES.map((type) => [type, { description: AUDIT_RESOURCES[type] }])),
});

@ObjectType({ description: 'Who performed an audited action.' })
export class AuditActor {
  @Field(() => ActorTypeEnum, { description: 'Kind of principal.' })
  type!: ActorType;

  @Field(() => String, { nullable: true, description: 'User or API key id; null for SYSTEM and unknown PUBLIC callers.' })
  id!: string | null;
}

@ObjectType({ description: 'What an audited action was performed on.' })
export class AuditResource {
  @Field(() => AuditResourceTypeEnum, { description: 'Kind of resource.' })
  type!: AuditResourceType;

  @Field(() => String, { nullable: true, description: 'Its id, when it has one.' })
  id!: string | null;
}

@ObjectType({ description: 'One entry of the tenant\'s tamper-evident audit log.' })
export class AuditEvent {
  @Field(() => ID, { description: 'Event id.' })
  id!: string;

  @Field(() => Int, { description: 'Position in the tenant\'s chain: 1, 2, 3… without gaps.' })
  sequence!: number;

  @Field(() => Date, { description: 'When the event was recorded.' })
  time!: Date;

  @Field(() => AuditActor, { description: 'Who did it.' })
  actor!: AuditActor;

  @Field(() => AuditActionEnum, { description: 'What was done, e.g. SECRET_REVEALED or MEMBER_ROLE_CHANGED.' })
  action!: AuditAction;

  @Field(() => AuditResource, { description: 'What it was done to.' })
  resource!: AuditResource;

  @Field(() => AuditOutcomeEnum, { description: 'How it ended.' })
  outcome!: AuditOutcome;

  @Field(() => String, { nullable: true, description: 'Client IP address of the request, when there was one.' })
  ip!: string | null;

  @Field(() => String, { nullable: true, description: 'User-Agent of the request, when there was one (long values are cut and marked).' })
  userAgent!: string | null;

  @Field(() => String, { nullable: true, description: 'Request id, to correlate with server logs.' })
  requestId!: string | null;

  @Field(() => GraphQLJSONObject, { description: 'Small non-secret facts about the action (versions, role names, counts).' })
  details!: AuditDetails;

  @Field(() => String, { description: 'HMAC-SHA256 chain hash of this event (hex); see verifyAuditLog.' })
  hash!: string;
}

export function toAuditEvent(doc: AuditEventDoc): AuditEvent {
  return Object.assign(new AuditEvent(), {
    id: doc._id,
    sequence: doc.seq,
    time: doc.time,
    actor: Object.assign(new AuditActor(), { type: doc.actor.type, id: doc.actor.id }),
    action: doc.action as AuditAction,
    resource: Object.assign(new AuditResource(), { type: doc.resource.type as AuditResourceType, id: doc.resource.id }),
    outcome: doc.outcome,
    ip: doc.ip,
    userAgent: doc.userAgent,
    requestId: doc.requestId,
    details: doc.details,
    hash: doc.hash,
  });
}

const AuditEvents = connectionOf('AuditEvent', AuditEvent, {
  edge: 'One event in a page of audit events.',
  cursor: 'Opaque cursor of this event; pass it as `after` to continue after it.',
  node: 'The event.',
  connection: 'A page of audit events, newest first.',
  edges: 'The events on this page.',
  pageInfo: 'Pagination state.',
  totalCount: 'Number of events matching the filter, across all pages.',
});
export const AuditEventConnection = AuditEvents.Connection;

export function toAuditEventConnection(page: AuditEventPage) {
  return AuditEvents.of({ ...page, edges: page.edges.map((edge) => ({ cursor: edge.cursor, node: toAuditEvent(edge.node) })) });
}

const FILTER_TEXT_MAX = 200;

@InputType({ description: 'Narrows a listing of audit events; every given field must match.' })
export class AuditEventFilter {
  @Field(() => AuditActionEnum, { nullable: true, description: 'Only this action, e.g. SECRET_REVEALED (secret.revealed).' })
  @IsOptional()
  action?: AuditAction | null;

  @Field(() => String, { nullable: true, description: 'Exact actor id (user or API key id).' })
  @IsOptional()
  @MaxLength(FILTER_TEXT_MAX)
  actorId?: string | null;

  @Field(() => AuditResourceTypeEnum, { nullable: true, description: 'Only events about this kind of resource, e.g. SECRET.' })
  @IsOptional()
  resourceType?: AuditResourceType | null;

  @Field(() => String, { nullable: true, description: 'Exact resource id.' })
  @IsOptional()
  @MaxLength(FILTER_TEXT_MAX)
  resourceId?: string | null;

  @Field(() => AuditOutcomeEnum, { nullable: true, description: 'Only events that ended this way, e.g. DENIED.' })
  @IsOptional()
  outcome?: AuditOutcome | null;

  @Field(() => Date, { nullable: true, description: 'Only events at or after this time.' })
  @IsOptional()
  from?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Only events before this time.' })
  @IsOptional()
  to?: Date | null;
}

@ObjectType({ description: 'Result of checking the audit log\'s hash chain.' })
export class AuditVerification {
  @Field(() => Boolean, { description: 'True when every event in the range is intact and linked: none edited, inserted, reordered or removed (removal of the newest events cannot be seen from the chain alone).' })
  valid!: boolean;

  @Field(() => Int, { description: 'Events verified before the first failure (all events in the range when valid).' })
  checkedEvents!: number;

  @Field(() => Int, { nullable: true, description: 'First sequence number at which the chain cannot be trusted; null when valid.' })
  firstInvalidSequence!: number | null;
}

export function toAuditVerification(result: AuditVerificationData): AuditVerification {
  return Object.assign(new AuditVerification(), result);
}
