import type { Config, MasterKey } from '../../config.js';
import { open, seal } from '../../crypto/aes-gcm.js';

/** A wrapped key names a master key this process was not given. */
export class UnknownMasterKeyError extends Error {
  constructor(readonly masterKeyId: string) {
    super(`master key "${masterKeyId}" is not in the keyring; add it back to VAULT_MASTER_KEYS to read keys wrapped under it`);
    this.name = 'UnknownMasterKeyError';
  }
}

/**
 * The master keys from the environment (docs/ARCHITECTURE.md §5). New wrapping always
 * uses the active key; unwrapping uses whichever key the stored id names.
 * The master key bytes never leave this object.
 */
export class MasterKeyring {
  private readonly keys: ReadonlyMap<string, Buffer>;

  constructor(masterKeys: MasterKey[], readonly activeId: string) {
    this.keys = new Map(masterKeys.map((k) => [k.id, Buffer.from(k.key)]));
    if (!this.keys.has(activeId)) throw new UnknownMasterKeyError(activeId);
  }

  static fromConfig(vault: Config['vault']): MasterKeyring {
    return new MasterKeyring(vault.masterKeys, vault.activeMasterKeyId);
  }

  /** Every master key id in the ring, in configuration order. */
  get ids(): string[] {
    return [...this.keys.keys()];
  }

  has(id: string): boolean {
    return this.keys.has(id);
  }

  /** Wraps `key` under the active master key. */
  wrap(key: Buffer, aad: Buffer): { wrapped: Buffer; masterKeyId: string } {
    return { wrapped: seal(this.keyFor(this.activeId), key, aad), masterKeyId: this.activeId };
  }

  /** Unwraps with the named master key; IntegrityError on any tampering, UnknownMasterKeyError for an id not in the ring. */
  unwrap(wrapped: Buffer, masterKeyId: string, aad: Buffer): Buffer {
    return open(this.keyFor(masterKeyId), wrapped, aad);
  }

  private keyFor(id: string): Buffer {
    const key = this.keys.get(id);
    if (!key) throw new UnknownMasterKeyError(id);
    return key;
  }
}
