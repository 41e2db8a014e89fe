/**
 * The one way to make an audit event: `auditEvent(action, { caller, resource, details, outcome })`.
 * The details' type comes from the catalogue entry of the action (audit-catalogue.ts), so
 * an unknown action, an undeclared key or a wrong value does not compile; the same
 * rules are checked at run time, in case a cast got past the compiler.
 */
import { catalogueEntry, type AUDIT_CATALOGUE, type AuditAction, type DetailsOf, type ResourceTypeOf } from './audit-catalogue.js';
import { PLATFORM_CHAIN, type ActorType, type AuditOutcome, type CataloguedEvent } from './audit-event.js';
import { fieldProblem, type FieldSpec, type NoDetails } from './audit-fields.js';
import { AuditEventError } from './audit-input.js';

/** Who did it. */
export interface AuditActorRef {
  type: ActorType;
  id: string | null;
}

/** The request an action came over (absent for jobs and the CLI). */
export interface AuditRequest {
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

/** Where and by whom: a Principal fits as is. */
export interface AuditCaller {
  /** The tenant whose chain records it; null for the platform chain. */
  tenantId: string | null;
  actor: AuditActorRef;
  request?: AuditRequest | null;
}

/** The resource: its id, and its type when the action may be about more than one. */
export type ResourceArg<A extends AuditAction> = (typeof AUDIT_CATALOGUE)[A]['resources'] extends readonly [unknown]
  ? { type?: ResourceTypeOf<A>; id: string | null }
  : { type: ResourceTypeOf<A>; id: string | null };

/** Details: required when the action declares fields, absent (or empty) when it declares none. */
type DetailsArg<A extends AuditAction> = DetailsOf<A> extends NoDetails ? { details?: NoDetails } : { details: DetailsOf<A> };

/** What auditEvent() takes besides the action. */
export type AuditEventInit<A extends AuditAction> = {
  caller: AuditCaller;
  resource: ResourceArg<A>;
  /** Default SUCCESS. */
  outcome?: AuditOutcome;
} & DetailsArg<A>;

interface UncheckedInit {
  caller: AuditCaller;
  resource: { type?: string; id: string | null };
  outcome?: AuditOutcome;
  details?: unknown;
}

/** A signed-in user, or an anonymous caller when there is no user id. */
export function userActor(userId: string | null): AuditActorRef {
  return userId ? { type: 'USER', id: userId } : { type: 'PUBLIC', id: null };
}

/** Builds the event for `action`; throws AuditEventError when it does not match the catalogue. */
export function auditEvent<A extends AuditAction>(action: A, init: AuditEventInit<A>): CataloguedEvent;
export function auditEvent(action: string, init: UncheckedInit): CataloguedEvent {
  const entry = catalogueEntry(action);
  if (!entry) throw new AuditEventError(`action ${JSON.stringify(action)} is not in the audit catalogue`);
  const type = init.resource.type ?? entry.resources[0];
  if (!(entry.resources as readonly string[]).includes(type)) {
    throw new AuditEventError(`${action} is about ${entry.resources.join(' or ')}, not ${type}`);
  }
  const event = {
    tenantId: init.caller.tenantId ?? PLATFORM_CHAIN,
    actor: { type: init.caller.actor.type, id: init.caller.actor.id },
    action,
    resource: { type, id: init.resource.id },
    outcome: init.outcome ?? 'SUCCESS',
    ip: init.caller.request?.ip ?? null,
    userAgent: init.caller.request?.userAgent ?? null,
    requestId: init.caller.request?.requestId ?? null,
    details: checkedDetails(action, entry.details, init.details ?? {}),
  };
  return event as CataloguedEvent;
}

/** The details, when every key is declared for the action, every declared required key is there and every value fits. */
function checkedDetails(action: string, spec: FieldSpec, details: unknown): Record<string, unknown> {
  if (details === null || typeof details !== 'object' || Array.isArray(details)) throw new AuditEventError(`${action}: details must be an object`);
  const given = Object.entries(details).filter(([, value]) => value !== undefined);
  for (const [key, value] of given) {
    const field = Object.hasOwn(spec, key) ? spec[key] : undefined;
    if (!field) throw new AuditEventError(`${action}: details.${key} is not declared in the audit catalogue`);
    const problem = fieldProblem(field, value);
    if (problem) throw new AuditEventError(`${action}: details.${key} ${problem}`);
  }
  const present = new Set(given.map(([key]) => key));
  const missing = Object.entries(spec).find(([key, field]) => !field.optional && !present.has(key));
  if (missing) throw new AuditEventError(`${action}: details.${missing[0]} is required`);
  return Object.fromEntries(given);
}
