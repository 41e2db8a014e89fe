import type { Binary } from 'mongodb';
import type { TenantDocument } from '../../db/tenant-scope.js';

/** One stored version of a secret's value. */
export interface SecretVersionDoc {
  version: number;
  /** iv || tag || AES-256-GCM ciphertext; AAD = secretVersionAad(tenantId, secretId, version). null once destroyed. */
  ciphertext: Binary | null;
  /** The tenant DEK version that sealed `ciphertext`. */
  dekVersion: number;
  createdAt: Date;
  createdBy: string;
  destroyedAt: Date | null;
}

/**
 * A secret and its bounded version list in ONE document, so every write is a
 * single atomic update guarded by `revision` (no multi-document transactions).
 * Collection `secrets`; indexes lead with tenantId.
 */
export interface SecretDoc extends TenantDocument {
  name: string;
  description: string;
  tags: string[];
  metadata: Record<string, unknown>;
  expiresAt: Date | null;
  rotationIntervalDays: number;
  rotationWarningDays: number;
  /** When the value last changed (create or new version). */
  lastRotatedAt: Date;
  /** lastRotatedAt + interval − warning: from then on the secret is ROTATION_DUE (indexed for queries). */
  rotationDueAt: Date;
  maxVersions: number;
  currentVersion: number;
  versions: SecretVersionDoc[];
  /** Incremented by every write; the compare-and-set guard. */
  revision: number;
  createdAt: Date;
  createdBy: string;
  updatedAt: Date;
  updatedBy: string;
  deletedAt: Date | null;
  deletedBy: string | null;
}

export const SECRETS_COLLECTION = 'secrets';
