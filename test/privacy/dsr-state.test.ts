import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import {
  allowedActions,
  DSR_ACTIONS,
  DSR_STATUSES,
  DSR_TYPES,
  isDsrAction,
  isDsrStatus,
  isDsrType,
  isFinalStatus,
  transition,
  type DsrAction,
  type DsrStatus,
} from '../../src/modules/privacy/dsr-state.js';

function conflict(from: DsrStatus, action: DsrAction): AppError {
  let outcome: unknown = 'returned';
  try {
    transition(from, action);
  } catch (error) {
    outcome = error;
  }
  expect(outcome).toBeInstanceOf(AppError);
  const error = outcome as AppError;
  expect(error.code).toBe('CONFLICT');
  expect(error.extensions).toMatchObject({ from, action });
  return error;
}

describe('DSR enums', () => {
  it('declare the six request types, four statuses and three actions once each', () => {
    expect(DSR_TYPES).toEqual(['ACCESS', 'PORTABILITY', 'RECTIFICATION', 'ERASURE', 'RESTRICTION', 'OBJECTION']);
    expect(DSR_STATUSES).toEqual(['RECEIVED', 'IN_PROGRESS', 'COMPLETED', 'REJECTED']);
    expect(DSR_ACTIONS).toEqual(['START', 'COMPLETE', 'REJECT']);
  });

  it('have guards that accept exactly their members', () => {
    expect(DSR_TYPES.every(isDsrType)).toBe(true);
    expect(DSR_STATUSES.every(isDsrStatus)).toBe(true);
    expect(DSR_ACTIONS.every(isDsrAction)).toBe(true);
    for (const bad of ['access', 'DELETE', '', null, 1]) {
      expect(isDsrType(bad)).toBe(false);
      expect(isDsrStatus(bad)).toBe(false);
      expect(isDsrAction(bad)).toBe(false);
    }
  });
});

describe('transition', () => {
  it('follows RECEIVED → IN_PROGRESS → COMPLETED', () => {
    expect(transition('RECEIVED', 'START')).toBe('IN_PROGRESS');
    expect(transition('IN_PROGRESS', 'COMPLETE')).toBe('COMPLETED');
  });

  it('rejects from RECEIVED or IN_PROGRESS', () => {
    expect(transition('RECEIVED', 'REJECT')).toBe('REJECTED');
    expect(transition('IN_PROGRESS', 'REJECT')).toBe('REJECTED');
  });

  it('refuses completing a request that was never started', () => {
    const error = conflict('RECEIVED', 'COMPLETE');
    expect(error.extensions.allowed).toEqual(['START', 'REJECT']);
  });

  it('refuses starting a request twice', () => {
    conflict('IN_PROGRESS', 'START');
  });

  it('refuses every action on a closed request', () => {
    for (const from of ['COMPLETED', 'REJECTED'] as const) {
      for (const action of DSR_ACTIONS) expect(conflict(from, action).message).toContain('closed');
    }
  });

  it('agrees with allowedActions for every status and action', () => {
    for (const from of DSR_STATUSES) {
      for (const action of DSR_ACTIONS) {
        if (allowedActions(from).includes(action)) expect(() => transition(from, action)).not.toThrow();
        else conflict(from, action);
      }
    }
  });

  it('refuses values outside the enums as a programming error', () => {
    expect(() => transition('OPEN' as DsrStatus, 'START')).toThrow('unknown');
    expect(() => transition('RECEIVED', 'CANCEL' as DsrAction)).toThrow('unknown');
  });
});

describe('isFinalStatus', () => {
  it('is true exactly for COMPLETED and REJECTED', () => {
    expect(DSR_STATUSES.filter(isFinalStatus)).toEqual(['COMPLETED', 'REJECTED']);
    expect(DSR_STATUSES.filter((s) => allowedActions(s).length === 0)).toEqual(['COMPLETED', 'REJECTED']);
  });
});
