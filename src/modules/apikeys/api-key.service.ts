import type { LRUCache } from 'lru-cache';
import { forgetWhere, shortLivedCache } from '../../cache.js';
import { ApiKeyUsage } from './api-key-usage.js';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../logger.js';
import { digestsEqual, randomToken, sha256Hex } from '../../crypto/random.js';
import { badInput, forbidden, notFound } from '../../errors.js';
import type { AuditSink } from '../audit/audit-event.js';
import { auditEvent, userActor } from '../audit/audit-builder.js';
import type { Caller, RequestInfo } from '../../identity/caller.js';
import { apiKeyCaller, userOf } from '../../identity/callers.js';
import type { MembershipDirectory } from '../tenants/membership.repository.js';
import { roleAtLeast, type Role } from '../../identity/roles.js';
import type { TenantRepository } from '../tenants/tenant.repository.js';
import { scopePrefix, validPrefix } from '../secrets/secret-rules.js';
import type { ApiKeyDirectory, ApiKeyDoc, ApiKeyRepository } from './api-key.repository.js';
import { LEGACY_SCOPES, scopesOf } from './api-key-scopes.js';
import type { ApiKeyScope } from '../../identity/scopes.js';

/** API keys are `cof_<16 hex public id>.<256 random bits>`; the prefix tells them apart from JWTs. */
export const API_KEY_PREFIX = 'cof_';
const FORMAT = /^cof_([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/;

export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX);
}

interface ApiKeyDeps {
  keysOf: (tenantId: string) => ApiKeyRepository;
  directory: ApiKeyDirectory;
  tenants: TenantRepository;
  memberships: MembershipDirectory;
  audit: AuditSink;
  logger: Logger;
  cacheSeconds: number;
  /** How often counted uses are written (ApiKeyUsage); default 5 s. */
  useFlushMs?: number;
}

type Cached = {
  key: Parameters<typeof apiKeyCaller>[0] | null;
  tenantId: string | null;
  createdBy: string | null;
  /** The key's expiry, re-checked on every use: a cached entry never outlives it. */
  expiresAt: Date | null;
};

/** Machine credentials scoped to one tenant, a role, name prefixes and scopes. */
export class ApiKeyService {
  private readonly cache: LRUCache<string, Cached> | null;
  private readonly usage: ApiKeyUsage;

  constructor(private readonly deps: ApiKeyDeps) {
    this.cache = shortLivedCache(deps.cacheSeconds, 10_000);
    this.usage = new ApiKeyUsage(deps.directory, deps.logger, deps.useFlushMs ?? 5_000);
  }

  /** Writes the uses counted so far and stops counting on a timer (the app's shutdown). */
  stop(): Promise<void> {
    return this.usage.stop();
  }

  async create(caller: Caller, input: { name: string; role: Role; prefixes: string[]; scopes?: readonly ApiKeyScope[] | null; expiresAt?: Date | null }) {
    const viewer = userOf(caller);
    const { request } = caller;
    const tenantId = viewer.tenantId!;
    if (!roleAtLeast(viewer.role, input.role)) throw forbidden(`You cannot create a key with the ${input.role} role`);
    const name = input.name.trim();
    if (!name || name.length > 100) throw badInput('name', 'must be 1 to 100 characters');
    const scopes = [...new Set(input.scopes ?? LEGACY_SCOPES)];
    if (scopes.length === 0) throw badInput('scopes', 'give at least one scope');
    const secretAccess = scopes.some((s) => s.startsWith('SECRETS_'));
    // Prefixes limit secret access; a key without secret scopes needs none.
    if ((secretAccess && !input.prefixes.length) || input.prefixes.length > 20) throw badInput('prefixes', 'give 1 to 20 prefixes (* for every secret)');
    // Stored as path prefixes ("prod/db" → "prod/db/"): a key never reaches prod/dbadmin/….
    const prefixes = [...new Set(input.prefixes.map((p) => scopePrefix(validPrefix(p, 'prefixes'))))];
    if (input.expiresAt && input.expiresAt <= new Date()) throw badInput('expiresAt', 'must be in the future');
    const secret = randomToken(32);
    const doc = await this.deps.keysOf(tenantId).create({
      _id: randomBytes(8).toString('hex'),
      name,
      role: input.role,
      prefixes,
      scopes,
      secretHash: sha256Hex(secret),
      createdAt: new Date(),
      createdBy: viewer.userId,
      expiresAt: input.expiresAt ?? null,
      revokedAt: null,
      lastUsedAt: null,
      useCount: 0,
    });
    await this.deps.audit.append(
      auditEvent('apikey.created', { caller: { tenantId, actor: userActor(viewer.userId), request }, resource: { id: doc._id }, details: { name, role: input.role, prefixes, scopes } }),
    );
    return { doc, apiKey: `${API_KEY_PREFIX}${doc._id}.${secret}` };
  }

  /** Revokes every key `userId` created in the tenant (they left it). */
  async revokeAllBy(tenantId: string, userId: string): Promise<number> {
    const revoked = await this.deps.keysOf(tenantId).revokeAllBy(userId);
    this.forgetScope(tenantId, userId);
    return revoked;
  }

  async list(caller: Caller): Promise<ApiKeyDoc[]> {
    const viewer = userOf(caller);
    await this.usage.flush(); // this instance's counted uses first, so the listing is current here
    return this.deps.keysOf(viewer.tenantId!).list();
  }

  /**
   * Revokes a key. The rank rule for members applies to what they made: nobody revokes a
   * key made by a member ranked above them (an ADMIN cannot revoke an OWNER's key); the
   * refusal is audited. A key whose creator has left is already revoked.
   */
  async revoke(caller: Caller, id: string): Promise<boolean> {
    const viewer = userOf(caller);
    const { request } = caller;
    const tenantId = viewer.tenantId!;
    const keys = this.deps.keysOf(tenantId);
    const key = await keys.findActive(id);
    if (!key) throw notFound('API key');
    const creator = await this.deps.memberships.find(tenantId, key.createdBy);
    const eventCaller = { tenantId, actor: userActor(viewer.userId), request };
    if (creator && !roleAtLeast(viewer.role, creator.role)) {
      await this.deps.audit.append(auditEvent('permission.denied', { caller: eventCaller, resource: { type: 'API_KEY', id }, outcome: 'DENIED', details: { needed: creator.role, operation: 'revokeApiKey' } }));
      throw forbidden(`You cannot revoke an API key made by a member with the ${creator.role} role`);
    }
    if (!(await keys.revoke(id))) throw notFound('API key');
    this.forget(id);
    await this.deps.audit.append(auditEvent('apikey.revoked', { caller: eventCaller, resource: { id } }));
    return true;
  }

  /**
   * The caller a presented key makes, or null. Looked-up state is cached for a
   * few seconds, so revocation and tenant suspension apply within that delay;
   * expiry is checked on every use, so it holds to the second.
   */
  async authenticate(token: string, request: RequestInfo): Promise<Caller | null> {
    const match = FORMAT.exec(token);
    if (!match) return null;
    const [, id, secret] = match as unknown as [string, string, string];
    const key = `${id}:${sha256Hex(secret)}`;
    let cached = this.cache?.get(key);
    if (!cached) {
      cached = await this.load(id, secret);
      this.cache?.set(key, cached);
    }
    if (!cached.key) return null;
    if (cached.expiresAt && cached.expiresAt <= new Date()) {
      this.cache?.delete(key);
      return null;
    }
    this.usage.record(id, new Date());
    return apiKeyCaller(cached.key, request);
  }

  /**
   * A key never carries more authority than its creator has now: it works only while
   * the membership that made it lasts with an ADMIN or OWNER role, and acts with the
   * lower of its role and theirs.
   */
  private async load(id: string, secret: string): Promise<Cached> {
    const refused = { key: null, tenantId: null, createdBy: null, expiresAt: null };
    const doc = await this.deps.directory.findById(id);
    if (!doc || !digestsEqual(doc.secretHash, sha256Hex(secret))) return refused;
    if (doc.revokedAt || (doc.expiresAt && doc.expiresAt <= new Date())) return refused;
    const scope = { tenantId: doc.tenantId, createdBy: doc.createdBy, expiresAt: doc.expiresAt };
    const [tenant, creator] = await Promise.all([
      this.deps.tenants.findById(doc.tenantId),
      this.deps.memberships.find(doc.tenantId, doc.createdBy),
    ]);
    // The creator must still be able to manage keys, and be the same membership that made
    // this key (a member removed and invited back does not revive keys made before).
    if (!tenant || tenant.status !== 'ACTIVE' || !creator) return { ...refused, ...scope };
    if (!roleAtLeast(creator.role, 'ADMIN') || creator.joinedAt > doc.createdAt) return { ...refused, ...scope };
    const role = roleAtLeast(creator.role, doc.role) ? doc.role : creator.role;
    return { ...scope, key: { id: doc._id, tenantId: doc.tenantId, role, prefixes: doc.prefixes, scopes: scopesOf(doc.scopes) } };
  }

  private forget(id: string): void {
    forgetWhere(this.cache, (_entry, key) => key.startsWith(`${id}:`));
  }

  /** Drops cached key state of a tenant (suspension) or of one creator there (removal, role change), so it applies at once here. */
  forgetScope(tenantId: string, createdBy?: string): void {
    forgetWhere(this.cache, (entry) => entry.tenantId === tenantId && (createdBy === undefined || entry.createdBy === createdBy));
  }
}
