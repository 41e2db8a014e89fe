import { appError } from '../../errors.js';

/**
 * Erasure of a data subject as a stored, resumable plan (DESIGN.md §8: key destruction
 * first, then clean-up). The stored state is the last step completed; `nextStep` says what
 * to do next. Every step is idempotent, so a worker that dies mid-step simply runs that
 * step again, and any instance can resume from any stored state.
 *
 *   PENDING → KEY_DESTROYED → INDEX_REMOVED → RECORDS_SCRUBBED → VERIFIED → DONE
 */

/** The steps, in the order they are performed. */
export const ERASURE_STEPS = ['KEY_DESTROYED', 'INDEX_REMOVED', 'RECORDS_SCRUBBED', 'VERIFIED', 'DONE'] as const;
export type ErasureStep = (typeof ERASURE_STEPS)[number];

/** A stored erasure state: PENDING (nothing done yet) or the last step completed. */
export const ERASURE_STATES = ['PENDING', ...ERASURE_STEPS] as const;
export type ErasureState = (typeof ERASURE_STATES)[number];

/**
 * What each step must achieve before it is recorded as done: the checklist an
 * implementation is reviewed against, including what naive erasure forgets.
 */
export const ERASURE_STEP_DUTIES: Readonly<Record<ErasureStep, readonly string[]>> = {
  KEY_DESTROYED: [
    'delete the wrapped subject key from the key collection (crypto-shredding: every sealed copy, backups included, becomes unreadable)',
    'evict the unwrapped subject key from the key cache of every instance, not just this one',
  ],
  INDEX_REMOVED: [
    "delete every blind-index entry (email, phone, identities) that links a hash to the subject",
    'keep suppression hashes: an opt-out must outlive the person',
  ],
  RECORDS_SCRUBBED: [
    'replace the subject document by a tombstone without personal data',
    'remove consent proofs kept in clear (ip, user agent) and any personal data in audit details',
    'delete export files made for the subject',
  ],
  VERIFIED: [
    'check every post-condition (no key, no index entry, no personal record, no export file, suppression hashes kept); record this step only if all pass',
  ],
  DONE: ['sign and store the erasure receipt'],
};

/** Whether `value` is a stored erasure state (use before trusting a value read from the database). */
export function isErasureState(value: unknown): value is ErasureState {
  return typeof value === 'string' && (ERASURE_STATES as readonly string[]).includes(value);
}

function position(state: ErasureState): number {
  if (!isErasureState(state)) throw new Error('unknown erasure state');
  return ERASURE_STATES.indexOf(state);
}

/** The step to perform after `state`, or null when the erasure is DONE. */
export function nextStep(state: ErasureState): ErasureStep | null {
  return ERASURE_STEPS[position(state)] ?? null;
}

/** Whether `step` is already completed in `state`. */
export function isStepDone(state: ErasureState, step: ErasureStep): boolean {
  return position(state) >= position(step);
}

/**
 * The state after recording `step` as done. Recording a step that is already done
 * returns `state` unchanged (idempotent: a retried worker may report twice); recording
 * a step out of order (skipping one) throws CONFLICT.
 */
export function completeStep(state: ErasureState, step: ErasureStep): ErasureState {
  if (isStepDone(state, step)) return state;
  const expected = nextStep(state);
  if (step !== expected) {
    throw appError('CONFLICT', `Erasure step ${step} cannot be recorded before ${expected ?? 'DONE'}`, { state, step, expected });
  }
  return step;
}

/**
 * Where to resume after the VERIFIED checks: VERIFIED when every check passed; otherwise
 * PENDING, so the (idempotent) steps run again from key destruction. A caller bounds the
 * number of attempts and raises an alert when verification keeps failing.
 */
export function stateAfterVerification(state: ErasureState, allChecksPassed: boolean): ErasureState {
  if (nextStep(state) !== 'VERIFIED') {
    throw appError('CONFLICT', 'Erasure verification runs only after RECORDS_SCRUBBED', { state });
  }
  return allChecksPassed ? 'VERIFIED' : 'PENDING';
}
