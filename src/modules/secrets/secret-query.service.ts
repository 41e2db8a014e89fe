import { IntegrityError } from '../../crypto/aes-gcm.js';
import { appError, badInput, notFound } from '../../graphql/errors.js';
import type { Logger } from '../../logger.js';
import type { AuditEventInput, AuditSink } from '../audit/audit-event.js';
import type { Principal } from '../auth/principal.js';
import type { SecretCipher } from './secret-cipher.js';
import type { SecretDoc } from './secret.document.js';
import type { SecretListFilter, SecretRepository } from './secret.repository.js';
import { validName, validPrefix, withinPrefixes, type SecretStatus } from './secret-rules.js';
import { auditOf } from './secret.service.js';

interface QueryDeps {
  secretsOf: (tenantId: string) => SecretRepository;
  cipher: SecretCipher;
  audit: AuditSink;
  logger: Logger;
}

export const PAGE_MAX = 200;

/**
 * Collects the reveal events of one request and appends them in one batch, so
 * a list of 50 values costs one audit write, not 50.
 */
export class RevealBatch {
  private pending: AuditEventInput[] = [];
  private flushing: Promise<void> | null = null;

  constructor(private readonly audit: AuditSink) {}

  record(event: AuditEventInput): Promise<void> {
    this.pending.push(event);
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      const events = this.pending;
      this.pending = [];
      this.flushing = null;
      return this.audit.append(...events);
    });
    return this.flushing;
  }
}

function decodeCursor(after: string | null | undefined): string | null {
  if (!after) return null;
  const name = Buffer.from(after, 'base64url').toString('utf8');
  if (!name) throw badInput('after', 'is not a cursor from this connection');
  return name;
}

export const encodeCursor = (name: string) => Buffer.from(name, 'utf8').toString('base64url');

/** Reading secrets: metadata never decrypts; values only through reveal, always audited. */
export class SecretQueryService {
  constructor(private readonly deps: QueryDeps) {}

  /** The secret, or null when missing, another tenant's, or outside an API key's prefixes. */
  async get(principal: Principal, name: string): Promise<SecretDoc | null> {
    validName(name);
    if (!withinPrefixes(name, principal.prefixes)) return null;
    return this.deps.secretsOf(principal.tenantId).findByName(name);
  }

  async list(principal: Principal, filter: { prefix?: string | null; tags?: string[] | null; status?: SecretStatus | null }, first: number | null | undefined, after: string | null | undefined) {
    const size = first ?? 50;
    if (!Number.isInteger(size) || size < 1 || size > PAGE_MAX) throw badInput('first', `must be 1 to ${PAGE_MAX}`);
    if (filter.prefix) validPrefix(filter.prefix);
    const listFilter: SecretListFilter = { ...filter, allowedPrefixes: principal.prefixes };
    return this.deps.secretsOf(principal.tenantId).list(listFilter, size, decodeCursor(after), new Date());
  }

  async dueForRotation(principal: Principal, withinDays: number | null | undefined): Promise<SecretDoc[]> {
    const days = withinDays ?? 0;
    if (!Number.isInteger(days) || days < 0 || days > 3650) throw badInput('withinDays', 'must be 0 to 3650');
    const until = new Date(Date.now() + days * 86_400_000);
    return this.deps.secretsOf(principal.tenantId).dueForRotation(until, principal.prefixes, 1000);
  }

  /** Decrypts one version (default: current) and records the reveal; the value is returned only once audited. */
  async reveal(principal: Principal, doc: SecretDoc, version: number | null | undefined, batch: RevealBatch): Promise<string> {
    if (doc.tenantId !== principal.tenantId || !withinPrefixes(doc.name, principal.prefixes)) throw notFound(`Secret "${doc.name}"`);
    if (doc.deletedAt) throw notFound(`Secret "${doc.name}" is deleted; restore it to read its value`);
    const wanted = version ?? doc.currentVersion;
    const stored = doc.versions.find((v) => v.version === wanted);
    if (!stored) throw notFound(`Version ${wanted} of secret "${doc.name}"`);
    if (!stored.ciphertext) throw notFound(`Version ${wanted} of secret "${doc.name}" (destroyed)`);
    let value: string;
    try {
      value = await this.deps.cipher.open(principal.tenantId, doc._id, stored);
    } catch (error) {
      if (!(error instanceof IntegrityError)) throw error;
      await batch.record({ ...auditOf(principal, 'secret.revealed', { id: doc._id, name: doc.name }, { version: wanted }), outcome: 'FAILURE' });
      this.deps.logger.error({ event: 'secret.integrity_failure', tenantId: principal.tenantId, secretId: doc._id, version: wanted }, 'secret version failed its integrity check');
      throw appError('INTERNAL_SERVER_ERROR', 'Secret version failed its integrity check');
    }
    await batch.record(auditOf(principal, 'secret.revealed', { id: doc._id, name: doc.name }, { version: wanted }));
    return value;
  }
}
