import { Binary } from 'mongodb';
import { secretVersionAad } from '../../crypto/aes-gcm.js';
import type { TenantScope } from '../../db/tenant-scope.js';
import type { SealedDataKind } from '../keys/sealed-data.js';
import type { TenantCipher } from '../keys/tenant-cipher.js';
import { SECRETS_COLLECTION, type SecretDoc, type SecretVersionDoc } from './secret.document.js';

/** What key rotation reads of a secret. */
export type SecretKeyView = Pick<SecretDoc, '_id' | 'versions' | 'revision'>;

const KEY_VIEW = { _id: 1, versions: 1, revision: 1 } as const;

const secretsIn = (scope: TenantScope) => scope.collection<SecretDoc>(SECRETS_COLLECTION);

const isStale = (version: SecretVersionDoc, target: number) => version.ciphertext !== null && version.dekVersion !== target;

async function resealed(scope: TenantScope, secretId: string, version: SecretVersionDoc, target: number, cipher: TenantCipher): Promise<SecretVersionDoc> {
  if (version.ciphertext === null || version.dekVersion === target) return version;
  const aad = secretVersionAad(scope.tenantId, secretId, version.version);
  const blob = await cipher.reseal(scope.tenantId, aad, Buffer.from(version.ciphertext.value()), version.dekVersion, target);
  return { ...version, ciphertext: new Binary(blob), dekVersion: target };
}

/** Secret versions as sealed data: each live version's ciphertext, one secret document per item. */
export const secretSealedData: SealedDataKind<SecretKeyView> = {
  name: 'secrets',
  collection: SECRETS_COLLECTION,

  async countByDek(scope) {
    const rows = await secretsIn(scope)
      .aggregate<{ _id: number; count: number }>([
        { $unwind: '$versions' },
        { $match: { 'versions.ciphertext': { $ne: null } } },
        { $group: { _id: '$versions.dekVersion', count: { $sum: 1 } } },
      ])
      .toArray();
    return new Map(rows.map((row) => [row._id, row.count]));
  },

  async staleAfter(scope, target, cursor, limit) {
    const filter = cursor === null ? {} : { _id: { $gt: cursor } };
    const page = await secretsIn(scope).find(filter, { sort: { _id: 1 }, limit, projection: KEY_VIEW }).toArray();
    const items = page.filter((secret) => secret.versions.some((v) => isStale(v, target)));
    return { items, next: page.length < limit ? null : page[page.length - 1]!._id };
  },

  findOne(scope, id) {
    return secretsIn(scope).findOne({ _id: id }, { projection: KEY_VIEW });
  },

  async reseal(scope, secret, target, cipher) {
    const stale = secret.versions.filter((v) => isStale(v, target)).length;
    if (stale === 0) return 0;
    const versions = await Promise.all(secret.versions.map((v) => resealed(scope, secret._id, v, target, cipher)));
    const result = await secretsIn(scope).updateOne({ _id: secret._id, revision: secret.revision }, { $set: { versions }, $inc: { revision: 1 } });
    return result.matchedCount === 1 ? stale : null;
  },
};
