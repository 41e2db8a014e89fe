import { Binary } from 'mongodb';
import { secretVersionAad } from '../../crypto/aes-gcm.js';
import type { TenantCipher } from '../keys/tenant-cipher.js';
import type { SecretVersionDoc } from './secret.document.js';

/**
 * Secret values through the tenant cipher, each bound (AAD) to its tenant, secret and
 * version with secretVersionAad, the encoding every stored version was sealed with.
 */
export class SecretSealer {
  constructor(private readonly cipher: TenantCipher) {}

  async seal(tenantId: string, secretId: string, version: number, value: string): Promise<{ ciphertext: Binary; dekVersion: number }> {
    const plaintext = Buffer.from(value, 'utf8');
    try {
      const sealed = await this.cipher.seal(tenantId, secretVersionAad(tenantId, secretId, version), plaintext);
      return { ciphertext: new Binary(sealed.blob), dekVersion: sealed.dekVersion };
    } finally {
      plaintext.fill(0);
    }
  }

  /** Version 1 of several new secrets, under one lookup of the active DEK. */
  async sealNew(tenantId: string, items: readonly { secretId: string; value: string }[]): Promise<{ ciphertext: Binary; dekVersion: number }[]> {
    const plaintexts = items.map((item) => Buffer.from(item.value, 'utf8'));
    try {
      const sealed = await this.cipher.sealMany(
        tenantId,
        items.map((item, i) => ({ aad: secretVersionAad(tenantId, item.secretId, 1), plaintext: plaintexts[i]! })),
      );
      return sealed.map((s) => ({ ciphertext: new Binary(s.blob), dekVersion: s.dekVersion }));
    } finally {
      for (const p of plaintexts) p.fill(0);
    }
  }

  /** Throws IntegrityError when the blob was tampered with, moved, or the key is wrong. */
  async open(tenantId: string, secretId: string, version: SecretVersionDoc): Promise<string> {
    if (!version.ciphertext) throw new Error('version destroyed');
    const blob = Buffer.from(version.ciphertext.value());
    const plaintext = await this.cipher.open(tenantId, secretVersionAad(tenantId, secretId, version.version), blob, version.dekVersion);
    try {
      return plaintext.toString('utf8');
    } finally {
      plaintext.fill(0);
    }
  }
}
