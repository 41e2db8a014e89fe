import { LRUCache } from 'lru-cache';

/**
 * A bounded cache whose entries live `seconds`; null when `seconds` is 0 (do not
 * cache at all — lru-cache reads ttl 0 as "forever").
 */
export function shortLivedCache<V extends {}>(seconds: number, max: number): LRUCache<string, V> | null {
  return seconds > 0 ? new LRUCache<string, V>({ max, ttl: seconds * 1000 }) : null;
}

/** Deletes every entry `matches` accepts (keys are collected first, then deleted). */
export function forgetWhere<V extends {}>(cache: LRUCache<string, V> | null, matches: (value: V, key: string) => boolean): void {
  if (!cache) return;
  const doomed = [...cache.entries()].filter(([key, value]) => matches(value, key)).map(([key]) => key);
  for (const key of doomed) cache.delete(key);
}
