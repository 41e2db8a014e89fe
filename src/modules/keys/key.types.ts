import { Field, Int, ObjectType } from 'type-graphql';
import { domainEnum } from '../../graphql/enums.js';
import { REENCRYPTION_STATES, type ReencryptionState } from './tenant-key.repository.js';
import type { MasterKeyStatusView, TenantKeyStatusView, TenantKeyVersionView } from './tenant-key.service.js';

export const ReencryptionStateEnum = domainEnum(REENCRYPTION_STATES, {
  name: 'ReencryptionState',
  description: 'Progress of re-encrypting a tenant\'s secrets after a key rotation.',
  valuesConfig: {
    IDLE: { description: 'The tenant key was never rotated.' },
    RUNNING: { description: 'Secret versions are being re-encrypted with the newest key in the background.' },
    DONE: { description: 'Every secret version uses the newest key; older keys are retired.' },
  },
});

@ObjectType({ description: 'Re-encryption progress after the latest rotation.' })
export class ReencryptionStatus {
  @Field(() => ReencryptionStateEnum, { description: 'IDLE, RUNNING or DONE.' })
  state!: ReencryptionState;

  @Field(() => Int, { description: 'Secret versions re-encrypted so far.' })
  done!: number;

  @Field(() => Int, { description: 'Secret versions that needed re-encryption when the rotation started.' })
  total!: number;
}

@ObjectType({ description: 'One version of the tenant\'s data-encryption key (DEK). The key itself is never exposed.' })
export class TenantKeyVersion {
  @Field(() => Int, { description: 'Version number, starting at 1.' })
  version!: number;

  @Field(() => Date, { description: 'When this version was created.' })
  createdAt!: Date;

  @Field(() => String, { description: 'Id of the master key this version is (or, once retired, was last) wrapped under.' })
  masterKeyId!: string;

  @Field(() => Int, { description: 'How many live (not destroyed) sealed values are encrypted with this key version: secret versions and any other sealed data, summed.' })
  secretVersionCount!: number;

  @Field(() => Date, { nullable: true, description: 'When it was retired and its key material deleted; null while in use.' })
  retiredAt!: Date | null;
}

@ObjectType({ description: 'The current tenant\'s encryption keys.' })
export class TenantKeyStatus {
  @Field(() => Int, { description: 'The key version new secret values are encrypted with.' })
  activeDekVersion!: number;

  @Field(() => [TenantKeyVersion], { description: 'Every key version, oldest first, retired ones included.' })
  versions!: TenantKeyVersion[];

  @Field(() => ReencryptionStatus, { description: 'Re-encryption progress after the latest rotation.' })
  reencryption!: ReencryptionStatus;
}

@ObjectType({ description: 'How much stored key material one master key protects.' })
export class MasterKeyUsage {
  @Field(() => String, { description: 'Master key id, as in VAULT_MASTER_KEYS.' })
  id!: string;

  @Field(() => Boolean, { description: 'Whether this server has the key; false means stored keys need it but it was removed from VAULT_MASTER_KEYS.' })
  inKeyring!: boolean;

  @Field(() => Int, { description: 'Keys wrapped under it: tenant keys (DEKs and audit keys) and platform keys (the login-counter and TOTP secret keys). At 0 a non-active master key can be removed.' })
  wrappedKeyCount!: number;
}

@ObjectType({ description: 'The master keyring and what each key still protects.' })
export class MasterKeyStatus {
  @Field(() => String, { description: 'The master key new tenant keys are wrapped under.' })
  activeMasterKeyId!: string;

  @Field(() => [MasterKeyUsage], { description: 'Every master key in the keyring or referenced by stored keys, active first.' })
  keys!: MasterKeyUsage[];
}

@ObjectType({ description: 'Outcome of re-wrapping every tenant\'s keys under the active master key.' })
export class RewrapResult {
  @Field(() => Int, { description: 'Tenants (and the platform audit chain) examined.' })
  tenants!: number;

  @Field(() => Int, { description: 'Wrapped keys moved to the active master key; 0 when everything already was.' })
  rewrapped!: number;
}

function toTenantKeyVersion(view: TenantKeyVersionView): TenantKeyVersion {
  return Object.assign(new TenantKeyVersion(), view);
}

export function toTenantKeyStatus(view: TenantKeyStatusView): TenantKeyStatus {
  return Object.assign(new TenantKeyStatus(), {
    activeDekVersion: view.activeDekVersion,
    versions: view.versions.map(toTenantKeyVersion),
    reencryption: Object.assign(new ReencryptionStatus(), view.reencryption),
  });
}

export function toMasterKeyStatus(view: MasterKeyStatusView): MasterKeyStatus {
  return Object.assign(new MasterKeyStatus(), {
    activeMasterKeyId: view.activeMasterKeyId,
    keys: view.keys.map((k) => Object.assign(new MasterKeyUsage(), k)),
  });
}

export function toRewrapResult(result: { tenants: number; rewrapped: number }): RewrapResult {
  return Object.assign(new RewrapResult(), result);
}
