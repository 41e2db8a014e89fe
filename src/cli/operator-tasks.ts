/**
 * The operator commands that talk to the database directly: what each does and prints.
 * Nothing here prints key material.
 */
import type { Db, IndexDescription } from 'mongodb';
import type { Config } from '../config.js';
import { MODULES, ensureIndexes } from '../modules/index.js';
import { PLATFORM_CHAIN } from '../modules/audit/audit-event.js';
import type { AuditVerification } from '../modules/audit/audit-verify.js';
import { MasterKeyring } from '../modules/keys/keyring.js';
import { TenantKeyRepository } from '../modules/keys/tenant-key.repository.js';
import { TenantKeyService } from '../modules/keys/tenant-key.service.js';
import type { TenantDoc } from '../modules/tenants/tenant.repository.js';
import { createLogger } from '../logger.js';

// ---- ensure-indexes -------------------------------------------------------------------------

const describeIndex = (index: IndexDescription) =>
  `${index.name ?? Object.keys(index.key).join('_')} ${JSON.stringify(index.key)}${index.unique ? ' unique' : ''}`;

/** Creates every module's indexes (idempotent) and lists them, one line per index. */
export async function ensureAllIndexes(db: Db): Promise<string> {
  await ensureIndexes(db);
  const lines: string[] = [];
  let count = 0;
  for (const module of MODULES) {
    for (const { name, indexes } of module.collections) {
      for (const index of indexes) {
        lines.push(`  ${name}: ${describeIndex(index)}`);
        count++;
      }
    }
  }
  return `${[`ensured ${count} indexes on database "${db.databaseName}"`, ...lines].join('\n')}\n`;
}

// ---- key-status -----------------------------------------------------------------------------

/** The keyring and its use (ids and counts only, never key material), and re-encryptions still running. */
export async function keyStatus(db: Db, config: Config, tenantName: (id: string) => Promise<string | null>): Promise<string> {
  const keyring = MasterKeyring.fromConfig(config.vault);
  const service = new TenantKeyService({ db, keyring, logger: createLogger('warn') });
  const status = await service.masterKeyStatus();
  const lines = [`active master key: ${status.activeMasterKeyId}`];
  for (const key of status.keys) {
    const note = !key.inKeyring
      ? ' (NOT in VAULT_MASTER_KEYS: add it back)'
      : key.id === status.activeMasterKeyId
        ? ' (active)'
        : key.wrappedKeyCount === 0
          ? ' (unused: can be removed)'
          : ' (run rewrap-keys to move them to the active key)';
    lines.push(`  ${key.id}: ${key.wrappedKeyCount} keys wrapped (tenant and platform keys)${note}`);
  }
  const running = await new TenantKeyRepository(db).listRunning();
  lines.push(`re-encryption pending: ${running.length} tenant${running.length === 1 ? '' : 's'}`);
  for (const doc of running) {
    const name = await tenantName(doc.tenantId);
    const { done, total, targetVersion } = doc.reencryption;
    lines.push(`  ${doc.tenantId}${name ? ` (${name})` : ''}: to DEK version ${targetVersion ?? '?'}, ${done}/${total} done (a running server continues it)`);
  }
  return `${lines.join('\n')}\n`;
}

// ---- verify-audit ---------------------------------------------------------------------------

export interface ChainToVerify {
  /** The chain id (a tenant id, or the platform chain). */
  id: string;
  /** How it is printed: "platform" or "tenant <id> (<name>)". */
  label: string;
}

export interface ChainOutcome {
  chain: ChainToVerify;
  result: AuditVerification | { error: string };
}

/** The platform chain, then every tenant not deleted (a deleted tenant's chain key is destroyed with its data). */
export function chainsOf(tenants: readonly TenantDoc[]): { chains: ChainToVerify[]; skipped: number } {
  const live = tenants.filter((t) => t.status !== 'DELETED');
  return {
    chains: [{ id: PLATFORM_CHAIN, label: 'platform' }, ...live.map((t) => ({ id: t._id, label: `tenant ${t._id} (${t.name})` }))],
    skipped: tenants.length - live.length,
  };
}

export const platformChain = (): ChainToVerify => ({ id: PLATFORM_CHAIN, label: 'platform' });

/** One line per chain; broken chains name the first seq that cannot be trusted. */
export function describeVerification(outcomes: readonly ChainOutcome[], skipped: number, interrupted: boolean): string {
  const lines: string[] = [];
  let broken = 0;
  let events = 0;
  for (const { chain, result } of outcomes) {
    if ('error' in result) {
      broken++;
      lines.push(`FAILED ${chain.label}: could not verify: ${result.error}`);
    } else if (result.valid) {
      events += result.checkedEvents;
      lines.push(`ok     ${chain.label}: ${result.checkedEvents} events`);
    } else {
      broken++;
      lines.push(`BROKEN ${chain.label}: first invalid seq ${result.firstInvalidSequence} (${result.checkedEvents} events verified before it)`);
    }
  }
  const head = `${broken ? `${broken} of ${outcomes.length} chains BROKEN` : `${outcomes.length} chains intact`}, ${events} events verified` +
    (skipped ? `; ${skipped} deleted tenants skipped (their chain keys are destroyed)` : '') +
    (interrupted ? '; interrupted: not every chain was verified' : '');
  return `${[head, ...lines].join('\n')}\n`;
}
