import { randomBytes } from 'node:crypto';
import { Binary } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { IntegrityError, KEY_BYTES, seal, secretVersionAad } from '../../src/crypto/aes-gcm.js';
import { TenantCipher, type DataKeys } from '../../src/modules/keys/tenant-cipher.js';
import { SecretSealer } from '../../src/modules/secrets/secret-sealer.js';

/** Real keys held in memory: version n of each tenant, the highest one active. */
class MemoryKeys implements DataKeys {
  private readonly keys = new Map<string, Buffer>();
  active = 1;

  key(tenantId: string, version: number): Buffer {
    const id = `${tenantId}|${version}`;
    if (!this.keys.has(id)) this.keys.set(id, randomBytes(KEY_BYTES));
    return this.keys.get(id)!;
  }

  async activeDek(tenantId: string) {
    return { version: this.active, key: Buffer.from(this.key(tenantId, this.active)) };
  }

  async dek(tenantId: string, version: number) {
    return Buffer.from(this.key(tenantId, version));
  }
}

const aad = (...fields: string[]) => Buffer.from(JSON.stringify(['test:v1', ...fields]));

describe('TenantCipher', () => {
  it('re-seals a wrapped key whose AAD names the DEK version (resealVersioned)', async () => {
    const keys = new MemoryKeys();
    const cipher = new TenantCipher(keys);
    const aadOf = (version: number) => aad('tenant-a', 'subject-1', String(version));
    const first = await cipher.seal('tenant-a', aadOf(1), Buffer.from('key material'));
    keys.active = 2;
    const moved = await cipher.resealVersioned('tenant-a', aadOf, first.blob, 1, 2);
    expect((await cipher.open('tenant-a', aadOf(2), moved, 2)).toString()).toBe('key material');
    await expect(cipher.open('tenant-a', aadOf(1), moved, 2)).rejects.toThrow(IntegrityError);
  });

  it('seals under the active DEK and opens with the same tenant, AAD and DEK version', async () => {
    const cipher = new TenantCipher(new MemoryKeys());
    const sealed = await cipher.seal('tenant-a', aad('tenant-a', 'item-1'), Buffer.from('hello'));
    expect(sealed.dekVersion).toBe(1);
    expect(sealed.blob.includes(Buffer.from('hello'))).toBe(false);
    expect((await cipher.open('tenant-a', aad('tenant-a', 'item-1'), sealed.blob, 1)).toString()).toBe('hello');
  });

  it('binds the blob to its AAD: another item, tenant or a flipped byte fails', async () => {
    const cipher = new TenantCipher(new MemoryKeys());
    const { blob } = await cipher.seal('tenant-a', aad('tenant-a', 'item-1'), Buffer.from('hello'));
    await expect(cipher.open('tenant-a', aad('tenant-a', 'item-2'), blob, 1)).rejects.toBeInstanceOf(IntegrityError);
    await expect(cipher.open('tenant-b', aad('tenant-a', 'item-1'), blob, 1)).rejects.toBeInstanceOf(IntegrityError);
    const flipped = Buffer.from(blob);
    flipped[flipped.length - 1]! ^= 1;
    await expect(cipher.open('tenant-a', aad('tenant-a', 'item-1'), flipped, 1)).rejects.toBeInstanceOf(IntegrityError);
  });

  it('fails to open with the wrong DEK version', async () => {
    const keys = new MemoryKeys();
    const cipher = new TenantCipher(keys);
    const { blob } = await cipher.seal('tenant-a', aad('x'), Buffer.from('hello'));
    keys.active = 2;
    await expect(cipher.open('tenant-a', aad('x'), blob, 2)).rejects.toBeInstanceOf(IntegrityError);
  });

  it('re-seals from one DEK version to another with the same AAD', async () => {
    const keys = new MemoryKeys();
    const cipher = new TenantCipher(keys);
    const { blob } = await cipher.seal('tenant-a', aad('x'), Buffer.from('hello'));
    const moved = await cipher.reseal('tenant-a', aad('x'), blob, 1, 2);
    expect((await cipher.open('tenant-a', aad('x'), moved, 2)).toString()).toBe('hello');
    await expect(cipher.open('tenant-a', aad('x'), moved, 1)).rejects.toBeInstanceOf(IntegrityError);
    await expect(cipher.reseal('tenant-a', aad('y'), blob, 1, 2)).rejects.toBeInstanceOf(IntegrityError);
  });
});

describe('SecretSealer over the tenant cipher', () => {
  it('opens a version sealed the way stored secrets were (secretVersionAad bytes unchanged)', async () => {
    const keys = new MemoryKeys();
    const stored = seal(keys.key('tenant-a', 1), Buffer.from('s3cret'), secretVersionAad('tenant-a', 'secret-1', 3));
    const version = { version: 3, ciphertext: new Binary(stored), dekVersion: 1, createdAt: new Date(), createdBy: 'u', destroyedAt: null };
    const sealer = new SecretSealer(new TenantCipher(keys));
    expect(await sealer.open('tenant-a', 'secret-1', version)).toBe('s3cret');
    await expect(sealer.open('tenant-a', 'secret-2', version)).rejects.toBeInstanceOf(IntegrityError);
    await expect(sealer.open('tenant-a', 'secret-1', { ...version, version: 4 })).rejects.toBeInstanceOf(IntegrityError);
  });

  it('seals new versions that open with the stored encoding', async () => {
    const keys = new MemoryKeys();
    const sealer = new SecretSealer(new TenantCipher(keys));
    const sealed = await sealer.seal('tenant-a', 'secret-1', 1, 'value');
    const blob = Buffer.from(sealed.ciphertext.value());
    const opened = await new TenantCipher(keys).open('tenant-a', secretVersionAad('tenant-a', 'secret-1', 1), blob, sealed.dekVersion);
    expect(opened.toString()).toBe('value');
  });
});
