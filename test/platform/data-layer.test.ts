import { randomUUID } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { ensureIndexes } from '../../src/modules/index.js';
import { TenantScope, type TenantDocument } from '../../src/db/tenant-scope.js';

interface Note extends TenantDocument {
  text: string;
}

let client: MongoClient;
let db: Db;
beforeAll(async () => {
  client = new MongoClient(inject('mongoUri'));
  await client.connect();
  db = client.db(`t_${randomUUID().slice(0, 8)}`);
});
afterAll(async () => {
  await db.dropDatabase().catch(() => {});
  await client.close();
});

describe('tenant scope', () => {
  it('adds tenantId to every insert and filter, so one tenant never sees another\'s documents', async () => {
    const a = new TenantScope(db, 'tenant-a').collection<Note>('notes');
    const b = new TenantScope(db, 'tenant-b').collection<Note>('notes');
    await a.insertOne({ _id: 'n1', text: 'alpha' });
    await b.insertOne({ _id: 'n2', text: 'beta' });
    expect(await db.collection('notes').findOne({ _id: 'n1' as never })).toMatchObject({ tenantId: 'tenant-a' });
    expect(await a.findOne({ _id: 'n2' })).toBeNull();
    expect((await a.find({}).toArray()).map((n) => n._id)).toEqual(['n1']);
    expect((await b.updateOne({ _id: 'n1' }, { $set: { text: 'hijacked' } })).matchedCount).toBe(0);
    expect((await b.deleteOne({ _id: 'n1' })).deletedCount).toBe(0);
    expect(await b.countDocuments({})).toBe(1);
    expect((await a.findOne({ _id: 'n1' }))?.text).toBe('alpha');
  });

  it('refuses a filter that names tenantId, and an update that would move a document', async () => {
    const a = new TenantScope(db, 'tenant-a').collection<Note>('notes');
    expect(() => a.findOne({ tenantId: 'tenant-b' } as never)).toThrow(/must not name tenantId/);
    expect(() => a.updateOne({ _id: 'n1' }, { $set: { tenantId: 'tenant-b' } as never })).toThrow(/must not change tenantId/);
    expect(() => a.updateOne({ _id: 'n1' }, { $unset: { tenantId: '' } as never })).toThrow(/must not change tenantId/);
    expect(() => a.updateOne({ _id: 'n1' }, { $rename: { text: 'tenantId' } as never })).toThrow(/must not change tenantId/);
    expect(() => a.updateOne({ _id: 'n1' }, [{ $set: { tenantId: 'tenant-b' } }] as never)).toThrow(/pipelines/);
    expect(() => a.updateOne({ _id: 'n1' }, { tenantId: 'tenant-b' } as never)).toThrow(/update operators/);
    await expect(a.insertOne({ _id: 'n3', text: 'x', tenantId: 'tenant-b' } as never)).resolves.toMatchObject({ tenantId: 'tenant-a' });
  });

  it('cannot be made without a tenant id', () => {
    expect(() => new TenantScope(db, '')).toThrow();
  });
});

describe('indexes', () => {
  it('can be ensured on every start (twice in a row on the same database)', async () => {
    await ensureIndexes(db);
    await ensureIndexes(db);
    const names = (await db.collection('memberships').listIndexes().toArray()).map((i) => i.name);
    expect(names).toEqual(expect.arrayContaining(['tenant_user_unique', 'tenant_role', 'user']));
  });

  it('rejects a second account with the same email at the database level', async () => {
    await ensureIndexes(db);
    await db.collection('users').insertOne({ _id: randomUUID() as never, email: 'dup@example.com' });
    await expect(db.collection('users').insertOne({ _id: randomUUID() as never, email: 'dup@example.com' })).rejects.toMatchObject({ code: 11000 });
  });
});

describe('housekeeping', () => {
  it('removes sessions and invitations that ended more than 30 days ago, used confirmation-link marks over an hour past their expiry, and nothing live', async () => {
    const { HousekeepingJob } = await import('../../src/jobs/housekeeping.job.js');
    const { createLogger } = await import('../../src/logger.js');
    const old = new Date(Date.now() - 40 * 86_400_000);
    const soon = new Date(Date.now() + 86_400_000);
    await db.collection('sessions').insertMany([
      { _id: 's-expired' as never, expiresAt: old, revokedAt: null },
      { _id: 's-revoked' as never, expiresAt: soon, revokedAt: old },
      { _id: 's-live' as never, expiresAt: soon, revokedAt: null },
      { _id: 's-just-revoked' as never, expiresAt: soon, revokedAt: new Date() },
    ]);
    await db.collection('invitations').insertMany([
      { _id: 'i-expired' as never, tenantId: 't', expiresAt: old, acceptedAt: null },
      { _id: 'i-accepted' as never, tenantId: 't', expiresAt: soon, acceptedAt: old },
      { _id: 'i-pending' as never, tenantId: 't', expiresAt: soon, acceptedAt: null },
    ]);
    const hourAgo = new Date(Date.now() - 3_600_000 - 1000);
    await db.collection('consent_used_links').insertMany([
      { _id: 'confirm:t:expired-long-ago' as never, tenantId: 't', usedAt: old, expiresAt: old },
      { _id: 'confirm:t2:expired-over-an-hour' as never, tenantId: 't2', usedAt: old, expiresAt: hourAgo },
      { _id: 'confirm:t:expired-just-now' as never, tenantId: 't', usedAt: old, expiresAt: new Date(Date.now() - 1000) },
      { _id: 'confirm:t:live' as never, tenantId: 't', usedAt: new Date(), expiresAt: soon },
    ]);
    const removed = await new HousekeepingJob({ db, logger: createLogger('silent') }).sweep();
    expect(removed).toEqual({ sessions: 2, invitations: 2, usedLinks: 2, loginChallenges: 0 });
    // A mark stays while its token could still be accepted (and an hour after its expiry, for clock differences).
    expect((await db.collection('consent_used_links').find({}).toArray()).map((m) => m._id).sort()).toEqual(['confirm:t:expired-just-now', 'confirm:t:live']);
    expect((await db.collection('sessions').find({}).toArray()).map((s) => s._id).sort()).toEqual(['s-just-revoked', 's-live']);
    expect((await db.collection('invitations').find({}).toArray()).map((s) => s._id)).toEqual(['i-pending']);
  });
});
