import type { MasterKeyring } from './keyring.js';
import type { PlatformKeyRepository } from './platform-key.repository.js';

/**
 * The AAD binding a wrapped platform key to its id (version 1), so no other wrapped key can be
 * swapped in for it. The login-failure key (auth/login-failure-key.ts) and the TOTP key
 * (auth/totp-key.ts) use this same form.
 */
export function platformKeyAad(id: string): Buffer {
  return Buffer.from(JSON.stringify(['coffer:key:v1', '__platform__', id, 1]), 'utf8');
}

export interface PlatformRewrapResult {
  /** Platform keys moved to the active master key. */
  rewrapped: number;
  /** Ids of platform keys wrapped under a master key missing from the ring (left as they are). */
  unreadable: string[];
}

/**
 * Re-wraps every platform key under the active master key (`rewrap-keys`). Each move is a
 * compare-and-set on the stored master key id, so running it twice, or beside servers
 * re-wrapping on first use, is safe.
 */
export async function rewrapPlatformKeys(platformKeys: PlatformKeyRepository, keyring: MasterKeyring): Promise<PlatformRewrapResult> {
  let rewrapped = 0;
  const unreadable: string[] = [];
  for (const doc of await platformKeys.list()) {
    if (doc.masterKeyId === keyring.activeId) continue;
    if (!keyring.has(doc.masterKeyId)) {
      unreadable.push(doc.id);
      continue;
    }
    const aad = platformKeyAad(doc.id);
    const key = keyring.unwrap(doc.wrapped, doc.masterKeyId, aad);
    if (await platformKeys.replace(doc.id, doc.masterKeyId, keyring.wrap(key, aad))) rewrapped++;
  }
  return { rewrapped, unreadable };
}
