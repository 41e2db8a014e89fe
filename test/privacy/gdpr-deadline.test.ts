import { describe, expect, it } from 'vitest';
import {
  addGdprMonths,
  dueAt,
  effectiveDueAt,
  extensionAllowed,
  isDueWithin,
  isOverdue,
  type DeadlineFacts,
} from '../../src/modules/privacy/gdpr-deadline.js';

const utc = (iso: string) => new Date(iso);
const iso = (date: Date) => date.toISOString();

describe('addGdprMonths', () => {
  it.each([
    ['2025-01-15T10:30:00.000Z', 1, '2025-02-15T10:30:00.000Z'],
    ['2025-01-31T09:00:00.000Z', 1, '2025-02-28T09:00:00.000Z'],
    ['2024-01-31T09:00:00.000Z', 1, '2024-02-29T09:00:00.000Z'],
    ['2025-03-31T23:59:59.999Z', 1, '2025-04-30T23:59:59.999Z'],
    ['2025-05-31T00:00:00.000Z', 1, '2025-06-30T00:00:00.000Z'],
    ['2025-08-31T12:00:00.000Z', 1, '2025-09-30T12:00:00.000Z'],
    ['2024-02-29T08:00:00.000Z', 12, '2025-02-28T08:00:00.000Z'],
    ['2024-02-29T08:00:00.000Z', 48, '2028-02-29T08:00:00.000Z'],
    ['2025-02-28T08:00:00.000Z', 1, '2025-03-28T08:00:00.000Z'],
  ])('%s + %i months is %s', (from, months, expected) => {
    expect(iso(addGdprMonths(utc(from), months))).toBe(expected);
  });

  it('rolls December into January of the next year', () => {
    expect(iso(addGdprMonths(utc('2025-12-15T14:00:00.000Z'), 1))).toBe('2026-01-15T14:00:00.000Z');
    expect(iso(addGdprMonths(utc('2025-12-31T14:00:00.000Z'), 2))).toBe('2026-02-28T14:00:00.000Z');
    expect(iso(addGdprMonths(utc('2025-11-30T14:00:00.000Z'), 3))).toBe('2026-02-28T14:00:00.000Z');
    expect(iso(addGdprMonths(utc('2023-12-31T14:00:00.000Z'), 2))).toBe('2024-02-29T14:00:00.000Z');
  });

  it('uses the UTC calendar, whatever the time zone of the instant', () => {
    // 23:30 on 31 Jan in UTC is already 1 Feb in Paris; the rule follows UTC.
    expect(iso(addGdprMonths(utc('2025-01-31T23:30:00.000Z'), 1))).toBe('2025-02-28T23:30:00.000Z');
  });

  it('returns a new date, leaves its argument unchanged, and is the identity for 0 months', () => {
    const from = utc('2025-01-31T09:00:00.000Z');
    expect(iso(addGdprMonths(from, 0))).toBe('2025-01-31T09:00:00.000Z');
    addGdprMonths(from, 1);
    expect(iso(from)).toBe('2025-01-31T09:00:00.000Z');
  });

  it('refuses negative or fractional months and invalid dates', () => {
    expect(() => addGdprMonths(utc('2025-01-01T00:00:00Z'), -1)).toThrow('months');
    expect(() => addGdprMonths(utc('2025-01-01T00:00:00Z'), 1.5)).toThrow('months');
    expect(() => addGdprMonths(new Date(Number.NaN), 1)).toThrow('valid date');
  });
});

describe('dueAt and effectiveDueAt', () => {
  it('is one GDPR month after receipt', () => {
    expect(iso(dueAt(utc('2025-01-31T09:00:00.000Z')))).toBe('2025-02-28T09:00:00.000Z');
  });

  it('counts an extension from the receipt date, so a clamped month does not shorten it', () => {
    const request: DeadlineFacts = {
      receivedAt: utc('2025-01-31T09:00:00.000Z'),
      extension: { months: 2, reason: 'complex', decidedAt: utc('2025-02-10T00:00:00Z') },
    };
    expect(iso(effectiveDueAt(request))).toBe('2025-04-30T09:00:00.000Z');
    expect(iso(effectiveDueAt({ receivedAt: request.receivedAt }))).toBe('2025-02-28T09:00:00.000Z');
  });
});

describe('extensionAllowed', () => {
  const receivedAt = utc('2025-01-31T09:00:00.000Z');
  const beforeDue = utc('2025-02-20T00:00:00.000Z');

  it('allows one extension of 1 or 2 months with a reason, before the original deadline', () => {
    const decision = extensionAllowed({ receivedAt }, beforeDue, 2, '  many linked accounts to search ');
    expect(decision).toEqual({ allowed: true, dueAt: utc('2025-04-30T09:00:00.000Z'), months: 2, reason: 'many linked accounts to search' });
    const one = extensionAllowed({ receivedAt }, beforeDue, 1, 'volume of requests');
    expect(one.allowed && iso(one.dueAt)).toBe('2025-03-31T09:00:00.000Z');
  });

  it('refuses a second extension', () => {
    const decision = extensionAllowed(
      { receivedAt, extension: { months: 1, reason: 'first', decidedAt: utc('2025-02-01T00:00:00Z') } },
      beforeDue,
      1,
      'second',
    );
    expect(decision).toMatchObject({ allowed: false, refusal: 'ALREADY_EXTENDED' });
  });

  it('refuses at or after the original deadline', () => {
    expect(extensionAllowed({ receivedAt }, utc('2025-02-28T09:00:00.000Z'), 2, 'late')).toMatchObject({ refusal: 'ORIGINAL_DEADLINE_PASSED' });
    expect(extensionAllowed({ receivedAt }, utc('2025-03-15T00:00:00.000Z'), 2, 'late')).toMatchObject({ refusal: 'ORIGINAL_DEADLINE_PASSED' });
    expect(extensionAllowed({ receivedAt }, utc('2025-02-28T08:59:59.999Z'), 2, 'just in time').allowed).toBe(true);
  });

  it('refuses 0, 3, fractional or negative months', () => {
    for (const months of [0, 3, 1.5, -1, Number.NaN]) {
      expect(extensionAllowed({ receivedAt }, beforeDue, months, 'reason')).toMatchObject({ allowed: false, refusal: 'INVALID_MONTHS' });
    }
  });

  it('requires a non-blank reason of bounded length', () => {
    for (const reason of [undefined, null, '', '   \n']) {
      expect(extensionAllowed({ receivedAt }, beforeDue, 2, reason)).toMatchObject({ allowed: false, refusal: 'REASON_REQUIRED' });
    }
    expect(extensionAllowed({ receivedAt }, beforeDue, 2, 'r'.repeat(2001))).toMatchObject({ refusal: 'REASON_TOO_LONG' });
  });

  it('never quotes the reason in a refusal message', () => {
    const decision = extensionAllowed({ receivedAt }, beforeDue, 7, 'Subject Alice Smith has 40 accounts');
    expect(decision.allowed).toBe(false);
    if (!decision.allowed) expect(decision.message).not.toContain('Alice');
  });
});

describe('isOverdue and isDueWithin', () => {
  const request: DeadlineFacts = { receivedAt: utc('2025-03-31T12:00:00.000Z') }; // due 2025-04-30T12:00Z

  it('is overdue only strictly after the due instant', () => {
    expect(isOverdue(request, utc('2025-04-30T12:00:00.000Z'))).toBe(false);
    expect(isOverdue(request, utc('2025-04-30T12:00:00.001Z'))).toBe(true);
  });

  it('uses the extended deadline once extended', () => {
    const extended: DeadlineFacts = { ...request, extension: { months: 2, reason: 'complex', decidedAt: utc('2025-04-01T00:00:00Z') } };
    expect(isOverdue(extended, utc('2025-05-15T00:00:00.000Z'))).toBe(false);
    expect(isOverdue(extended, utc('2025-07-01T00:00:00.000Z'))).toBe(true);
  });

  it('is due within n days when the deadline falls in the next n × 24 hours', () => {
    expect(isDueWithin(request, utc('2025-04-23T12:00:00.000Z'), 7)).toBe(true);
    expect(isDueWithin(request, utc('2025-04-23T11:59:59.999Z'), 7)).toBe(false);
    expect(isDueWithin(request, utc('2025-04-30T12:00:00.000Z'), 0)).toBe(true);
  });

  it('is not "due within" once overdue', () => {
    expect(isDueWithin(request, utc('2025-05-01T00:00:00.000Z'), 7)).toBe(false);
  });

  it('refuses a negative window', () => {
    expect(() => isDueWithin(request, utc('2025-04-01T00:00:00Z'), -1)).toThrow('days');
  });
});
