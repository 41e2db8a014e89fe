import { randomBytes } from 'node:crypto';
import { Binary, type Collection, type Db } from 'mongodb';
import { KEY_BYTES } from '../../crypto/aes-gcm.js';
import { isDuplicateKey } from '../../db/mongo-errors.js';
import type { Logger } from '../../logger.js';
import { UnknownMasterKeyError, type MasterKeyring } from '../keys/keyring.js';

/** Platform-level keys (not tied to a tenant), each wrapped under the master keyring. */
export const PLATFORM_KEYS_COLLECTION = 'platform_keys';
const LOGIN_FAILURE_KEY_ID = 'login-failures';

interface PlatformKeyDoc {
  _id: string;
  wrapped: Binary;
  masterKeyId: string;
  createdAt: Date;
}

/** Binds the wrapped key to its purpose, so no other wrapped key can be swapped in for it. */
const AAD = Buffer.from(JSON.stringify(['coffer:key:v1', '__platform__', LOGIN_FAILURE_KEY_ID, 1]), 'utf8');

interface LoginFailureKeyDeps {
  db: Db;
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
  private readonly keys: Collection<PlatformKeyDoc>;
  private loading: Promise<Buffer> | undefined;

  constructor(private readonly deps: LoginFailureKeyDeps) {
    this.keys = deps.db.collection<PlatformKeyDoc>(PLATFORM_KEYS_COLLECTION);
  }

  key(): Promise<Buffer> {
    this.loading ??= this.load().catch((error: unknown) => {
      this.loading = undefined; // try again on the next call
      throw error;
    });
    return this.loading;
  }

  private async load(): Promise<Buffer> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const doc = await this.keys.findOne({ _id: LOGIN_FAILURE_KEY_ID });
      if (!doc) {
        const key = randomBytes(KEY_BYTES);
        const { wrapped, masterKeyId } = this.deps.keyring.wrap(key, AAD);
        try {
          await this.keys.insertOne({ _id: LOGIN_FAILURE_KEY_ID, wrapped: new Binary(wrapped), masterKeyId, createdAt: new Date() });
          return key;
        } catch (error) {
          if (isDuplicateKey(error)) continue; // another instance created it first: read theirs
          throw error;
        }
      }
      if (!this.deps.keyring.has(doc.masterKeyId)) {
        const key = randomBytes(KEY_BYTES);
        const { wrapped, masterKeyId } = this.deps.keyring.wrap(key, AAD);
        const replaced = await this.keys.updateOne(
          { _id: LOGIN_FAILURE_KEY_ID, masterKeyId: doc.masterKeyId },
          { $set: { wrapped: new Binary(wrapped), masterKeyId, createdAt: new Date() } },
        );
        if (replaced.modifiedCount !== 1) continue;
        this.deps.logger.warn(
          { event: 'auth.login_failure_key_replaced', masterKeyId: doc.masterKeyId },
          new UnknownMasterKeyError(doc.masterKeyId).message + '; a new login-failure key replaces it (failed-login counters start over)',
        );
        return key;
      }
      const key = this.deps.keyring.unwrap(Buffer.from(doc.wrapped.buffer), doc.masterKeyId, AAD);
      if (doc.masterKeyId !== this.deps.keyring.activeId) {
        const { wrapped, masterKeyId } = this.deps.keyring.wrap(key, AAD);
        await this.keys.updateOne({ _id: LOGIN_FAILURE_KEY_ID, masterKeyId: doc.masterKeyId }, { $set: { wrapped: new Binary(wrapped), masterKeyId } });
      }
      return key;
    }
    throw new Error('could not load the login-failure key: it kept changing under concurrent updates');
  }
}
