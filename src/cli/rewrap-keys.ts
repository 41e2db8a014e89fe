import type { Db } from 'mongodb';
import type { Config } from '../config.js';
import { createLogger } from '../logger.js';
import type { AuditSink } from '../modules/audit/audit-event.js';
import { MasterKeyring } from '../modules/keys/keyring.js';
import { TenantKeyService, type MasterKeyStatusView } from '../modules/keys/tenant-key.service.js';
import type { PlatformRewrapResult } from '../modules/keys/platform-key-rewrap.js';

export interface RewrapKeysResult {
  tenants: number;
  rewrapped: number;
  /** Ctrl-C stopped it between tenants (run it again to continue). */
  stopped: boolean;
  /** The keyring afterwards: a non-active master key at 0 wrapped keys can be removed from VAULT_MASTER_KEYS. */
  masterKeys: MasterKeyStatusView;
  /** Platform keys (login-failure HMAC key, TOTP secrets key) moved to the active master key. */
  platformKeys: PlatformRewrapResult;
}

/**
 * `npm run cli -- rewrap-keys`: moves every tenant's wrapped DEKs and audit keys, and the
 * platform keys (`platform_keys`: the login-failure key, the key sealing TOTP secrets), to
 * VAULT_ACTIVE_MASTER_KEY. Needs every master key still in use in VAULT_MASTER_KEYS.
 * Safe to run twice, and while servers are running (one compare-and-set per tenant).
 * Pass `audit` to record `key.master_rewrapped` per tenant (actor SYSTEM `cli:rewrap-keys`).
 */
export async function rewrapKeys(
  db: Db,
  config: Config,
  options: { audit?: AuditSink; onTenant?: (done: number) => void; shouldStop?: () => boolean } = {},
): Promise<RewrapKeysResult> {
  const keyring = MasterKeyring.fromConfig(config.vault);
  const keys = new TenantKeyService({ db, keyring, logger: createLogger('warn'), audit: options.audit });
  const result = await keys.rewrapUnderActiveKey({ type: 'SYSTEM', id: 'cli:rewrap-keys' }, { onTenant: options.onTenant, shouldStop: options.shouldStop });
  return { ...result, masterKeys: await keys.masterKeyStatus() };
}

/** The lines the CLI prints. */
export function describeRewrap(result: RewrapKeysResult): string {
  const lines = [`re-wrapped ${result.rewrapped} keys across ${result.tenants} tenants under master key "${result.masterKeys.activeMasterKeyId}"`];
  lines.push(`re-wrapped ${result.platformKeys.rewrapped} platform keys`);
  if (result.platformKeys.unreadable.length) lines.push(`  NOT re-wrapped (master key missing from VAULT_MASTER_KEYS): ${result.platformKeys.unreadable.join(', ')}`);
  for (const key of result.masterKeys.keys) {
    const note = !key.inKeyring ? ' (NOT in VAULT_MASTER_KEYS)' : key.id === result.masterKeys.activeMasterKeyId ? ' (active)' : key.wrappedKeyCount === 0 ? ' (unused: can be removed)' : '';
    lines.push(`  ${key.id}: ${key.wrappedKeyCount} wrapped keys${note}`);
  }
  return `${lines.join('\n')}\n`;
}
