import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const KEY_BYTES = 32;
export const IV_BYTES = 12;
export const TAG_BYTES = 16;

/** A blob failed authentication: wrong key, wrong AAD, or any byte changed. Never garbage. */
export class IntegrityError extends Error {
  constructor(message = 'ciphertext failed integrity check') {
    super(message);
    this.name = 'IntegrityError';
  }
}

/** AES-256-GCM with a fresh random 12-byte IV; returns iv || tag || ciphertext. */
export function seal(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  if (key.length !== KEY_BYTES) throw new Error('AES-256-GCM needs a 32-byte key');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]);
}

/** Opens a blob made by seal; any defect throws IntegrityError. */
export function open(key: Buffer, blob: Buffer, aad: Buffer): Buffer {
  if (key.length !== KEY_BYTES) throw new IntegrityError('wrong key size');
  if (blob.length < IV_BYTES + TAG_BYTES) throw new IntegrityError('ciphertext too short');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(blob.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(blob.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    throw new IntegrityError();
  }
}

/** An unambiguous encoding of AAD fields (no separator can be smuggled inside a field). */
function aad(fields: (string | number)[]): Buffer {
  return Buffer.from(JSON.stringify(fields), 'utf8');
}

/** Binds a secret version's ciphertext to its tenant, secret and version. */
export function secretVersionAad(tenantId: string, secretId: string, version: number): Buffer {
  return aad(['coffer:secret:v1', tenantId, secretId, version]);
}

/** Binds a wrapped data key to its tenant, purpose and version. */
export function wrappedKeyAad(tenantId: string, purpose: 'dek' | 'audit', version: number): Buffer {
  return aad(['coffer:key:v1', tenantId, purpose, version]);
}
