/** A unique-index violation, from a single write (code 11000) or any write of a bulk insert. */
export function isDuplicateKey(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, writeErrors } = error as { code?: unknown; writeErrors?: unknown };
  if (code === 11000) return true;
  return Array.isArray(writeErrors) && writeErrors.some((e: unknown) => (e as { code?: unknown } | null)?.code === 11000);
}
