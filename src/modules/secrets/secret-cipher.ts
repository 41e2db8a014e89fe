import { Binary } from 'mongodb';
import { open, seal, secretVersionAad } from '../../crypto/aes-gcm.js';
import type { SecretVersionDoc } from './secret.document.js';

/** The part of the key service the vault needs: the tenant's data-encryption keys. */
export interface DataKeys {
  activeDek(tenantId: string): Promise<{ version: number; key: Buffer }>;
  dek(tenantId: string, version: number): Promise<Buffer>;
}

/** Seals and opens secret versions under the tenant's DEKs, bound to tenant, secret and version. */
export class SecretCipher {
  constructor(private readonly keys: DataKeys) {}

  async seal(tenantId: string, secretId: string, version: number, value: string): Promise<{ ciphertext: Binary; dekVersion: number }> {
    const dek = await this.keys.activeDek(tenantId);
    const blob = seal(dek.key, Buffer.from(value, 'utf8'), secretVersionAad(tenantId, secretId, version));
    return { ciphertext: new Binary(blob), dekVersion: dek.version };
  }

  /** Throws IntegrityError when the blob was tampered with, moved, or the key is wrong. */
  async open(tenantId: string, secretId: string, version: SecretVersionDoc): Promise<string> {
    if (!version.ciphertext) throw new Error('version destroyed');
    const key = await this.keys.dek(tenantId, version.dekVersion);
    const blob = Buffer.from(version.ciphertext.value());
    return open(key, blob, secretVersionAad(tenantId, secretId, version.version)).toString('utf8');
  }
}
