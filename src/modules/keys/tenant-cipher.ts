import { open, seal } from '../../crypto/aes-gcm.js';

/** The part of the key service a cipher needs: a tenant's data-encryption keys (copies the caller may wipe). */
export interface DataKeys {
  activeDek(tenantId: string): Promise<{ version: number; key: Buffer }>;
  dek(tenantId: string, version: number): Promise<Buffer>;
}

/** A value sealed under a tenant DEK: iv || tag || ciphertext, and the DEK version that sealed it. */
export interface SealedBlob {
  blob: Buffer;
  dekVersion: number;
}

/**
 * AES-256-GCM under a tenant's DEKs, for every module that stores sealed data.
 * The AAD is the caller's: it must bind the value to where it lives (at least the
 * tenant and the item), so a blob copied elsewhere fails to open. Data sealed with
 * it must be registered as a SealedDataKind, or key rotation would retire its DEK.
 */
export class TenantCipher {
  constructor(private readonly keys: DataKeys) {}

  /** Seals `plaintext` under the tenant's active DEK. */
  async seal(tenantId: string, aad: Buffer, plaintext: Buffer): Promise<SealedBlob> {
    const dek = await this.keys.activeDek(tenantId);
    try {
      return { blob: seal(dek.key, plaintext, aad), dekVersion: dek.version };
    } finally {
      dek.key.fill(0);
    }
  }

  /** Seals several values under the tenant's active DEK, looked up once. */
  async sealMany(tenantId: string, items: readonly { aad: Buffer; plaintext: Buffer }[]): Promise<SealedBlob[]> {
    const dek = await this.keys.activeDek(tenantId);
    try {
      return items.map((item) => ({ blob: seal(dek.key, item.plaintext, item.aad), dekVersion: dek.version }));
    } finally {
      dek.key.fill(0);
    }
  }

  /** Opens a blob sealed under DEK `dekVersion`; IntegrityError when the blob, AAD or version is wrong. */
  async open(tenantId: string, aad: Buffer, blob: Buffer, dekVersion: number): Promise<Buffer> {
    const key = await this.keys.dek(tenantId, dekVersion);
    try {
      return open(key, blob, aad);
    } finally {
      key.fill(0);
    }
  }

  /** Re-seals a blob from DEK `fromVersion` under DEK `toVersion` with the same AAD (key rotation); the plaintext is wiped. */
  reseal(tenantId: string, aad: Buffer, blob: Buffer, fromVersion: number, toVersion: number): Promise<Buffer> {
    return this.resealVersioned(tenantId, () => aad, blob, fromVersion, toVersion);
  }

  /**
   * Re-seals a blob whose AAD names the DEK version that sealed it (wrapped keys, e.g. subject
   * keys): opened with `aadOf(fromVersion)`, sealed with `aadOf(toVersion)`; the plaintext is wiped.
   */
  async resealVersioned(tenantId: string, aadOf: (dekVersion: number) => Buffer, blob: Buffer, fromVersion: number, toVersion: number): Promise<Buffer> {
    const plaintext = await this.open(tenantId, aadOf(fromVersion), blob, fromVersion);
    const key = await this.keys.dek(tenantId, toVersion);
    try {
      return seal(key, plaintext, aadOf(toVersion));
    } finally {
      plaintext.fill(0);
      key.fill(0);
    }
  }
}
