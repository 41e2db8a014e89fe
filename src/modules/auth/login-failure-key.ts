import { randomBytes } from 'node:crypto';
import { KEY_BYTES } from '../../crypto/aes-gcm.js';
import { isDuplicateKey } from '../../db/mongo-errors.js';
import type { Logger } from '../../logger.js';
import { UnknownMasterKeyError, type MasterKeyring } from '../keys/keyring.js';
import type { PlatformKeyRepository } from '../keys/platform-key.repository.js';

export const LOGIN_FAILURE_KEY_ID = 'login-failures';

/** Binds the wrapped key to its purpose, so no other wrapped key can be swapped in for it. */
const AAD = Buffer.from(JSON.stringify(['coffer:key:v1', '__platform__', LOGIN_FAILURE_KEY_ID, 1]), 'utf8');

interface LoginFailureKeyDeps {
  platformKeys: PlatformKeyRepository;
  keyring: MasterKeyring;
  logger: Logger;
}

/**
 * The HMAC key that turns emails (and email + client address pairs) into the ids of
 * login-failure counters. It is 32 random bytes of its own (derived from no other
 * key), created by whichever instance needs it first and stored wrapped under the
 * active master key, so every instance computes the same ids.
 *
 * Losing it costs nothing but the counters: if the master key that wrapped it has left
 * the keyring, a fresh key replaces it (counters start over). Stored under an older
 * master key, it is re-wrapped under the active one on first use.
 */
export class LoginFailureKey {
  private loading: Promise<Buffer> | undefined;

  constructor(private readonly deps: LoginFailureKeyDeps) {}

  key(): Promise<Buffer> {
    this.loading ??= this.load().catch((error: unknown) => {
      this.loading = undefined; // try again on the next call
      throw error;
    });
    return this.loading;
  }

  private async load(): Promise<Buffer> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const keys = this.deps.platformKeys;
      const doc = await keys.find(LOGIN_FAILURE_KEY_ID);
      if (!doc) {
        const key = randomBytes(KEY_BYTES);
        try {
          await keys.insert(LOGIN_FAILURE_KEY_ID, this.deps.keyring.wrap(key, AAD), new Date());
          return key;
        } catch (error) {
          if (isDuplicateKey(error)) continue; // another instance created it first: read theirs
          throw error;
        }
      }
      if (!this.deps.keyring.has(doc.masterKeyId)) {
        const key = randomBytes(KEY_BYTES);
        if (!(await keys.replace(LOGIN_FAILURE_KEY_ID, doc.masterKeyId, this.deps.keyring.wrap(key, AAD), new Date()))) continue;
        this.deps.logger.warn(
          { event: 'auth.login_failure_key_replaced', masterKeyId: doc.masterKeyId },
          new UnknownMasterKeyError(doc.masterKeyId).message + '; a new login-failure key replaces it (failed-login counters start over)',
        );
        return key;
      }
      const key = this.deps.keyring.unwrap(doc.wrapped, doc.masterKeyId, AAD);
      if (doc.masterKeyId !== this.deps.keyring.activeId) {
        await keys.replace(LOGIN_FAILURE_KEY_ID, doc.masterKeyId, this.deps.keyring.wrap(key, AAD));
      }
      return key;
    }
    throw new Error('could not load the login-failure key: it kept changing under concurrent updates');
  }
}
