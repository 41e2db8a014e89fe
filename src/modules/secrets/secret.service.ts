import { randomUUID } from 'node:crypto';
import { parse as parseDotenv } from 'dotenv';
import type { Logger } from '../../logger.js';
import { AppError, appError, badInput, conflict, forbidden, notFound } from '../../errors.js';
import { roleAtLeast } from '../../identity/roles.js';
import type { AuditSink, CataloguedEvent } from '../audit/audit-event.js';
import { auditEvent } from '../audit/audit-builder.js';
import type { TenantCaller } from '../../identity/caller.js';
import { isDuplicateKey } from '../../db/mongo-errors.js';
import type { SecretSealer } from './secret-sealer.js';
import type { SecretDoc, SecretVersionDoc } from './secret.document.js';
import type { SecretRepository } from './secret.repository.js';
import { scanDotenv } from './dotenv-lines.js';
import {
  SECRET_LIMITS,
  rotationDueAt,
  validDescription,
  validExpiry,
  validMaxVersions,
  validMetadata,
  validName,
  validRotation,
  validTags,
  validValue,
  withinPrefixes,
} from './secret-rules.js';

export interface CreateSecretData {
  name: string;
  value: string;
  description?: string | null;
  tags?: string[] | null;
  metadata?: Record<string, unknown> | null;
  expiresAt?: Date | null;
  rotationIntervalDays?: number | null;
  rotationWarningDays?: number | null;
  maxVersions?: number | null;
}

/** Every option of a new secret may change; `undefined` = leave as is, `null` (where allowed) = clear. */
export interface UpdateSecretData extends Omit<CreateSecretData, 'value'> {
  value?: string | null;
  /** Check-and-set on the value: the current version must be this. Only for value-only writes. */
  expectedVersion?: number | null;
  /** Check-and-set on the whole secret: its revision (bumped by every write) must be this. */
  expectedRevision?: number | null;
}

export interface SetSecretOutcome {
  /** null for an import line that is not a KEY=value assignment. */
  name: string | null;
  /** importSecrets: the .env line the item comes from (for a repeated key, its last line). */
  line?: number | null;
  secret: SecretDoc | null;
  created: boolean;
  error: { code: string; message: string } | null;
}

interface SecretWriteDeps {
  secretsOf: (tenantId: string) => SecretRepository;
  cipher: SecretSealer;
  audit: AuditSink;
  logger: Logger;
}

const CAS_ATTEMPTS = 8;
export const BULK_MAX = 100;
export const IMPORT_MAX = 500;

/**
 * An API key may only touch names under its prefixes. Checked before any read,
 * so the answer says nothing about names outside the scope; the refusal is audited.
 */
export async function assertNameAllowed(principal: TenantCaller, name: string, audit: AuditSink): Promise<void> {
  if (withinPrefixes(name, principal.prefixes)) return;
  await audit.append(auditEvent('permission.denied', { caller: principal, resource: { type: 'SECRET', id: null }, details: { name, needed: 'prefix' }, outcome: 'DENIED' }));
  throw forbidden('This API key is limited to other name prefixes');
}

/** Whether an update changes anything besides the value. */
function changesMoreThanValue(input: UpdateSecretData): boolean {
  // null clears description, tags, metadata and expiresAt; the numbers ignore null.
  const cleared = [input.description, input.tags, input.metadata, input.expiresAt].some((field) => field !== undefined);
  return cleared || [input.rotationIntervalDays, input.rotationWarningDays, input.maxVersions].some((field) => field != null);
}

/** Check-and-set: CONFLICT unless the secret is at the version and revision the caller expects. */
function assertExpected(doc: SecretDoc, input: { name: string; expectedVersion?: number | null; expectedRevision?: number | null }): void {
  const current = { currentVersion: doc.currentVersion, currentRevision: doc.revision };
  if (input.expectedRevision != null && input.expectedRevision !== doc.revision) {
    throw appError('CONFLICT', `Secret "${doc.name}" is at revision ${doc.revision}, not ${input.expectedRevision}`, current);
  }
  if (input.expectedVersion != null && input.expectedVersion !== doc.currentVersion) {
    throw appError('CONFLICT', `Secret "${doc.name}" is at version ${doc.currentVersion}, not ${input.expectedVersion}`, current);
  }
}

/**
 * A new secret's document (version 1 sealed as `sealed`), options validated. The one
 * builder of secret documents: create, bulk writes and the bench seeding use it.
 */
export function newSecretDoc(input: {
  id: string;
  name: string;
  sealed: { ciphertext: SecretVersionDoc['ciphertext']; dekVersion: number };
  actorId: string;
  now: Date;
  rotation?: { intervalDays: number; warningDays: number };
} & Omit<CreateSecretData, 'name' | 'value'>): Omit<SecretDoc, 'tenantId'> {
  const { id, name, sealed, now, actorId } = input;
  const rotation =
    input.rotation ??
    validRotation(input.rotationIntervalDays ?? SECRET_LIMITS.rotationIntervalDefault, input.rotationWarningDays ?? SECRET_LIMITS.rotationWarningDefault);
  return {
    _id: id,
    name,
    description: validDescription(input.description ?? ''),
    tags: validTags(input.tags ?? []),
    metadata: validMetadata(input.metadata ?? {}),
    expiresAt: validExpiry(input.expiresAt ?? null, now),
    rotationIntervalDays: rotation.intervalDays,
    rotationWarningDays: rotation.warningDays,
    lastRotatedAt: now,
    rotationDueAt: rotationDueAt(now, rotation.intervalDays, rotation.warningDays),
    maxVersions: validMaxVersions(input.maxVersions ?? SECRET_LIMITS.maxVersionsDefault),
    currentVersion: 1,
    versions: [{ version: 1, ...sealed, createdAt: now, createdBy: actorId, destroyedAt: null }],
    revision: 1,
    createdAt: now,
    createdBy: actorId,
    updatedAt: now,
    updatedBy: actorId,
    deletedAt: null,
    deletedBy: null,
  };
}

/** Creating and changing secret values and metadata. Each write is one atomic document update. */
export class SecretWriteService {
  constructor(private readonly deps: SecretWriteDeps) {}

  async create(principal: TenantCaller, input: CreateSecretData): Promise<SecretDoc> {
    const now = new Date();
    const name = validName(input.name);
    await assertNameAllowed(principal, name, this.deps.audit);
    const value = validValue(input.value);
    const rotation = validRotation(
      input.rotationIntervalDays ?? SECRET_LIMITS.rotationIntervalDefault,
      input.rotationWarningDays ?? SECRET_LIMITS.rotationWarningDefault,
    );
    const id = randomUUID();
    const sealed = await this.deps.cipher.seal(principal.tenantId, id, 1, value);
    const doc = newSecretDoc({ ...input, id, name, sealed, actorId: principal.actor.id, now, rotation });
    let stored: SecretDoc;
    try {
      stored = await this.deps.secretsOf(principal.tenantId).insert(doc);
    } catch (error) {
      if (isDuplicateKey(error)) throw conflict(`A secret named "${name}" already exists (if deleted: restore or purge it)`);
      throw error;
    }
    await this.deps.audit.append(auditEvent('secret.created', { caller: principal, resource: { id }, details: { name, version: 1 } }));
    return stored;
  }

  async update(principal: TenantCaller, input: UpdateSecretData): Promise<SecretDoc> {
    const name = validName(input.name);
    await assertNameAllowed(principal, name, this.deps.audit);
    const value = input.value === undefined || input.value === null ? undefined : validValue(input.value);
    if (input.expectedVersion != null && (value === undefined || changesMoreThanValue(input))) {
      // The version only moves with the value: it cannot tell whether anything else changed.
      throw badInput('expectedVersion', 'guards a value-only write; to guard other changes give expectedRevision (the secret\'s revision)');
    }
    const repo = this.deps.secretsOf(principal.tenantId);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const doc = await repo.findByName(name);
      if (!doc || doc.deletedAt) throw notFound(`Secret "${name}"`);
      assertExpected(doc, input);
      const now = new Date();
      const { set: changes, removed } = await this.changes(principal, doc, input, value, now);
      if (await repo.compareAndSet(doc._id, doc.revision, { $set: changes })) {
        const updated = { ...doc, ...changes, revision: doc.revision + 1 };
        const events = [
          auditEvent('secret.updated', {
            caller: principal,
            resource: { id: doc._id },
            details: {
              name,
              version: updated.currentVersion,
              revision: updated.revision,
              newVersion: value !== undefined,
              fields: Object.keys(changes).filter((k) => !['updatedAt', 'updatedBy', 'versions', 'rotationDueAt'].includes(k)),
            },
          }),
        ];
        if (removed.versions.length) {
          // Versions leaving the document are destroyed: audited as destroySecretVersions is.
          events.push(
            auditEvent('secret.versions_destroyed', {
              caller: principal,
              resource: { id: doc._id },
              details: { name, versions: removed.versions, reason: removed.reason, maxVersions: updated.maxVersions },
            }),
          );
        }
        await this.deps.audit.append(...events);
        return updated;
      }
      // Someone wrote in between: re-read and decide again (expectations are re-checked).
    }
    throw conflict(`Secret "${name}" is being changed concurrently; try again`);
  }

  /**
   * The update's `$set`, and which versions it removes: the oldest beyond maxVersions
   * when a new value is added (`retention`), or more when maxVersions is lowered below
   * the versions kept (`maxVersions`), which destroys history and so needs the authority
   * of destroySecretVersions (ADMIN, or an ADMIN+ API key).
   */
  private async changes(
    principal: TenantCaller,
    doc: SecretDoc,
    input: UpdateSecretData,
    value: string | undefined,
    now: Date,
  ): Promise<{ set: Partial<SecretDoc>; removed: { versions: number[]; reason: 'retention' | 'maxVersions' } }> {
    const set: Partial<SecretDoc> = { updatedAt: now, updatedBy: principal.actor.id };
    if (input.description !== undefined) set.description = validDescription(input.description ?? '');
    if (input.tags !== undefined) set.tags = validTags(input.tags ?? []);
    if (input.metadata !== undefined) set.metadata = validMetadata(input.metadata ?? {});
    if (input.expiresAt !== undefined) set.expiresAt = validExpiry(input.expiresAt, now);
    const intervalDays = input.rotationIntervalDays ?? doc.rotationIntervalDays;
    const warningDays = input.rotationWarningDays ?? doc.rotationWarningDays;
    if (input.rotationIntervalDays != null || input.rotationWarningDays != null) {
      validRotation(intervalDays, warningDays);
      set.rotationIntervalDays = intervalDays;
      set.rotationWarningDays = warningDays;
    }
    const maxVersions = input.maxVersions != null ? validMaxVersions(input.maxVersions) : doc.maxVersions;
    if (input.maxVersions != null) set.maxVersions = maxVersions;
    const count = doc.versions.length + (value !== undefined ? 1 : 0);
    const lowered = maxVersions < Math.min(doc.maxVersions, count);
    const rewritesVersions = value !== undefined || input.maxVersions != null;
    const dropped = rewritesVersions ? doc.versions.slice(0, Math.max(0, count - maxVersions)).map((v) => v.version) : [];
    if (lowered) await this.assertMayDestroy(principal, doc, maxVersions, dropped);
    let versions = doc.versions;
    if (value !== undefined) {
      const version = doc.currentVersion + 1;
      const sealed = await this.deps.cipher.seal(principal.tenantId, doc._id, version, value);
      const added: SecretVersionDoc = { version, ...sealed, createdAt: now, createdBy: principal.actor.id, destroyedAt: null };
      versions = [...versions, added];
      set.currentVersion = version;
      set.lastRotatedAt = now;
    }
    if (rewritesVersions) {
      set.versions = versions.slice(-maxVersions); // older versions are destroyed: their ciphertext leaves the document
    }
    if (set.lastRotatedAt || set.rotationIntervalDays !== undefined) {
      set.rotationDueAt = rotationDueAt(set.lastRotatedAt ?? doc.lastRotatedAt, intervalDays, warningDays);
    }
    return { set, removed: { versions: dropped, reason: lowered ? 'maxVersions' : 'retention' } };
  }

  /** Lowering maxVersions below the versions kept destroys them: ADMIN (or an ADMIN+ key) only; a refusal is audited. */
  private async assertMayDestroy(principal: TenantCaller, doc: SecretDoc, maxVersions: number, dropped: number[]): Promise<void> {
    if (roleAtLeast(principal.role, 'ADMIN')) return;
    await this.deps.audit.append(
      auditEvent('permission.denied', {
        caller: principal,
        resource: { type: 'SECRET', id: doc._id },
        details: { name: doc.name, needed: 'ADMIN', operation: 'lower_max_versions', maxVersions, versions: dropped },
        outcome: 'DENIED',
      }),
    );
    throw forbidden(
      `Lowering maxVersions to ${maxVersions} would destroy version(s) ${dropped.join(', ')} of secret "${doc.name}"; that needs the ADMIN role or higher, as destroySecretVersions does`,
    );
  }

  /**
   * Bulk upsert: each item is created or given a new value, independently; one
   * item's failure is reported in its result and does not affect the others.
   */
  async setMany(principal: TenantCaller, items: { name: string; value: string; expectedVersion?: number | null }[]): Promise<SetSecretOutcome[]> {
    if (items.length > BULK_MAX) throw badInput('items', `at most ${BULK_MAX} items per call`);
    const names = items.map((i) => i.name);
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate) throw badInput('items', `"${duplicate}" appears twice`);
    return this.setEach(principal, items);
  }

  /**
   * Writes a batch. Names outside an API key's scope are refused before any read (no
   * existence probing) and audited as ONE denial for the whole call. Items that may create
   * (no expected version, or 0) are first inserted together: sealed under one DEK lookup,
   * one unordered bulk insert, one audit append; a name already taken there (a live secret
   * gets a new version; a deleted one is a CONFLICT) and every other item then go one by one
   * through setOne, as before, their audit events collected; all events go out in one append,
   * in item order, before anything is returned. No read precedes the insert: on engines that cannot serve a
   * name lookup from an index (FerretDB v1) a read per item scanned the collection.
   */
  private async setEach(principal: TenantCaller, items: { name: string; value: string; expectedVersion?: number | null }[]): Promise<SetSecretOutcome[]> {
    const outcomes: (SetSecretOutcome | undefined)[] = new Array(items.length);
    const denied: string[] = [];
    const fresh: { index: number; name: string; value: string; id: string }[] = [];
    const events: CataloguedEvent[][] = items.map(() => []);
    items.forEach((item, index) => {
      if (!withinPrefixes(item.name, principal.prefixes)) {
        denied.push(item.name);
        outcomes[index] = { name: item.name, secret: null, created: false, error: { code: 'FORBIDDEN', message: 'This API key is limited to other name prefixes' } };
        return;
      }
      if (item.expectedVersion != null && item.expectedVersion !== 0) return; // must exist: setOne
      try {
        fresh.push({ index, name: validName(item.name), value: validValue(item.value), id: randomUUID() });
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        outcomes[index] = { name: item.name, secret: null, created: false, error: { code: error.code, message: error.message } };
      }
    });
    if (fresh.length) {
      const now = new Date();
      const sealed = await this.deps.cipher.sealNew(principal.tenantId, fresh.map((f) => ({ secretId: f.id, value: f.value })));
      const docs = fresh.map((f, i) => newSecretDoc({ id: f.id, name: f.name, sealed: sealed[i]!, actorId: principal.actor.id, now }));
      const taken = await this.deps.secretsOf(principal.tenantId).insertNew(docs);
      for (const [i, f] of fresh.entries()) {
        if (taken.has(i)) continue;
        outcomes[f.index] = { name: f.name, secret: { ...docs[i]!, tenantId: principal.tenantId } as SecretDoc, created: true, error: null };
        events[f.index] = [auditEvent('secret.created', { caller: principal, resource: { id: f.id }, details: { name: f.name, version: 1 } })];
      }
    }
    // The rest one by one, their events collected: the chain records every item in item order.
    try {
      for (const [index, item] of items.entries()) {
        if (outcomes[index]) continue;
        const collected: CataloguedEvent[] = [];
        const oneByOne = new SecretWriteService({ ...this.deps, audit: { append: async (...e) => void collected.push(...(e as CataloguedEvent[])) } });
        events[index] = collected;
        outcomes[index] = await oneByOne.setOne(principal, item);
      }
    } catch (error) {
      await this.deps.audit.append(...events.flat()); // what was written before the failure stays audited
      throw error;
    }
    const all = events.flat();
    if (denied.length) {
      all.push(
        auditEvent('permission.denied', {
          caller: principal,
          resource: { type: 'SECRET', id: null },
          details: { name: denied[0]!, needed: 'prefix', deniedCount: denied.length, names: denied.slice(0, 10) },
          outcome: 'DENIED',
        }),
      );
    }
    await this.deps.audit.append(...all); // every outcome is returned only once audited
    return outcomes as SetSecretOutcome[];
  }

  private async setOne(principal: TenantCaller, item: { name: string; value: string; expectedVersion?: number | null }): Promise<SetSecretOutcome> {
    try {
      // A new version if the secret is live (update reads it once); otherwise create it.
      try {
        const secret = await this.update(principal, { name: item.name, value: item.value, expectedVersion: item.expectedVersion ?? null });
        return { name: item.name, secret, created: false, error: null };
      } catch (error) {
        if (!(error instanceof AppError && error.code === 'NOT_FOUND')) throw error;
      }
      if (item.expectedVersion != null && item.expectedVersion !== 0) {
        throw appError('CONFLICT', `Secret "${item.name}" does not exist; expectedVersion must be 0 or omitted to create it`);
      }
      const secret = await this.create(principal, { name: item.name, value: item.value });
      return { name: item.name, secret, created: true, error: null };
    } catch (error) {
      if (error instanceof AppError) {
        return { name: item.name, secret: null, created: false, error: { code: error.code, message: error.message } };
      }
      throw error;
    }
  }

  /**
   * Parses .env content and upserts each variable as `<prefix><KEY>`. Lines that are not
   * assignments are reported one by one by line number (never by content: it may be a secret).
   */
  async importDotenv(principal: TenantCaller, dotenv: string, prefix: string | null): Promise<SetSecretOutcome[]> {
    if (prefix) validName(prefix.replace(/\/$/, ''), 'prefix');
    const parsed = parseDotenv(dotenv);
    const entries = Object.entries(parsed);
    const { lineOfKey, malformed } = scanDotenv(dotenv);
    if (!entries.length && !malformed.length) throw badInput('dotenv', 'no KEY=value lines found');
    if (entries.length > IMPORT_MAX) throw badInput('dotenv', `at most ${IMPORT_MAX} variables per import`);
    const written = await this.setEach(principal, entries.map(([key, value]) => ({ name: `${prefix ?? ''}${key}`, value })));
    const outcomes: SetSecretOutcome[] = [
      ...written.map((outcome, i) => ({ ...outcome, line: lineOfKey.get(entries[i]![0]) ?? null })),
      ...malformed.map((line) => ({
        name: null,
        line,
        secret: null,
        created: false,
        error: { code: 'BAD_USER_INPUT', message: `dotenv line ${line}: not a KEY=value assignment (KEY of letters, digits, _ . -); nothing was imported from it` },
      })),
    ];
    outcomes.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
    this.deps.logger.info({ event: 'secret.imported', tenantId: principal.tenantId, count: entries.length, malformedLines: malformed.length }, 'dotenv imported');
    return outcomes;
  }
}
