/**
 * Domain errors: what a service reports to whoever called it. They know nothing of
 * GraphQL or HTTP; src/graphql/errors.ts turns them into error responses.
 */

/** The error codes of docs/ARCHITECTURE.md §8: every error a client sees carries one of them. */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  RATE_LIMITED: 'RATE_LIMITED',
  ACCOUNT_LOCKED: 'ACCOUNT_LOCKED',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
  /** A refusal like FORBIDDEN: the tenant requires a second factor of the caller's role and this session has not used one. */
  TWO_FACTOR_REQUIRED: 'TWO_FACTOR_REQUIRED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A refusal with a code and client-safe details (`extensions`, which include the code). */
export class AppError extends Error {
  readonly extensions: Readonly<Record<string, unknown>> & { code: ErrorCode };

  constructor(
    readonly code: ErrorCode,
    message: string,
    extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppError';
    this.extensions = { ...extensions, code };
  }
}

export function appError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): AppError {
  return new AppError(code, message, extensions);
}

export const unauthenticated = (message = 'Authentication required') => appError('UNAUTHENTICATED', message);
export const forbidden = (message = 'Not allowed') => appError('FORBIDDEN', message);
/** NOT_FOUND for a missing thing named by a noun phrase: `notFound('API key')` → "API key not found". */
export const notFound = (thing: string) => appError('NOT_FOUND', `${thing} not found`);
/** NOT_FOUND that needs its own complete sentence (never glue " not found" onto a sentence). */
export const notFoundBecause = (sentence: string) => appError('NOT_FOUND', sentence);
export const conflict = (message: string) => appError('CONFLICT', message);
export const badInput = (field: string, message: string) => appError('BAD_USER_INPUT', `${field}: ${message}`, { field });
/** RATE_LIMITED; `retryAfter` is the seconds until the budget allows the next attempt (also the HTTP Retry-After). */
export const rateLimited = (retryAfter: number) => appError('RATE_LIMITED', 'Too many requests; try again later', { retryAfter });
