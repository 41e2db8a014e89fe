/** `coffer keygen`: needs no database and no server module, so it starts quickly. */
import { generateKeyPairSync, randomBytes } from 'node:crypto';

/**
 * Fresh production keys as .env lines, in the formats src/config.ts parses: a 32-byte master
 * key `<id>:<base64>`, its id as the active key, and an Ed25519 PKCS#8 PEM on one line with
 * literal `\n` (dotenv leaves unquoted values as they are; config turns `\n` into line breaks).
 */
export function keygen(masterKeyId: string): string {
  const master = randomBytes(32).toString('base64');
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().trim();
  return [`VAULT_MASTER_KEYS=${masterKeyId}:${master}`, `VAULT_ACTIVE_MASTER_KEY=${masterKeyId}`, `JWT_PRIVATE_KEY=${pem.split('\n').join('\\n')}`, ''].join('\n');
}

/** `k` and today's date (UTC), e.g. k20261130: sortable, and tells when a key was made. */
export function defaultMasterKeyId(now = new Date()): string {
  return `k${now.toISOString().slice(0, 10).replace(/-/g, '')}`;
}

export const MASTER_KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
