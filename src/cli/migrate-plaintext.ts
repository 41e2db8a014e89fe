import { randomUUID, timingSafeEqual } from 'node:crypto';
import { BSON, ObjectId, type Db, type Document } from 'mongodb';
import { AppError } from '../errors.js';
import { Collections } from '../db/collections.js';
import type { Services } from '../service-types.js';
import { API_KEYS_COLLECTION } from '../modules/apikeys/api-key.repository.js';
import { AUDIT_COLLECTION } from '../modules/audit/audit.document.js';
import { inTenant } from '../identity/caller.js';
import { systemCaller } from '../identity/callers.js';
import { TENANT_KEYS_COLLECTION } from '../modules/keys/tenant-key.repository.js';
import { RevealBatch } from '../modules/secrets/secret-query.service.js';
import { validName, validValue } from '../modules/secrets/secret-rules.js';
import { SECRETS_COLLECTION } from '../modules/secrets/secret.document.js';

export interface MigratePlaintextOptions {
  tenantId: string;
  /** The source collection, in the same database. */
  collection: string;
  /** Top-level field holding the secret name (after `prefix`). */
  nameField: string;
  /** Top-level field holding the plaintext value. */
  valueField: string;
  /** Prepended to every name, e.g. `legacy/`. */
  prefix?: string;
  /** A query on the source collection; default: every document. */
  filter?: Document;
  /** Remove `valueField` from a source document once its secret is confirmed (see below). */
  unset?: boolean;
  /** Report what would happen; write nothing (no secrets, no audit events, no unsets). */
  dryRun?: boolean;
  /** Documents per batch: progress is reported and a stop request honoured between batches (default 100). */
  batchSize?: number;
  /** After each batch: documents scanned so far and how many the filter matched when the run began. */
  onBatch?: (scanned: number, total: number) => void;
  /** Checked between batches: true stops the run there (`interrupted` in the result); running again continues. */
  shouldStop?: () => boolean;
}

export interface MigrationNote {
  /** The source document's `_id` (ObjectId as hex, strings as is, others as Extended JSON). */
  id: string;
  /** Why; never contains a value (nor, to be safe, a name). */
  reason: string;
}

export interface MigratePlaintextResult {
  dryRun: boolean;
  /** The requestId on every audit event this run wrote. */
  requestId: string;
  scanned: number;
  /** Secrets written (in a dry run: that would be written). */
  created: number;
  /** Documents whose secret already existed. */
  skipped: number;
  /** Documents not migrated (listed in `failures`). */
  failed: number;
  /** Source documents whose value field was removed. */
  unset: number;
  failures: MigrationNote[];
  /** With `unset`: skipped documents whose plaintext was deliberately left in place. */
  kept: MigrationNote[];
  /** Stopped between batches on request (shouldStop) before every document was scanned. */
  interrupted: boolean;
}

/** Coffer's own collections are never a source: `--unset` there would damage the vault itself. */
const OWN_COLLECTIONS = new Set<string>([...Object.values(Collections), SECRETS_COLLECTION, API_KEYS_COLLECTION, AUDIT_COLLECTION, TENANT_KEYS_COLLECTION]);

const ACTOR_ID = 'cli:migrate-plaintext';

/** Raised for options that make no sense; the CLI reports it as a usage error. */
export class MigrationOptionsError extends Error {
  override name = 'MigrationOptionsError';
}

function checkField(field: string, flag: string): void {
  if (!field) throw new MigrationOptionsError(`${flag} must not be empty`);
  if (field.startsWith('$') || field.includes('.') || field.includes('\0')) {
    throw new MigrationOptionsError(`${flag} must be a top-level field name (no $ prefix, no dots)`);
  }
}

function checkOptions(options: MigratePlaintextOptions): void {
  if (!options.tenantId) throw new MigrationOptionsError('--tenant must not be empty');
  if (!options.collection) throw new MigrationOptionsError('--collection must not be empty');
  if (OWN_COLLECTIONS.has(options.collection) || options.collection.startsWith('system.')) {
    throw new MigrationOptionsError(`--collection "${options.collection}" is one of Coffer's own collections, not a legacy source`);
  }
  checkField(options.nameField, '--name-field');
  checkField(options.valueField, '--value-field');
  if (options.valueField === '_id') throw new MigrationOptionsError('--value-field cannot be _id');
  if (options.nameField === options.valueField) throw new MigrationOptionsError('--name-field and --value-field must differ');
  if (options.prefix) {
    try {
      validName(options.prefix.replace(/\/$/, ''), 'prefix');
    } catch (error) {
      throw new MigrationOptionsError(`--prefix ${(error as Error).message.replace(/^prefix: /, '')}`);
    }
  }
  if (options.filter !== undefined && (options.filter === null || typeof options.filter !== 'object' || Array.isArray(options.filter))) {
    throw new MigrationOptionsError('--filter must be a JSON object');
  }
}

export function describeId(id: unknown): string {
  if (typeof id === 'string') return id;
  if (id instanceof ObjectId) return id.toHexString();
  return BSON.EJSON.stringify(id as Document, { relaxed: true });
}

/** Values the legacy document may hold that have one obvious text form. */
function plaintextOf(raw: unknown): string | null {
  if (typeof raw === 'string') return raw;
  if ((typeof raw === 'number' && Number.isFinite(raw)) || typeof raw === 'bigint' || typeof raw === 'boolean') return String(raw);
  return null;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** An error's message with any occurrence of the value cut out, for output that must never carry it. */
function redacted(message: string, value: string | null): string {
  return value ? message.split(value).join('[value]') : message;
}

const codeOf = (error: unknown) => (error instanceof AppError ? error.code : null);

/**
 * `npm run cli -- migrate-plaintext`: moves a legacy collection of plaintext credentials into
 * a tenant's vault. Each document becomes the secret `<prefix><doc[nameField]>` with value
 * `String(doc[valueField])`, written through SecretWriteService.create as the SYSTEM actor
 * `cli:migrate-plaintext` (so it is validated, encrypted and audited like any other write).
 *
 * - Idempotent: a name that exists already (CONFLICT) is skipped; a document whose value
 *   field is gone (an earlier `unset`) but whose secret exists is skipped too.
 * - Invalid names/values (BAD_USER_INPUT) are failures, reported by document `_id` only.
 * - `unset` removes the value field only after the vault demonstrably holds the same value:
 *   the secret's current version is decrypted (through SecretQueryService.reveal, so an
 *   audited `secret.revealed`) and compared. That holds both for secrets created here and
 *   for existing ones; an existing secret with a different value, or a deleted one, keeps
 *   the plaintext (listed in `kept`). The removal is conditional on the field still holding
 *   the value that was migrated, so a value changed meanwhile is never lost.
 * - `dryRun` only reads: it validates names/values and looks up existing names; `unset`
 *   is not evaluated (that would need audited decryption) and reports 0.
 *
 * Values never appear in the result, in thrown errors or in logs.
 */
export async function migratePlaintext(
  services: Pick<Services, 'secretWrites' | 'secretQueries' | 'tenants' | 'audit'>,
  db: Db,
  options: MigratePlaintextOptions,
): Promise<MigratePlaintextResult> {
  checkOptions(options);
  const { tenantId, collection, nameField, valueField } = options;
  const prefix = options.prefix ?? '';
  const dryRun = options.dryRun === true;
  const unset = options.unset === true && !dryRun;

  if (!(await services.tenants.find(tenantId))) throw new Error(`tenant "${tenantId}" not found`);
  const found = await db.listCollections({ name: collection }, { nameOnly: true }).toArray();
  if (!found.length) throw new Error(`collection "${collection}" not found in database "${db.databaseName}"`);

  const requestId = randomUUID();
  const principal = inTenant(systemCaller(ACTOR_ID, { ip: null, userAgent: 'coffer-cli', requestId }, { tenantId, role: 'OWNER' }));
  const result: MigratePlaintextResult = { dryRun, requestId, scanned: 0, created: 0, skipped: 0, failed: 0, unset: 0, failures: [], kept: [], interrupted: false };
  const fail = (id: string, reason: string) => {
    result.failed++;
    result.failures.push({ id, reason });
  };

  /** 'same' only when the live secret's current version decrypts to `value`. */
  const vaultHolds = async (name: string, value: string): Promise<'same' | 'different' | 'deleted' | 'missing'> => {
    const doc = await services.secretQueries.get(principal, name);
    if (!doc) return 'missing';
    if (doc.deletedAt) return 'deleted';
    const current = await services.secretQueries.reveal(principal, doc, null, new RevealBatch(services.audit));
    return sameText(current, value) ? 'same' : 'different';
  };

  const source = db.collection(collection);
  const batchSize = options.batchSize ?? 100;
  const total = options.onBatch ? await source.countDocuments(options.filter ?? {}) : 0;
  const cursor = source.find(options.filter ?? {}, { projection: { _id: 1, [nameField]: 1, [valueField]: 1 } }).sort({ _id: 1 }).batchSize(batchSize);
  for await (const doc of cursor) {
    // Between batches (checked before the next document): report, and stop if asked.
    if (result.scanned > 0 && result.scanned % batchSize === 0) {
      options.onBatch?.(result.scanned, total);
      if (options.shouldStop?.()) {
        result.interrupted = true;
        break;
      }
    }
    result.scanned++;
    const id = describeId(doc._id);
    const rawName: unknown = doc[nameField];
    if (!(typeof rawName === 'string' && rawName) && !(typeof rawName === 'number' && Number.isFinite(rawName))) {
      fail(id, `${nameField} is missing or not a string`);
      continue;
    }
    const name = `${prefix}${String(rawName)}`;
    try {
      validName(name);
    } catch (error) {
      if (codeOf(error) !== 'BAD_USER_INPUT') throw error;
      fail(id, (error as Error).message);
      continue;
    }

    if (!(valueField in doc)) {
      // Migrated and unset by an earlier run, or never had a value.
      if (await services.secretQueries.get(principal, name)) result.skipped++;
      else fail(id, `${valueField} is missing`);
      continue;
    }
    const raw: unknown = doc[valueField];
    const value = plaintextOf(raw);
    if (value === null) {
      fail(id, `${valueField} is ${raw === null ? 'null' : 'not a string, number or boolean'}`);
      continue;
    }

    let outcome: 'created' | 'exists';
    try {
      if (dryRun) {
        validValue(value);
        outcome = (await services.secretQueries.get(principal, name)) ? 'exists' : 'created';
      } else {
        await services.secretWrites.create(principal, { name, value });
        outcome = 'created';
      }
    } catch (error) {
      const code = codeOf(error);
      if (code === 'CONFLICT') {
        outcome = 'exists';
      } else if (code !== null) {
        fail(id, redacted((error as Error).message, value));
        continue;
      } else {
        throw new Error(`document ${id}: ${redacted(error instanceof Error ? error.message : String(error), value)}`);
      }
    }
    if (outcome === 'created') result.created++;
    else result.skipped++;
    if (!unset) continue;

    let held: Awaited<ReturnType<typeof vaultHolds>>;
    try {
      held = await vaultHolds(name, value);
    } catch (error) {
      throw new Error(`document ${id}: could not confirm its secret: ${redacted(error instanceof Error ? error.message : String(error), value)}`);
    }
    if (held !== 'same') {
      const reason =
        held === 'different'
          ? 'plaintext kept: an existing secret of this name holds a different value'
          : held === 'deleted'
            ? 'plaintext kept: a deleted secret holds this name (restore or purge it, then run again)'
            : 'plaintext kept: the secret could not be read back';
      if (outcome === 'created') fail(id, reason); // written a moment ago yet not readable: worth a look
      else result.kept.push({ id, reason });
      continue;
    }
    let removed: boolean;
    try {
      // Only if the field still holds what was migrated: a value changed meanwhile stays.
      const update = await source.updateOne({ _id: doc._id, [valueField]: raw }, { $unset: { [valueField]: '' } });
      removed = update.modifiedCount === 1;
    } catch (error) {
      throw new Error(`document ${id}: could not remove ${valueField}: ${redacted(error instanceof Error ? error.message : String(error), value)}`);
    }
    if (removed) result.unset++;
    else result.kept.push({ id, reason: `plaintext kept: ${valueField} changed while migrating; run again` });
  }
  if (!result.interrupted) options.onBatch?.(result.scanned, total);
  return result;
}

/** What the CLI prints: one summary line, then failures and kept plaintext, by document id. */
export function describeMigration(result: MigratePlaintextResult, options: Pick<MigratePlaintextOptions, 'tenantId' | 'collection'>): string {
  const head = result.dryRun ? 'dry run (nothing written): ' : '';
  const lines = [
    `${head}migrate-plaintext ${options.collection} → tenant ${options.tenantId}: scanned ${result.scanned}, created ${result.created}, ` +
      `skipped ${result.skipped}, failed ${result.failed}, unset ${result.unset}` +
      (result.dryRun ? '' : ` (audit requestId ${result.requestId})`),
  ];
  if (result.interrupted) lines.push(`interrupted after ${result.scanned} documents: run the same command again to continue (names already in the vault are skipped)`);
  for (const f of result.failures) lines.push(`  failed ${f.id}: ${f.reason}`);
  for (const k of result.kept) lines.push(`  kept ${k.id}: ${k.reason}`);
  return `${lines.join('\n')}\n`;
}
