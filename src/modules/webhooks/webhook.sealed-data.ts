import { randomBytes } from 'node:crypto';
import { Binary } from 'mongodb';
import type { TenantScope } from '../../db/tenant-scope.js';
import type { SealedDataKind } from '../keys/sealed-data.js';
import type { TenantCipher } from '../keys/tenant-cipher.js';
import { WEBHOOKS_COLLECTION, type SealedSigningSecret, type WebhookDoc } from './webhook.document.js';

/** The AAD of a signing secret: bound to its tenant, webhook and key id. */
export function secretAad(tenantId: string, webhookId: string, keyId: string): Buffer {
  return Buffer.from(`coffer-webhook-secret\u0000${tenantId}\u0000${webhookId}\u0000${keyId}`, 'utf8');
}

/** Standard Webhooks secret text: `whsec_` + base64 of the key bytes. */
export const secretText = (key: Buffer): string => `whsec_${key.toString('base64')}`;

/** A new random signing secret (32 bytes), sealed for `webhookId`; returns the stored form and the text shown once. */
export async function newSigningSecret(cipher: TenantCipher, tenantId: string, webhookId: string, now: Date): Promise<{ stored: SealedSigningSecret; text: string }> {
  const key = randomBytes(32);
  try {
    const keyId = randomBytes(8).toString('hex');
    const sealed = await cipher.seal(tenantId, secretAad(tenantId, webhookId, keyId), key);
    return { stored: { keyId, ciphertext: new Binary(sealed.blob), dekVersion: sealed.dekVersion, createdAt: now }, text: secretText(key) };
  } finally {
    key.fill(0);
  }
}

/** Opens a stored signing secret (the caller wipes the returned bytes). */
export function openSigningSecret(cipher: TenantCipher, tenantId: string, webhookId: string, secret: SealedSigningSecret): Promise<Buffer> {
  return cipher.open(tenantId, secretAad(tenantId, webhookId, secret.keyId), Buffer.from(secret.ciphertext.value()), secret.dekVersion);
}

/** What key rotation reads of a webhook. */
export type WebhookKeyView = Pick<WebhookDoc, '_id' | 'secret' | 'previousSecret' | 'revision'>;
const KEY_VIEW = { _id: 1, secret: 1, previousSecret: 1, revision: 1 } as const;

const webhooksIn = (scope: TenantScope) => scope.collection<WebhookDoc>(WEBHOOKS_COLLECTION);
const sealedOf = (doc: WebhookKeyView): SealedSigningSecret[] => (doc.previousSecret ? [doc.secret, doc.previousSecret] : [doc.secret]);

async function resealed(scope: TenantScope, webhookId: string, secret: SealedSigningSecret, target: number, cipher: TenantCipher): Promise<SealedSigningSecret> {
  if (secret.dekVersion === target) return secret;
  const blob = await cipher.reseal(scope.tenantId, secretAad(scope.tenantId, webhookId, secret.keyId), Buffer.from(secret.ciphertext.value()), secret.dekVersion, target);
  return { ...secret, ciphertext: new Binary(blob), dekVersion: target };
}

/** Webhook signing secrets as sealed data: the current and (during a grace period) the previous secret of each webhook. */
export const webhookSealedData: SealedDataKind<WebhookKeyView> = {
  name: 'webhook_secrets',
  collection: WEBHOOKS_COLLECTION,

  async countByDek(scope) {
    const counts = new Map<number, number>();
    for (const doc of await webhooksIn(scope).find({}, { projection: KEY_VIEW }).toArray()) {
      for (const secret of sealedOf(doc)) counts.set(secret.dekVersion, (counts.get(secret.dekVersion) ?? 0) + 1);
    }
    return counts;
  },

  async staleAfter(scope, target, cursor, limit) {
    const filter = cursor === null ? {} : { _id: { $gt: cursor } };
    const page = await webhooksIn(scope).find(filter, { sort: { _id: 1 }, limit, projection: KEY_VIEW }).toArray();
    const items = page.filter((doc) => sealedOf(doc).some((s) => s.dekVersion !== target));
    return { items, next: page.length < limit ? null : page[page.length - 1]!._id };
  },

  findOne(scope, id) {
    return webhooksIn(scope).findOne({ _id: id }, { projection: KEY_VIEW });
  },

  async reseal(scope, doc, target, cipher) {
    const stale = sealedOf(doc).filter((s) => s.dekVersion !== target).length;
    if (stale === 0) return 0;
    const secret = await resealed(scope, doc._id, doc.secret, target, cipher);
    const previousSecret = doc.previousSecret ? await resealed(scope, doc._id, doc.previousSecret, target, cipher) : null;
    const result = await webhooksIn(scope).updateOne({ _id: doc._id, revision: doc.revision }, { $set: { secret, previousSecret }, $inc: { revision: 1 } });
    return result.matchedCount === 1 ? stale : null;
  },
};
