import { MongoNetworkError, MongoOperationTimeoutError, MongoServerSelectionError } from 'mongodb';

/** A unique-index violation, from a single write (code 11000) or any write of a bulk insert. */
export function isDuplicateKey(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, writeErrors } = error as { code?: unknown; writeErrors?: unknown };
  if (code === 11000) return true;
  return Array.isArray(writeErrors) && writeErrors.some((e: unknown) => (e as { code?: unknown } | null)?.code === 11000);
}

/**
 * The database could not be reached (no server selectable, a connection refused, reset or
 * timed out, the pool cleared by one of those, an operation past its time limit): not the
 * request's fault and not a bug, so clients see SERVICE_UNAVAILABLE. Follows `cause` and
 * GraphQL's `originalError` a few levels, as wrappers hide the driver's error there.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    if (
      current instanceof MongoNetworkError ||
      current instanceof MongoServerSelectionError ||
      current instanceof MongoOperationTimeoutError
    ) {
      return true;
    }
    const { cause, originalError } = current as { cause?: unknown; originalError?: unknown };
    current = originalError ?? cause;
  }
  return false;
}
