import { randomBytes } from 'node:crypto';
import { KEY_BYTES, open, seal } from '../../crypto/aes-gcm.js';
import { isDuplicateKey } from '../../db/mongo-errors.js';
import type { MasterKeyring } from '../keys/keyring.js';
import { platformKeyAad } from '../keys/platform-key-rewrap.js';
import type { PlatformKeyRepository } from '../keys/platform-key.repository.js';

/** The platform key (in `platform_keys`) that seals users' TOTP secrets. */
export const TOTP_KEY_ID = 'totp-secrets';

interface TotpKeyDeps {
  platformKeys: PlatformKeyRepository;
  keyring: MasterKeyring;
}

/** Binds a sealed TOTP secret to its user and enrolment: a blob copied to another user or enrolment fails to open. */
function secretAad(userId: string, enrolmentId: string): Buffer {
  return Buffer.from(JSON.stringify(['coffer:totp-secret:v1', userId, enrolmentId]), 'utf8');
}

/**
 * Seals and opens users' TOTP secrets with AES-256-GCM under one platform key: 32 random
 * bytes of its own (derived from no other key), created by whichever instance needs it
 * first and stored only wrapped under the master keyring, like the login-failure key
 * (users are global, so no tenant DEK applies). `rewrap-keys` moves it to the active master
 * key, and so does the first use by a server whose active master key is newer. Unlike the login-failure key it is never replaced when its master key is missing:
 * that would lock every enrolled user out, so the call fails instead (add the key back).
 */
export class TotpSecretCipher {
  private loading: Promise<Buffer> | undefined;

  constructor(private readonly deps: TotpKeyDeps) {}

  async seal(userId: string, enrolmentId: string, secret: Buffer): Promise<Buffer> {
    return seal(await this.key(), secret, secretAad(userId, enrolmentId));
  }

  async open(userId: string, enrolmentId: string, sealed: Buffer): Promise<Buffer> {
    return open(await this.key(), sealed, secretAad(userId, enrolmentId));
  }

  private key(): Promise<Buffer> {
    this.loading ??= this.load().catch((error: unknown) => {
      this.loading = undefined; // try again on the next call
      throw error;
    });
    return this.loading;
  }

  private async load(): Promise<Buffer> {
    const aad = platformKeyAad(TOTP_KEY_ID);
    const { platformKeys, keyring } = this.deps;
    for (let attempt = 0; attempt < 3; attempt++) {
      const doc = await platformKeys.find(TOTP_KEY_ID);
      if (!doc) {
        const key = randomBytes(KEY_BYTES);
        try {
          await platformKeys.insert(TOTP_KEY_ID, keyring.wrap(key, aad), new Date());
          return key;
        } catch (error) {
          if (isDuplicateKey(error)) continue; // another instance created it first: read theirs
          throw error;
        }
      }
      // UnknownMasterKeyError when its master key left the ring: never replaced (see above).
      const key = keyring.unwrap(doc.wrapped, doc.masterKeyId, aad);
      // Stored under an older master key: moved to the active one on first use (compare-and-set).
      if (doc.masterKeyId !== keyring.activeId) await platformKeys.replace(TOTP_KEY_ID, doc.masterKeyId, keyring.wrap(key, aad));
      return key;
    }
    throw new Error('could not load the TOTP key: it kept changing under concurrent updates');
  }
}
