import { IsOptional, MaxLength } from 'class-validator';
import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { domainEnum } from '../../graphql/enums.js';
import { connectionOf } from '../../graphql/connection.js';
import type { SecretDoc } from './secret.document.js';
import { SECRET_STATUSES, rotationView, secretStatus, type SecretStatus } from './secret-rules.js';

export const SecretStatusEnum = domainEnum(SECRET_STATUSES, {
  name: 'SecretStatus',
  description: 'A secret\'s state; when several apply the first of DELETED, EXPIRED, ROTATION_DUE, ACTIVE is shown.',
  valuesConfig: {
    ACTIVE: { description: 'Usable and not yet due for rotation.' },
    DELETED: { description: 'Soft-deleted: restorable during the recovery window, then purged.' },
    EXPIRED: { description: 'Past its expiresAt.' },
    ROTATION_DUE: { description: 'Within rotationWarningDays of (or past) its next rotation.' },
  },
});

// Long enough for a 64 KiB value in any encoding; the service checks the exact byte limit.
const VALUE_MAX_CHARS = 65_536;

@ObjectType({ description: 'Metadata of one stored version. Never contains the value.' })
export class SecretVersion {
  @Field(() => Int, { description: 'Version number, starting at 1.' })
  version!: number;

  @Field(() => Date, { description: 'When this version was written.' })
  createdAt!: Date;

  @Field(() => String, { description: 'User or API key id that wrote it.' })
  createdBy!: string;

  @Field(() => Boolean, { description: 'Whether its ciphertext was destroyed (irreversible).' })
  destroyed!: boolean;

  @Field(() => Date, { nullable: true, description: 'When it was destroyed.' })
  destroyedAt!: Date | null;
}

@ObjectType({ description: 'Rotation schedule and where the secret stands in it.' })
export class RotationStatus {
  @Field(() => Int, { description: 'Days between rotations.' })
  intervalDays!: number;

  @Field(() => Int, { description: 'Days before the due date from which the secret counts as due.' })
  warningDays!: number;

  @Field(() => Date, { description: 'When the value last changed.' })
  lastRotatedAt!: Date;

  @Field(() => Date, { description: 'lastRotatedAt + intervalDays.' })
  nextRotationAt!: Date;

  @Field(() => Int, { description: 'Whole days until nextRotationAt (negative when overdue).' })
  daysUntilRotation!: number;

  @Field(() => Boolean, { description: 'Whether the secret is within its warning window or overdue.' })
  isRotationDue!: boolean;

  @Field(() => Boolean, { description: 'Whether expiresAt has passed.' })
  isExpired!: boolean;
}

@ObjectType({ description: 'A named, versioned, encrypted value of the current tenant. Reading `value` is audited.' })
export class Secret {
  /** The stored document, for field resolvers; not part of the schema. */
  doc!: SecretDoc;

  @Field(() => ID, { description: 'Stable id.' })
  id!: string;

  @Field(() => String, { description: 'Unique path-like name, e.g. prod/db/password.' })
  name!: string;

  @Field(() => Int, { description: 'Current version number: moves only when the value changes (compare it with expectedVersion).' })
  version!: number;

  @Field(() => Int, {
    description: 'Write counter: incremented by every write to the secret (value, metadata, options, delete, restore, destroy, re-encryption). Pass it as expectedRevision to make an update check-and-set.',
  })
  revision!: number;

  @Field(() => String, { description: 'Free text (not secret).' })
  description!: string;

  @Field(() => [String], { description: 'Labels for filtering.' })
  tags!: string[];

  @Field(() => GraphQLJSONObject, { description: 'Non-secret JSON (≤ 4 KiB).' })
  metadata!: Record<string, unknown>;

  @Field(() => SecretStatusEnum, { description: 'Current state.' })
  status!: SecretStatus;

  @Field(() => Int, { description: 'How many versions are kept; older ones are destroyed.' })
  maxVersions!: number;

  @Field(() => Date, { description: 'When created.' })
  createdAt!: Date;

  @Field(() => String, { description: 'User or API key id that created it.' })
  createdBy!: string;

  @Field(() => Date, { description: 'When last changed.' })
  updatedAt!: Date;

  @Field(() => String, { description: 'User or API key id that last changed it.' })
  updatedBy!: string;

  @Field(() => Date, { nullable: true, description: 'When the credential expires, if set.' })
  expiresAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When it was soft-deleted.' })
  deletedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'After this a deleted secret can no longer be restored and is purged.' })
  purgeAfter!: Date | null;
}

export function toSecret(doc: SecretDoc, purgeAfter: (deletedAt: Date) => Date, now = new Date()): Secret {
  return Object.assign(new Secret(), {
    doc,
    id: doc._id,
    name: doc.name,
    version: doc.currentVersion,
    revision: doc.revision,
    description: doc.description,
    tags: doc.tags,
    metadata: doc.metadata,
    status: secretStatus(doc, now),
    maxVersions: doc.maxVersions,
    createdAt: doc.createdAt,
    createdBy: doc.createdBy,
    updatedAt: doc.updatedAt,
    updatedBy: doc.updatedBy,
    expiresAt: doc.expiresAt,
    deletedAt: doc.deletedAt,
    purgeAfter: doc.deletedAt ? purgeAfter(doc.deletedAt) : null,
  });
}

export function toVersions(doc: SecretDoc): SecretVersion[] {
  return [...doc.versions]
    .sort((a, b) => b.version - a.version)
    .map((v) => Object.assign(new SecretVersion(), { version: v.version, createdAt: v.createdAt, createdBy: v.createdBy, destroyed: v.destroyedAt !== null, destroyedAt: v.destroyedAt }));
}

export function toRotation(doc: SecretDoc): RotationStatus {
  return Object.assign(new RotationStatus(), rotationView(doc, new Date()));
}

export const SecretConnection = connectionOf('Secret', Secret, {
  edge: 'One secret in a connection.',
  cursor: 'Opaque cursor for `after`.',
  node: 'The secret.',
  connection: 'A page of secrets in name order.',
  edges: 'The secrets of this page.',
  pageInfo: 'Whether more follow, and the cursor to continue from.',
  totalCount: 'How many secrets match the filter in all.',
});

@ObjectType({ description: 'What happened to one item of setSecrets or importSecrets.' })
export class SetSecretResult {
  @Field(() => String, { nullable: true, description: 'The item\'s secret name; null for an importSecrets line that could not be read as KEY=value.' })
  name!: string | null;

  @Field(() => Int, { nullable: true, description: 'importSecrets: the number of the .env line the item comes from (a repeated key: its last line); null for setSecrets.' })
  line!: number | null;

  @Field(() => Boolean, { description: 'Whether the item was written.' })
  ok!: boolean;

  @Field(() => Boolean, { description: 'Whether the secret was newly created (false: a new version).' })
  created!: boolean;

  @Field(() => Secret, { nullable: true, description: 'The secret after the write.' })
  secret!: Secret | null;

  @Field(() => String, { nullable: true, description: 'Error code when not ok (BAD_USER_INPUT, CONFLICT, FORBIDDEN …).' })
  errorCode!: string | null;

  @Field(() => String, { nullable: true, description: 'Error message when not ok.' })
  errorMessage!: string | null;
}

@InputType({ description: 'Filter for secrets.' })
export class SecretFilter {
  @Field(() => String, { nullable: true, description: 'Only names starting with this, e.g. prod/.' })
  @IsOptional()
  @MaxLength(256)
  prefix?: string | null;

  @Field(() => [String], { nullable: true, description: 'Only secrets carrying all of these tags.' })
  @IsOptional()
  tags?: string[] | null;

  @Field(() => SecretStatusEnum, { nullable: true, description: 'Only this status. Default: everything not deleted.' })
  @IsOptional()
  status?: SecretStatus | null;
}

@InputType({ description: 'A new secret.' })
export class CreateSecretInput {
  @Field(() => String, { description: 'Unique path-like name: [A-Za-z0-9_.-] segments joined by /, ≤ 256 characters.' })
  @MaxLength(256, { message: 'must be at most 256 characters' })
  name!: string;

  @Field(() => String, { description: 'The secret value (UTF-8, ≤ 64 KiB). Stored only encrypted.' })
  @MaxLength(VALUE_MAX_CHARS, { message: 'must be at most 64 KiB' })
  value!: string;

  @Field(() => String, { nullable: true, description: 'Free text (not secret), ≤ 1024 characters.' })
  description?: string | null;

  @Field(() => [String], { nullable: true, description: 'Labels (≤ 50).' })
  tags?: string[] | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Non-secret JSON, ≤ 4 KiB.' })
  metadata?: Record<string, unknown> | null;

  @Field(() => Date, { nullable: true, description: 'When the credential expires.' })
  expiresAt?: Date | null;

  @Field(() => Int, { nullable: true, description: 'Days between rotations (default 90).' })
  rotationIntervalDays?: number | null;

  @Field(() => Int, { nullable: true, description: 'Days of warning before a rotation is due (default 7).' })
  rotationWarningDays?: number | null;

  @Field(() => Int, { nullable: true, description: 'Versions to keep (default 20, at most 100).' })
  maxVersions?: number | null;
}

@InputType({ description: 'Changes to a secret. Omitted fields stay; a new value makes a new version.' })
export class UpdateSecretInput {
  @Field(() => String, { description: 'The secret to change.' })
  @MaxLength(256, { message: 'must be at most 256 characters' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'A new value: creates the next version.' })
  @IsOptional()
  @MaxLength(VALUE_MAX_CHARS, { message: 'must be at most 64 KiB' })
  value?: string | null;

  @Field(() => String, { nullable: true, description: 'New description.' })
  description?: string | null;

  @Field(() => [String], { nullable: true, description: 'New tags (replace the old ones).' })
  tags?: string[] | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'New metadata (replaces the old).' })
  metadata?: Record<string, unknown> | null;

  @Field(() => Date, { nullable: true, description: 'New expiry; null clears it.' })
  expiresAt?: Date | null;

  @Field(() => Int, { nullable: true, description: 'New rotation interval in days.' })
  rotationIntervalDays?: number | null;

  @Field(() => Int, { nullable: true, description: 'New rotation warning in days.' })
  rotationWarningDays?: number | null;

  @Field(() => Int, {
    nullable: true,
    description: 'New number of versions to keep. Lowering it below the versions kept destroys the oldest: that needs the ADMIN role (or an ADMIN+ API key), like destroySecretVersions, and is audited as secret.versions_destroyed.',
  })
  maxVersions?: number | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Check-and-set for a value-only write (value and nothing else): CONFLICT unless the current version is this. Other changes need expectedRevision (BAD_USER_INPUT otherwise).',
  })
  expectedVersion?: number | null;

  @Field(() => Int, { nullable: true, description: 'Check-and-set for any update: CONFLICT unless the secret\'s revision is still this (nobody wrote since it was read).' })
  expectedRevision?: number | null;
}

@InputType({ description: 'One item of setSecrets.' })
export class SetSecretInput {
  @Field(() => String, { description: 'Secret name; created if missing.' })
  @MaxLength(256, { message: 'must be at most 256 characters' })
  name!: string;

  @Field(() => String, { description: 'The value to store.' })
  @MaxLength(VALUE_MAX_CHARS, { message: 'must be at most 64 KiB' })
  value!: string;

  @Field(() => Int, { nullable: true, description: 'Check-and-set: the current version, or 0 for "must not exist yet".' })
  expectedVersion?: number | null;
}
