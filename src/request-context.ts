import { AsyncLocalStorage } from 'node:async_hooks';

/** Per-request values reachable from code that is not handed the request (error formatting). */
const storage = new AsyncLocalStorage<{ requestId: string }>();

export function runWithRequestId<T>(requestId: string, fn: () => T): T {
  return storage.run({ requestId }, fn);
}

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}
