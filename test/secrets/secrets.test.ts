import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, expectCode, expectOk, signUp, type Signed } from '../support/auth.js';
import { startServer, type GraphQLResponse, type TestServer } from '../support/server.js';
import { SECRET_FIELDS, auditActions, createSecret, expectNoPlaintext, mustCreate, reveal, updateSecret, type SecretShape } from '../support/vault.js';

let server: TestServer;
let owner: Signed;
beforeAll(async () => {
  server = await startServer();
  owner = await signUp(server, 'Vault Co');
});
afterAll(async () => server?.close());

const unique = (p: string) => `${p}/${randomBytes(4).toString('hex')}`;
const secretCount = () => server.db.collection('secrets').countDocuments();

describe('create and read', () => {
  it('stores a secret encrypted and reveals it only through value, which is audited', async () => {
    const name = unique('prod/db');
    const created = await mustCreate(server, owner, name, 'postgres://app:s3cr3t-pw@db/prod', {
      description: 'main database',
      tags: ['db', 'prod'],
      metadata: { owner: 'platform', port: 5432 },
    });
    expect(created).toMatchObject({ name, version: 1, description: 'main database', tags: ['db', 'prod'], metadata: { owner: 'platform', port: 5432 }, status: 'ACTIVE', maxVersions: 20 });
    const stored = await server.db.collection('secrets').findOne({ name });
    expect(JSON.stringify(stored)).not.toContain('s3cr3t-pw');
    const blob = Buffer.from(stored!.versions[0].ciphertext.value());
    expect(blob.length).toBe(12 + 16 + Buffer.byteLength('postgres://app:s3cr3t-pw@db/prod'));
    expect(stored!.versions[0].dekVersion).toBe(1);

    const before = await auditActions(server, owner.tenantId);
    const res = await reveal(server, owner, name);
    expect(expectOk(res).secret!.value).toBe('postgres://app:s3cr3t-pw@db/prod');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const after = await auditActions(server, owner.tenantId);
    expect(after.slice(before.length)).toEqual(['secret.revealed']);
  });

  it('lists metadata without decrypting or auditing anything', async () => {
    const name = unique('meta');
    await mustCreate(server, owner, name, 'metadata-only-value');
    const before = await auditActions(server, owner.tenantId);
    const res = await server.gql<{ secret: SecretShape }>(`query($n: String!) { secret(name: $n) { ${SECRET_FIELDS} rotation { intervalDays warningDays daysUntilRotation isRotationDue isExpired } } }`, { n: name }, owner.accessToken);
    expect(expectOk(res).secret.name).toBe(name);
    expect(JSON.stringify(res.data)).not.toContain('metadata-only-value');
    expect(await auditActions(server, owner.tenantId)).toEqual(before);
  });

  it('returns null for a missing secret and for another tenant\'s secret', async () => {
    const other = await signUp(server, 'Other Co');
    const name = unique('shared-name');
    await mustCreate(server, other, name, 'their-value-123');
    expect(expectOk(await reveal(server, owner, name)).secret).toBeNull();
    expect(expectOk(await reveal(server, owner, unique('nope'))).secret).toBeNull();
    expectCode(await updateSecret(server, owner, { name, value: 'hijack' }), 'NOT_FOUND');
    expectCode(await server.gql('mutation($n: String!) { deleteSecret(name: $n) { id } }', { n: name }, owner.accessToken), 'NOT_FOUND');
    expect(expectOk(await reveal(server, other, name)).secret!.value).toBe('their-value-123');
  });

  it('refuses a duplicate name with CONFLICT', async () => {
    const name = unique('dup');
    await mustCreate(server, owner, name, 'one');
    expectCode(await createSecret(server, owner, { name, value: 'two' }), 'CONFLICT');
  });
});

describe('bad input is refused with a clear error and writes nothing', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['a name with spaces', { name: 'bad name', value: 'v' }, 'name'],
    ['a name with an empty segment', { name: 'a//b', value: 'v' }, 'name'],
    ['a name with ..', { name: 'a/../b', value: 'v' }, 'name'],
    ['a leading slash', { name: '/abs', value: 'v' }, 'name'],
    ['a 257-character name', { name: 'n'.repeat(257), value: 'v' }, 'name'],
    ['a value over 64 KiB', { name: 'big', value: 'x'.repeat(64 * 1024 + 1) }, 'value'],
    ['a value over 64 KiB in UTF-8 bytes', { name: 'big-utf8', value: 'é'.repeat(33 * 1024) }, 'value'],
    ['metadata over 4 KiB', { name: 'meta', value: 'v', metadata: { blob: 'm'.repeat(4100) } }, 'metadata'],
    ['a reserved metadata key deep inside', { name: 'meta2', value: 'v', metadata: { a: [{ b: { $where: 'x' } }] } }, 'metadata'],
    ['a NUL in a metadata key', { name: 'meta4', value: 'v', metadata: { 'a\u0000b': 1 } }, 'metadata'],
    ['a dotted metadata key', { name: 'meta3', value: 'v', metadata: { 'a.b': 1 } }, 'metadata'],
    ['51 tags', { name: 'tags', value: 'v', tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }, 'tags'],
    ['a bad tag', { name: 'tag', value: 'v', tags: ['has space'] }, 'tags'],
    ['a warning longer than the interval', { name: 'rot', value: 'v', rotationIntervalDays: 5, rotationWarningDays: 5 }, 'rotationWarningDays'],
    ['maxVersions 0', { name: 'mv', value: 'v', maxVersions: 0 }, 'maxVersions'],
    ['an expiry in the past', { name: 'exp', value: 'v', expiresAt: '2000-01-01T00:00:00Z' }, 'expiresAt'],
  ];
  for (const [label, input, field] of cases) {
    it(label, async () => {
      const before = await secretCount();
      const res = await createSecret(server, owner, input);
      expectCode(res, 'BAD_USER_INPUT');
      expect(res.errors![0]!.message).toContain(field);
      expect(await secretCount()).toBe(before);
    });
  }

  it('accepts exactly 64 KiB and 256 characters', async () => {
    const name = `${'n'.repeat(240)}/${randomBytes(4).toString('hex')}`.slice(0, 256);
    expectOk(await createSecret(server, owner, { name, value: 'x'.repeat(64 * 1024) }));
  });
});

describe('versions and check-and-set', () => {
  it('makes a new version for a new value; old versions stay readable; metadata edits do not version', async () => {
    const name = unique('api');
    await mustCreate(server, owner, name, 'value-one');
    const v2 = expectOk(await updateSecret(server, owner, { name, value: 'value-two', expectedVersion: 1 })).updateSecret;
    expect(v2.version).toBe(2);
    const meta = expectOk(await updateSecret(server, owner, { name, description: 'now described' })).updateSecret;
    expect(meta).toMatchObject({ version: 2, description: 'now described' });
    expect(expectOk(await reveal(server, owner, name)).secret!.value).toBe('value-two');
    expect(expectOk(await reveal(server, owner, name, 1)).secret!.value).toBe('value-one');
    expect(meta.versions.map((v) => v.version)).toEqual([2, 1]);
  });

  it('refuses a stale expectedVersion with CONFLICT and keeps the value', async () => {
    const name = unique('cas');
    await mustCreate(server, owner, name, 'original');
    const res = await updateSecret(server, owner, { name, value: 'late', expectedVersion: 5 });
    expectCode(res, 'CONFLICT');
    expect(res.errors![0]!.extensions.currentVersion).toBe(1);
    expect(expectOk(await reveal(server, owner, name)).secret!.value).toBe('original');
  });

  it('lets exactly one of 50 concurrent updates with the same expectedVersion win; no version is lost', async () => {
    const name = unique('race');
    await mustCreate(server, owner, name, 'v1');
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => updateSecret(server, owner, { name, value: `racer-${i}`, expectedVersion: 1 })),
    );
    const winners = results.filter((r) => !r.errors);
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r.errors?.[0]?.extensions.code === 'CONFLICT')).toHaveLength(49);
    const doc = await server.db.collection('secrets').findOne({ name });
    expect(doc!.currentVersion).toBe(2);
    expect(doc!.versions.map((v: { version: number }) => v.version)).toEqual([1, 2]);
    const winnerValue = expectOk(await reveal(server, owner, name)).secret!.value!;
    expect(winnerValue).toMatch(/^racer-\d+$/);
    expect(expectOk(await reveal(server, owner, name, 1)).secret!.value).toBe('v1');
  });

  it('expectedRevision guards metadata-only updates: of two sequential ones with the same revision the second is CONFLICT', async () => {
    const name = unique('rev');
    const created = await mustCreate(server, owner, name, 'rev-value');
    expect(created.revision).toBe(1);
    const first = expectOk(await updateSecret(server, owner, { name, description: 'first', expectedRevision: 1 })).updateSecret;
    expect(first).toMatchObject({ description: 'first', revision: 2, version: 1 });
    const second = await updateSecret(server, owner, { name, description: 'second', expectedRevision: 1 });
    expectCode(second, 'CONFLICT');
    expect(second.errors![0]!.extensions).toMatchObject({ currentRevision: 2, currentVersion: 1 });
    expect(second.errors![0]!.message).toMatch(/revision 2, not 1$/);
    expect(expectOk(await server.gql<{ secret: SecretShape }>(`query($n: String!) { secret(name: $n) { ${SECRET_FIELDS} } }`, { n: name }, owner.accessToken)).secret.description).toBe('first');
    // A value write moves the revision too.
    expect(expectOk(await updateSecret(server, owner, { name, value: 'rev-value-2', expectedRevision: 2 })).updateSecret).toMatchObject({ version: 2, revision: 3 });
  });

  it('lets exactly one of 20 concurrent metadata updates with the same expectedRevision win', async () => {
    const name = unique('rev-race');
    await mustCreate(server, owner, name, 'v');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => updateSecret(server, owner, { name, description: `racer-${i}`, tags: [`t${i}`], expectedRevision: 1 })));
    const winners = results.filter((r) => !r.errors);
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r.errors?.[0]?.extensions.code === 'CONFLICT')).toHaveLength(19);
    const doc = await server.db.collection('secrets').findOne({ name });
    expect(doc).toMatchObject({ revision: 2, description: winners[0]!.data!.updateSecret.description, tags: winners[0]!.data!.updateSecret.tags });
  });

  it('refuses expectedVersion on an update that changes more than the value (it could not see such changes), writing nothing', async () => {
    const name = unique('ev-meta');
    await mustCreate(server, owner, name, 'v');
    for (const input of [{ description: 'a', expectedVersion: 1 }, { value: 'w', description: 'b', expectedVersion: 1 }, { maxVersions: 5, expectedVersion: 1 }]) {
      const res = await updateSecret(server, owner, { name, ...input });
      expectCode(res, 'BAD_USER_INPUT');
      expect(res.errors![0]!.message).toContain('expectedRevision');
    }
    const doc = await server.db.collection('secrets').findOne({ name });
    expect(doc).toMatchObject({ revision: 1, description: '', currentVersion: 1 });
  });

  it('keeps only maxVersions versions; older ciphertext leaves the database', async () => {
    const name = unique('bounded');
    await mustCreate(server, owner, name, 'ancient-value-0', { maxVersions: 3 });
    for (let i = 1; i <= 4; i++) expectOk(await updateSecret(server, owner, { name, value: `ancient-value-${i}` }));
    const doc = await server.db.collection('secrets').findOne({ name });
    expect(doc!.versions.map((v: { version: number }) => v.version)).toEqual([3, 4, 5]);
    expectCode(await reveal(server, owner, name, 1), 'NOT_FOUND');
    expect(expectOk(await reveal(server, owner, name, 3)).secret!.value).toBe('ancient-value-2');
  });

  it('answers NOT_FOUND for a version that never existed', async () => {
    const name = unique('unknown-version');
    await mustCreate(server, owner, name, 'v');
    const res = await reveal(server, owner, name, 99);
    expectCode(res, 'NOT_FOUND');
    expect(res.errors![0]!.message).toContain('99');
  });
});

describe('delete, restore, destroy, purge', () => {
  it('soft-deletes and restores within the recovery window', async () => {
    const name = unique('soft');
    await mustCreate(server, owner, name, 'keep-me');
    const deleted = expectOk(await server.gql<{ deleteSecret: SecretShape }>(`mutation($n: String!) { deleteSecret(name: $n) { ${SECRET_FIELDS} } }`, { n: name }, owner.accessToken)).deleteSecret;
    expect(deleted.status).toBe('DELETED');
    const days = (new Date(deleted.purgeAfter!).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expectCode(await updateSecret(server, owner, { name, value: 'x' }), 'NOT_FOUND');
    const hidden = await reveal(server, owner, name);
    expectCode(hidden, 'NOT_FOUND');
    expect(JSON.stringify(hidden)).not.toContain('keep-me');
    const restored = expectOk(await server.gql<{ restoreSecret: SecretShape }>(`mutation($n: String!) { restoreSecret(name: $n) { ${SECRET_FIELDS} } }`, { n: name }, owner.accessToken)).restoreSecret;
    expect(restored.status).toBe('ACTIVE');
    expect(expectOk(await reveal(server, owner, name)).secret!.value).toBe('keep-me');
  });

  it('says why a value is not found in complete sentences (deleted, destroyed, past recovery, unknown version)', async () => {
    const name = unique('sentences');
    await mustCreate(server, owner, name, 'sentence-value-1');
    expectOk(await updateSecret(server, owner, { name, value: 'sentence-value-2' }));
    expectOk(await server.gql('mutation($n: String!) { destroySecretVersions(name: $n, versions: [1]) { id } }', { n: name }, owner.accessToken));
    const message = async (res: Promise<GraphQLResponse>) => {
      const r = await res;
      expectCode(r, 'NOT_FOUND');
      return r.errors![0]!.message;
    };
    expect(await message(reveal(server, owner, name, 1))).toBe(`Version 1 of secret "${name}" was destroyed; its value is gone`);
    expect(await message(reveal(server, owner, name, 9))).toBe(`Version 9 of secret "${name}" not found`);
    expectOk(await server.gql('mutation($n: String!) { deleteSecret(name: $n) { id } }', { n: name }, owner.accessToken));
    // A deleted secret is still listed by name (status DELETED); its value is refused.
    const deleted = await server.gql('query($n: String!) { secrets(filter: { status: DELETED, prefix: $n }) { edges { node { value } } } }', { n: name }, owner.accessToken);
    expect(deleted.errors![0]!.message).toBe(`Secret "${name}" is deleted; restore it to read its value`);
    await server.db.collection('secrets').updateOne({ name }, { $set: { deletedAt: new Date(Date.now() - 31 * 86_400_000) } });
    expect(await message(server.gql('mutation($n: String!) { restoreSecret(name: $n) { id } }', { n: name }, owner.accessToken))).toBe(
      `Secret "${name}" can no longer be restored: its recovery window has ended`,
    );
    expect(await message(updateSecret(server, owner, { name: unique('never'), value: 'x' }))).toMatch(/^Secret ".+" not found$/);
  });

  it('cannot restore after the recovery window', async () => {
    const name = unique('too-late');
    await mustCreate(server, owner, name, 'gone');
    expectOk(await server.gql('mutation($n: String!) { deleteSecret(name: $n) { id } }', { n: name }, owner.accessToken));
    await server.db.collection('secrets').updateOne({ name }, { $set: { deletedAt: new Date(Date.now() - 31 * 86_400_000) } });
    expectCode(await server.gql('mutation($n: String!) { restoreSecret(name: $n) { id } }', { n: name }, owner.accessToken), 'NOT_FOUND');
  });

  it('destroys chosen versions irreversibly and refuses unknown versions without changing anything', async () => {
    const name = unique('destroy');
    await mustCreate(server, owner, name, 'first-secret-value');
    expectOk(await updateSecret(server, owner, { name, value: 'second-secret-value' }));
    const bad = await server.gql('mutation($n: String!) { destroySecretVersions(name: $n, versions: [1, 7]) { id } }', { n: name }, owner.accessToken);
    expectCode(bad, 'BAD_USER_INPUT');
    expect(bad.errors![0]!.message).toContain('7');
    expect(expectOk(await reveal(server, owner, name, 1)).secret!.value).toBe('first-secret-value');
    const res = await server.gql<{ destroySecretVersions: SecretShape }>(`mutation($n: String!) { destroySecretVersions(name: $n, versions: [1]) { ${SECRET_FIELDS} } }`, { n: name }, owner.accessToken);
    expect(expectOk(res).destroySecretVersions.versions).toEqual([{ version: 2, destroyed: false }, { version: 1, destroyed: true }]);
    const doc = await server.db.collection('secrets').findOne({ name });
    expect(doc!.versions[0].ciphertext).toBeNull();
    expectCode(await reveal(server, owner, name, 1), 'NOT_FOUND');
    expect(expectOk(await reveal(server, owner, name)).secret!.value).toBe('second-secret-value');
  });

  it('purges only after a soft delete', async () => {
    const name = unique('purge');
    await mustCreate(server, owner, name, 'bye');
    expectCode(await server.gql('mutation($n: String!) { purgeSecret(name: $n) }', { n: name }, owner.accessToken), 'CONFLICT');
    expectOk(await server.gql('mutation($n: String!) { deleteSecret(name: $n) { id } }', { n: name }, owner.accessToken));
    expect(expectOk(await server.gql<{ purgeSecret: boolean }>('mutation($n: String!) { purgeSecret(name: $n) }', { n: name }, owner.accessToken)).purgeSecret).toBe(true);
    expect(await server.db.collection('secrets').countDocuments({ name })).toBe(0);
    expectOk(await createSecret(server, owner, { name, value: 'reborn' }));
  });
});

describe('listing', () => {
  let lister: Signed;
  beforeAll(async () => {
    lister = await signUp(server, 'Lister');
    for (let i = 0; i < 7; i++) await mustCreate(server, lister, `app/svc-${i}`, `value-${i}`, { tags: i % 2 ? ['odd'] : ['even'] });
    await mustCreate(server, lister, 'other/thing', 'x');
  });

  it('pages in name order with cursors and a total count', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 5; page++) {
      const res: GraphQLResponse<{ secrets: { edges: { cursor: string; node: { name: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null }; totalCount: number } }> = await server.gql(
        'query($after: String) { secrets(filter: { prefix: "app/" }, first: 3, after: $after) { edges { cursor node { name } } pageInfo { hasNextPage endCursor } totalCount } }',
        { after },
        lister.accessToken,
      );
      const conn = expectOk(res).secrets;
      expect(conn.totalCount).toBe(7);
      seen.push(...conn.edges.map((e) => e.node.name));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(seen).toEqual(Array.from({ length: 7 }, (_, i) => `app/svc-${i}`));
  });

  it('filters by tags and by status', async () => {
    const odd = expectOk(await server.gql<{ secrets: { totalCount: number } }>('{ secrets(filter: { tags: ["odd"] }) { totalCount } }', {}, lister.accessToken)).secrets;
    expect(odd.totalCount).toBe(3);
    await server.db.collection('secrets').updateOne({ tenantId: lister.tenantId, name: 'app/svc-0' }, { $set: { rotationDueAt: new Date(Date.now() - 1000) } });
    await server.db.collection('secrets').updateOne({ tenantId: lister.tenantId, name: 'app/svc-1' }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    expectOk(await server.gql('mutation { deleteSecret(name: "app/svc-2") { id } }', {}, lister.accessToken));
    const byStatus = async (status: string) =>
      expectOk(await server.gql<{ secrets: { edges: { node: { name: string; status: string } }[] } }>(`{ secrets(filter: { status: ${status} }) { edges { node { name status } } } }`, {}, lister.accessToken)).secrets.edges.map((e) => e.node.name);
    expect(await byStatus('ROTATION_DUE')).toEqual(['app/svc-0']);
    expect(await byStatus('EXPIRED')).toEqual(['app/svc-1']);
    expect(await byStatus('DELETED')).toEqual(['app/svc-2']);
    expect(await byStatus('ACTIVE')).toEqual(['app/svc-3', 'app/svc-4', 'app/svc-5', 'app/svc-6', 'other/thing']);
    const due = expectOk(await server.gql<{ secretsDueForRotation: { name: string }[] }>('{ secretsDueForRotation { name } }', {}, lister.accessToken)).secretsDueForRotation;
    expect(due.map((s) => s.name)).toEqual(['app/svc-0']);
    const soon = expectOk(await server.gql<{ secretsDueForRotation: { name: string }[] }>('{ secretsDueForRotation(withinDays: 90) { name } }', {}, lister.accessToken)).secretsDueForRotation;
    expect(soon.length).toBe(7); // every live (not deleted) secret, expired ones included, is due within 90 days
  });

  it('audits 50 revealed values with one batched write, not 50', async () => {
    const bulk = await signUp(server, 'Bulk');
    expectOk(await server.gql('mutation($items: [SetSecretInput!]!) { setSecrets(items: $items) { ok } }', { items: Array.from({ length: 50 }, (_, i) => ({ name: `bulk/k${String(i).padStart(2, '0')}`, value: `bulk-value-${i}` })) }, bulk.accessToken));
    const writesBefore = server.writes.length;
    const res = await server.gql<{ secrets: { edges: { node: { value: string } }[] } }>('{ secrets(first: 50) { edges { node { value } } } }', {}, bulk.accessToken);
    expect(expectOk(res).secrets.edges.map((e) => e.node.value)).toHaveLength(50);
    const auditInserts = server.writes.slice(writesBefore).filter((w) => w === 'insert:audit_events');
    expect(auditInserts.length).toBe(1);
    expect((await auditActions(server, bulk.tenantId)).filter((a) => a === 'secret.revealed')).toHaveLength(50);
  });
});

describe('bounded cost per request', () => {
  it('listing reads metadata only: no ciphertext leaves the database for a list', async () => {
    const team = await signUp(server, 'Lean lister');
    await mustCreate(server, team, 'lean/big', 'x'.repeat(60_000), { maxVersions: 5 });
    for (let i = 0; i < 4; i++) expectOk(await updateSecret(server, team, { name: 'lean/big', value: `${i}`.repeat(60_000) }));
    const { SecretRepository } = await import('../../src/modules/secrets/secret.repository.js');
    const { TenantScope } = await import('../../src/db/tenant-scope.js');
    const repo = new SecretRepository(new TenantScope(server.db, team.tenantId));
    const page = await repo.list({ allowedPrefixes: null }, 10, null, new Date());
    expect(page.docs[0]!.versions).toHaveLength(5);
    expect(page.docs[0]!.versions.every((v) => v.ciphertext === undefined)).toBe(true);
    expect(JSON.stringify(page.docs).length).toBeLessThan(5_000);
    expect(expectOk(await reveal(server, team, 'lean/big', 3)).secret!.value).toBe('1'.repeat(60_000));
  });

  it('refuses more than 200 revealed values in one request, and more than 20 aliases', async () => {
    const team = await signUp(server, 'Greedy');
    expectOk(await server.gql('mutation($items: [SetSecretInput!]!) { setSecrets(items: $items) { ok } }', { items: Array.from({ length: 100 }, (_, i) => ({ name: `g/k${String(i).padStart(3, '0')}`, value: `v${i}` })) }, team.accessToken));
    const three = await server.gql('{ a: secrets(first: 100) { edges { node { value } } } b: secrets(first: 100) { edges { node { value } } } c: secrets(first: 100) { edges { node { value } } } }', {}, team.accessToken);
    expect(three.errors?.some((e) => e.extensions.code === 'BAD_USER_INPUT' && e.message.includes('at most 200'))).toBe(true);
    const aliases = Array.from({ length: 21 }, (_, i) => `a${i}: secret(name: "g/k000") { name }`).join(' ');
    expectCode(await server.gql(`{ ${aliases} }`, {}, team.accessToken), 'BAD_USER_INPUT');
  });
});

describe('database round trips per request', () => {
  const during = async (work: () => Promise<unknown>) => {
    const before = server.commands.length;
    await work();
    return server.commands.slice(before);
  };

  it('a repeated secret read is one lookup of the secret and one audit insert (the request budget is written in batches)', async () => {
    const team = await signUp(server, 'Frequent reader');
    await mustCreate(server, team, 'rt/db', 's3cret-value');
    expect(expectOk(await reveal(server, team, 'rt/db')).secret!.value).toBe('s3cret-value'); // warms the session check and the name lookup
    let value: string | null | undefined;
    const commands = await during(async () => {
      value = expectOk(await reveal(server, team, 'rt/db')).secret!.value;
    });
    expect(value).toBe('s3cret-value');
    expect(commands.filter((c) => c === 'find:secrets')).toHaveLength(1);
    expect(commands.filter((c) => c === 'insert:audit_events')).toHaveLength(1);
    // The per-address request budget, shared by every instance, is counted here and written in
    // batches (README "Rate limits"): none for this request, or one if it opened a new minute window.
    expect(commands.filter((c) => c === 'findAndModify:rate_limits').length).toBeLessThanOrEqual(1);
    expect(commands.length).toBeLessThanOrEqual(3);
  });

  it('a recreated secret under a remembered name is still found (the remembered id is only a hint)', async () => {
    const team = await signUp(server, 'Recreator');
    await mustCreate(server, team, 'rt/again', 'first');
    expect(expectOk(await reveal(server, team, 'rt/again')).secret!.value).toBe('first');
    expectOk(await server.gql('mutation { deleteSecret(name: "rt/again") { name } }', {}, team.accessToken));
    expectOk(await server.gql('mutation { purgeSecret(name: "rt/again") }', {}, team.accessToken));
    await mustCreate(server, team, 'rt/again', 'second');
    expect(expectOk(await reveal(server, team, 'rt/again')).secret!.value).toBe('second');
  });

  it('setSecrets of new names is one bulk insert and one audit insert, with no read of secrets', async () => {
    const team = await signUp(server, 'Bulk loader');
    const items = Array.from({ length: 30 }, (_, i) => ({ name: `rt/bulk/k${i}`, value: `v${i}` }));
    const commands = await during(async () => {
      const res = await server.gql<{ setSecrets: { ok: boolean; created: boolean }[] }>('mutation($items: [SetSecretInput!]!) { setSecrets(items: $items) { ok created } }', { items }, team.accessToken);
      expect(expectOk(res).setSecrets.every((r) => r.ok && r.created)).toBe(true);
    });
    expect(commands.filter((c) => c === 'insert:secrets')).toHaveLength(1);
    expect(commands.filter((c) => c === 'insert:audit_events')).toHaveLength(1);
    expect(commands.filter((c) => c === 'find:secrets')).toHaveLength(0);
  });

  it('a listing counts only when totalCount is asked for', async () => {
    const team = await signUp(server, 'Counter');
    await mustCreate(server, team, 'rt/count/a', 'x');
    const without = await during(async () => expectOk(await server.gql('{ secrets(first: 5) { edges { node { name } } } }', {}, team.accessToken)));
    expect(without.filter((c) => c === 'aggregate:secrets')).toHaveLength(0);
    let total = 0;
    const withCount = await during(async () => {
      total = expectOk(await server.gql<{ secrets: { totalCount: number } }>('{ secrets(first: 5) { totalCount edges { node { name } } } }', {}, team.accessToken)).secrets.totalCount;
    });
    expect(total).toBe(1);
    expect(withCount.filter((c) => c === 'aggregate:secrets')).toHaveLength(1);
  });
});

describe('bulk and import', () => {
  it('setSecrets creates and versions per item, reporting each item on its own', async () => {
    const team = await signUp(server, 'Bulk writer');
    await mustCreate(server, team, 'cfg/existing', 'old');
    const res = await server.gql<{ setSecrets: { name: string; ok: boolean; created: boolean; errorCode: string | null; secret: { version: number } | null }[] }>(
      'mutation($items: [SetSecretInput!]!) { setSecrets(items: $items) { name ok created errorCode secret { version } } }',
      {
        items: [
          { name: 'cfg/new', value: 'n' },
          { name: 'cfg/existing', value: 'newer', expectedVersion: 1 },
          { name: 'cfg/stale', value: 'x', expectedVersion: 3 },
          { name: 'bad name', value: 'x' },
        ],
      },
      team.accessToken,
    );
    expect(expectOk(res).setSecrets).toEqual([
      { name: 'cfg/new', ok: true, created: true, errorCode: null, secret: { version: 1 } },
      { name: 'cfg/existing', ok: true, created: false, errorCode: null, secret: { version: 2 } },
      { name: 'cfg/stale', ok: false, created: false, errorCode: 'CONFLICT', secret: null },
      { name: 'bad name', ok: false, created: false, errorCode: 'BAD_USER_INPUT', secret: null },
    ]);
  });

  it('importSecrets parses .env content under a prefix', async () => {
    const team = await signUp(server, 'Importer');
    const dotenv = ['# comment', 'TWILIO_TOKEN=tw-123', 'SMTP_PASSWORD="quoted pass"', 'export NOT_VALID', 'DATABASE_URL=postgres://u:p@h/db', ''].join('\n');
    const res = await server.gql<{ importSecrets: { name: string; ok: boolean }[] }>('mutation($d: String!) { importSecrets(dotenv: $d, prefix: "prod/") { name ok } }', { d: dotenv }, team.accessToken);
    const names = expectOk(res).importSecrets.filter((r) => r.ok).map((r) => r.name).sort();
    expect(names).toEqual(['prod/DATABASE_URL', 'prod/SMTP_PASSWORD', 'prod/TWILIO_TOKEN']);
    expect(expectOk(await reveal(server, team, 'prod/SMTP_PASSWORD')).secret!.value).toBe('quoted pass');
    expectCode(await server.gql('mutation { importSecrets(dotenv: "# nothing") { name } }', {}, team.accessToken), 'BAD_USER_INPUT');
  });

  it('importSecrets reports each malformed line by number, never its content, and still imports the good ones', async () => {
    const team = await signUp(server, 'Sloppy importer');
    const dotenv = [
      'GOOD_ONE=fine-value-1', // 1
      'sk_live_leaked_in_a_bad_line', // 2: no KEY=
      '# comment', // 3
      'PEM="-----BEGIN-----', // 4: multi-line value …
      'body-line-of-a-pem', // 5: … not a malformed line
      '-----END-----"', // 6
      'BAD KEY=hunter2-oops', // 7: space in the key
      '', // 8
      'GOOD_TWO: fine-value-2', // 9
    ].join('\n');
    type Item = { name: string | null; line: number | null; ok: boolean; errorCode: string | null; errorMessage: string | null; secret: { name: string } | null };
    const res = await server.gql<{ importSecrets: Item[] }>('mutation($d: String!) { importSecrets(dotenv: $d, prefix: "imp/") { name line ok errorCode errorMessage secret { name } } }', { d: dotenv }, team.accessToken);
    const items = expectOk(res).importSecrets;
    expect(items.map((i) => [i.line, i.name, i.ok, i.errorCode])).toEqual([
      [1, 'imp/GOOD_ONE', true, null],
      [2, null, false, 'BAD_USER_INPUT'],
      [4, 'imp/PEM', true, null],
      [7, null, false, 'BAD_USER_INPUT'],
      [9, 'imp/GOOD_TWO', true, null],
    ]);
    expect(items[1]!.errorMessage).toBe('dotenv line 2: not a KEY=value assignment (KEY of letters, digits, _ . -); nothing was imported from it');
    expect(items[3]!.errorMessage).toContain('line 7');
    expectNoPlaintext(JSON.stringify(res), ['sk_live_leaked', 'hunter2', 'BAD KEY'], 'the import result');
    expectNoPlaintext(server.logs.join('\n'), ['sk_live_leaked', 'hunter2'], 'the logs');
    expect(expectOk(await reveal(server, team, 'imp/PEM')).secret!.value).toBe('-----BEGIN-----\nbody-line-of-a-pem\n-----END-----');
    // Only malformed lines: a result per line, nothing written.
    const only = expectOk(await server.gql<{ importSecrets: Item[] }>('mutation { importSecrets(dotenv: "just words\\nmore words") { name line ok errorCode errorMessage secret { name } } }', {}, team.accessToken)).importSecrets;
    expect(only.map((i) => [i.line, i.ok])).toEqual([[1, false], [2, false]]);
  });
});

describe('integrity', () => {
  it('a ciphertext moved to another secret fails its integrity check instead of revealing anything', async () => {
    const a = unique('blob-a');
    const b = unique('blob-b');
    await mustCreate(server, owner, a, 'value-of-a');
    await mustCreate(server, owner, b, 'value-of-b');
    const docA = await server.db.collection('secrets').findOne({ name: a });
    await server.db.collection('secrets').updateOne({ name: b }, { $set: { 'versions.0.ciphertext': docA!.versions[0].ciphertext } });
    const res = await reveal(server, owner, b);
    expectCode(res, 'INTERNAL_SERVER_ERROR');
    expect(JSON.stringify(res)).not.toContain('value-of-a');
    expect(server.logs.some((l) => l.includes('secret.integrity_failure'))).toBe(true);
  });
});

describe('plaintext values stay secret', () => {
  it('appear in no collection, no log line and no error response', async () => {
    const team = await signUp(server, 'Scanner');
    const values = ['scan-value-alpha-7f3k', 'scan-value-beta-9q2z', 'scan-value-gamma-1x8c'];
    const errors: string[] = [];
    await mustCreate(server, team, 'scan/a', values[0]!);
    expectOk(await updateSecret(server, team, { name: 'scan/a', value: values[1] }));
    errors.push(JSON.stringify(await updateSecret(server, team, { name: 'scan/a', value: values[2], expectedVersion: 1 })));
    errors.push(JSON.stringify(await createSecret(server, team, { name: 'scan/a', value: values[2] })));
    errors.push(JSON.stringify(await createSecret(server, team, { name: 'bad name!', value: values[2] })));
    expectOk(await server.gql('mutation($d: String!) { importSecrets(dotenv: $d) { ok } }', { d: `SCAN_C=${values[2]}` }, team.accessToken));
    const user = await addMember(server, team, 'USER');
    errors.push(JSON.stringify(await updateSecret(server, user, { name: 'scan/a', value: values[2] })));
    expect(expectOk(await reveal(server, team, 'scan/a')).secret!.value).toBe(values[1]);

    const dump: string[] = [];
    for (const { name } of await server.db.listCollections().toArray()) dump.push(JSON.stringify(await server.db.collection(name).find({}).toArray()));
    expectNoPlaintext(dump.join('\n'), values, 'the database');
    expectNoPlaintext(server.logs.join(''), values, 'the logs');
    expectNoPlaintext(errors.join('\n'), values, 'an error response');
  });
});
