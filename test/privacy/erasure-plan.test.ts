import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import {
  completeStep,
  ERASURE_STATES,
  ERASURE_STEP_DUTIES,
  ERASURE_STEPS,
  isErasureState,
  isStepDone,
  nextStep,
  stateAfterVerification,
  type ErasureState,
} from '../../src/modules/privacy/erasure-plan.js';

describe('erasure plan', () => {
  it('destroys the key first and ends with DONE', () => {
    expect(ERASURE_STEPS).toEqual(['KEY_DESTROYED', 'INDEX_REMOVED', 'RECORDS_SCRUBBED', 'VERIFIED', 'DONE']);
    expect(nextStep('PENDING')).toBe('KEY_DESTROYED');
  });

  it('names the next step from every stored state, and none after DONE', () => {
    expect(ERASURE_STATES.map(nextStep)).toEqual(['KEY_DESTROYED', 'INDEX_REMOVED', 'RECORDS_SCRUBBED', 'VERIFIED', 'DONE', null]);
  });

  it('runs to completion from any stored state (resumable)', () => {
    for (const start of ERASURE_STATES) {
      let state: ErasureState = start;
      const performed: string[] = [];
      for (let step = nextStep(state); step; step = nextStep(state)) {
        performed.push(step);
        state = completeStep(state, step);
      }
      expect(state).toBe('DONE');
      expect(performed).toEqual(ERASURE_STEPS.slice(ERASURE_STATES.indexOf(start)));
    }
  });

  it('ignores a step reported twice (idempotent)', () => {
    expect(completeStep('INDEX_REMOVED', 'INDEX_REMOVED')).toBe('INDEX_REMOVED');
    expect(completeStep('VERIFIED', 'KEY_DESTROYED')).toBe('VERIFIED');
    expect(completeStep('DONE', 'DONE')).toBe('DONE');
  });

  it('refuses to skip a step, with CONFLICT', () => {
    let outcome: unknown;
    try {
      completeStep('PENDING', 'INDEX_REMOVED');
    } catch (error) {
      outcome = error;
    }
    expect(outcome).toBeInstanceOf(AppError);
    expect((outcome as AppError).code).toBe('CONFLICT');
    expect((outcome as AppError).extensions).toMatchObject({ state: 'PENDING', step: 'INDEX_REMOVED', expected: 'KEY_DESTROYED' });
    expect(() => completeStep('KEY_DESTROYED', 'VERIFIED')).toThrow(AppError);
  });

  it('knows which steps are done in a state', () => {
    expect(isStepDone('INDEX_REMOVED', 'KEY_DESTROYED')).toBe(true);
    expect(isStepDone('INDEX_REMOVED', 'INDEX_REMOVED')).toBe(true);
    expect(isStepDone('INDEX_REMOVED', 'RECORDS_SCRUBBED')).toBe(false);
    expect(ERASURE_STEPS.some((step) => isStepDone('PENDING', step))).toBe(false);
  });

  it('records VERIFIED only when every check passed, and otherwise starts the idempotent steps again', () => {
    expect(stateAfterVerification('RECORDS_SCRUBBED', true)).toBe('VERIFIED');
    expect(stateAfterVerification('RECORDS_SCRUBBED', false)).toBe('PENDING');
    expect(() => stateAfterVerification('INDEX_REMOVED', true)).toThrow(AppError);
  });

  it('validates stored states read back from the database', () => {
    expect(ERASURE_STATES.every(isErasureState)).toBe(true);
    expect(isErasureState('ERASED')).toBe(false);
    expect(() => nextStep('ERASED' as ErasureState)).toThrow('unknown erasure state');
  });

  it('documents duties for every step, including the cache eviction and the suppression hashes kept', () => {
    expect(Object.keys(ERASURE_STEP_DUTIES)).toEqual([...ERASURE_STEPS]);
    expect(ERASURE_STEP_DUTIES.KEY_DESTROYED.join(' ')).toContain('every instance');
    expect(ERASURE_STEP_DUTIES.INDEX_REMOVED.join(' ')).toContain('suppression');
  });
});
