import { appError } from '../../errors.js';

/**
 * Data-subject requests (GDPR Art. 15–21) as a pure state machine. Each enum is declared
 * once, as a const array plus its union type, so GraphQL enums and validators can be
 * derived from the same list later.
 *
 *   RECEIVED ──START──▶ IN_PROGRESS ──COMPLETE──▶ COMPLETED
 *      │                     │
 *      └──────REJECT─────────┴──────REJECT──────▶ REJECTED
 *
 * REJECT is also allowed straight from RECEIVED: a manifestly unfounded or unverifiable
 * request (Art. 12(5), 12(6)) is refused without being worked on. COMPLETED and REJECTED
 * are final. Extending the deadline is not a status change (see gdpr-deadline.ts).
 */

/** Kinds of request, by the right exercised: access (15), rectification (16), erasure (17), restriction (18), portability (20), objection (21). */
export const DSR_TYPES = ['ACCESS', 'PORTABILITY', 'RECTIFICATION', 'ERASURE', 'RESTRICTION', 'OBJECTION'] as const;
export type DsrType = (typeof DSR_TYPES)[number];

/** Where a request stands. */
export const DSR_STATUSES = ['RECEIVED', 'IN_PROGRESS', 'COMPLETED', 'REJECTED'] as const;
export type DsrStatus = (typeof DSR_STATUSES)[number];

/** What can be done to a request. */
export const DSR_ACTIONS = ['START', 'COMPLETE', 'REJECT'] as const;
export type DsrAction = (typeof DSR_ACTIONS)[number];

/** Statuses from which nothing moves. */
export const DSR_FINAL_STATUSES: readonly DsrStatus[] = ['COMPLETED', 'REJECTED'];

const MOVES: Readonly<Record<DsrStatus, Partial<Record<DsrAction, DsrStatus>>>> = {
  RECEIVED: { START: 'IN_PROGRESS', REJECT: 'REJECTED' },
  IN_PROGRESS: { COMPLETE: 'COMPLETED', REJECT: 'REJECTED' },
  COMPLETED: {},
  REJECTED: {},
};

const member =
  <T extends string>(values: readonly T[]) =>
  (value: unknown): value is T =>
    typeof value === 'string' && (values as readonly string[]).includes(value);

/** Whether `value` is a DsrType. */
export const isDsrType = member(DSR_TYPES);
/** Whether `value` is a DsrStatus. */
export const isDsrStatus = member(DSR_STATUSES);
/** Whether `value` is a DsrAction. */
export const isDsrAction = member(DSR_ACTIONS);

/** Whether no action can move a request out of `status`. */
export function isFinalStatus(status: DsrStatus): boolean {
  return DSR_FINAL_STATUSES.includes(status);
}

/** The actions allowed from `status`, in DSR_ACTIONS order. */
export function allowedActions(status: DsrStatus): DsrAction[] {
  return DSR_ACTIONS.filter((action) => MOVES[status][action] !== undefined);
}

/**
 * The status after `action` from `from`. An illegal move (e.g. COMPLETE from RECEIVED,
 * anything from a final status) throws a CONFLICT AppError whose extensions carry
 * `from`, `action` and `allowed` (enum values only, never request content).
 */
export function transition(from: DsrStatus, action: DsrAction): DsrStatus {
  if (!isDsrStatus(from) || !isDsrAction(action)) throw new Error('unknown request status or action');
  const to = MOVES[from][action];
  if (to === undefined) {
    const allowed = allowedActions(from);
    const hint = allowed.length > 0 ? `allowed: ${allowed.join(', ')}` : 'the request is closed';
    throw appError('CONFLICT', `Cannot ${action} a request that is ${from} (${hint})`, { from, action, allowed });
  }
  return to;
}
