/**
 * Deadlines of data-subject requests (GDPR Art. 12(3)) as calendar rules, not day counts
 * (DESIGN.md §8). A GDPR month runs from a date to the same date of the next month, or to
 * that month's last day when the date does not exist there (Regulation 1182/71, Art. 3).
 * Everything is computed in UTC and keeps the time of day of receipt: Regulation 1182/71
 * lets the period run to the end of that day, so keeping the time of day is the earlier,
 * stricter deadline.
 *
 * An extension (Art. 12(3): "by two further months where necessary") is one recorded
 * decision with a reason, taken before the original deadline. The extended deadline is
 * computed from the receipt date (1 + n months), not by adding months to the clamped
 * original deadline: 31 Jan + 1 + 2 months is 30 Apr, where 28 Feb + 2 months would give
 * 28 Apr and silently shorten the period.
 */

const DAY_MS = 86_400_000;

/** The longest extension Art. 12(3) allows, in months. */
export const MAX_EXTENSION_MONTHS = 2;
/** Longest recorded extension reason, in characters. */
export const EXTENSION_REASON_MAX = 2000;

/** The deadline-relevant facts of a request. */
export interface DeadlineFacts {
  receivedAt: Date;
  /** The extension decision, once recorded. */
  extension?: { months: number; reason: string; decidedAt: Date } | null;
}

function validDate(date: Date, what: string): void {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw new Error(`${what} must be a valid date`);
}

function daysInUtcMonth(year: number, monthIndex: number): number {
  return new Date(Date.UTC(year, monthIndex + 1, 0)).getUTCDate();
}

/**
 * The same calendar date `months` months after `from` (UTC), or the last day of that
 * month when the date does not exist there; time of day is kept.
 * 31 Jan → 28/29 Feb, 31 Mar → 30 Apr, 29 Feb 2024 + 12 → 28 Feb 2025, 15 Dec → 15 Jan.
 */
export function addGdprMonths(from: Date, months: number): Date {
  validDate(from, 'from');
  if (!Number.isSafeInteger(months) || months < 0) throw new Error('months must be a whole number ≥ 0');
  const total = from.getUTCMonth() + months;
  const year = from.getUTCFullYear() + Math.floor(total / 12);
  const monthIndex = total % 12;
  const day = Math.min(from.getUTCDate(), daysInUtcMonth(year, monthIndex));
  const result = new Date(from.getTime());
  // setUTCFullYear with all three parts at once, so no intermediate date overflows.
  result.setUTCFullYear(year, monthIndex, day);
  return result;
}

/** The original deadline: one GDPR month after receipt. */
export function dueAt(receivedAt: Date): Date {
  return addGdprMonths(receivedAt, 1);
}

/** The deadline in force: the original one, or 1 + n months after receipt once extended by n. */
export function effectiveDueAt(request: DeadlineFacts): Date {
  return addGdprMonths(request.receivedAt, 1 + (request.extension?.months ?? 0));
}

/** Why an extension is refused. */
export const EXTENSION_REFUSALS = ['ALREADY_EXTENDED', 'ORIGINAL_DEADLINE_PASSED', 'INVALID_MONTHS', 'REASON_REQUIRED', 'REASON_TOO_LONG'] as const;
export type ExtensionRefusal = (typeof EXTENSION_REFUSALS)[number];

/** The outcome of extensionAllowed: the new deadline, or a refusal code with a client-safe message. */
export type ExtensionDecision =
  | { allowed: true; dueAt: Date; months: number; reason: string }
  | { allowed: false; refusal: ExtensionRefusal; message: string };

/**
 * Whether `request` may be extended by `months` (1 or 2) at `now` for `reason`.
 * Refused when already extended (one extension only), when the original deadline has
 * passed (the subject must be told within the first month), when months is not 1 or 2,
 * or when the reason is empty or too long. Messages never quote the reason.
 */
export function extensionAllowed(request: DeadlineFacts, now: Date, months: number, reason: string | null | undefined): ExtensionDecision {
  validDate(request.receivedAt, 'receivedAt');
  validDate(now, 'now');
  if (request.extension) {
    return { allowed: false, refusal: 'ALREADY_EXTENDED', message: 'the deadline has already been extended once; a request can be extended only once' };
  }
  if (now.getTime() >= dueAt(request.receivedAt).getTime()) {
    return { allowed: false, refusal: 'ORIGINAL_DEADLINE_PASSED', message: 'an extension must be decided before the original one-month deadline' };
  }
  if (!Number.isInteger(months) || months < 1 || months > MAX_EXTENSION_MONTHS) {
    return { allowed: false, refusal: 'INVALID_MONTHS', message: `an extension is 1 or ${MAX_EXTENSION_MONTHS} further months` };
  }
  const trimmed = (reason ?? '').trim();
  if (trimmed.length === 0) {
    return { allowed: false, refusal: 'REASON_REQUIRED', message: 'an extension needs a reason, which is shared with the data subject' };
  }
  if (trimmed.length > EXTENSION_REASON_MAX) {
    return { allowed: false, refusal: 'REASON_TOO_LONG', message: `the reason must be at most ${EXTENSION_REASON_MAX} characters` };
  }
  return { allowed: true, dueAt: addGdprMonths(request.receivedAt, 1 + months), months, reason: trimmed };
}

/** Whether the deadline in force has passed at `now` (strictly after the due instant). */
export function isOverdue(request: DeadlineFacts, now: Date): boolean {
  validDate(now, 'now');
  return now.getTime() > effectiveDueAt(request).getTime();
}

/** Whether the deadline in force falls within the next `days` × 24 hours (and is not yet past). */
export function isDueWithin(request: DeadlineFacts, now: Date, days: number): boolean {
  validDate(now, 'now');
  if (!Number.isFinite(days) || days < 0) throw new Error('days must be a number ≥ 0');
  const remaining = effectiveDueAt(request).getTime() - now.getTime();
  return remaining >= 0 && remaining <= days * DAY_MS;
}
