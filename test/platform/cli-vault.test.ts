import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectOk, signUp, type Signed } from '../support/auth.js';
import { startServer, testEnv, type TestServer } from '../support/server.js';
import { expectNoPlaintext, mustCreate, reveal } from '../support/vault.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** One environment for the server and the CLI: they must share VAULT_MASTER_KEYS (and the JWT key). */
const env = testEnv();
let server: TestServer;
let owner: Signed;
/** Every secret value this file writes, by name; the rewrap test reveals them all. */
const known = new Map<string, string>();

beforeAll(async () => {
  server = await startServer(env);
  owner = await signUp(server, 'Legacy Co');
});
afterAll(async () => server?.close());

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI (`npm run cli -- …`) against this file's database. */
function runCli(args: string[], cliEnv: Record<string, string> = env): Promise<CliResult> {
  const dbName = server.db.databaseName;
  const uri = inject('mongoUri').replace(/\/[^/?]*(\?|$)/, `/${dbName}$1`);
  return new Promise((resolve) => {
    const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['src/cli/index.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...cliEnv, MONGODB_URI: uri, MONGODB_DB_NAME: dbName },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const plaintext = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;
const legacyCollection = () => `legacy_${randomBytes(4).toString('hex')}`;

async function seed(collection: string, docs: Record<string, unknown>[]): Promise<ObjectId[]> {
  const { insertedIds } = await server.db.collection(collection).insertMany(docs.map((d) => ({ ...d })));
  return docs.map((_, i) => insertedIds[i] as ObjectId);
}

const sourceDoc = (collection: string, id: ObjectId) => server.db.collection(collection).findOne({ _id: id });
const revealed = async (name: string) => expectOk(await reveal(server, owner, name)).secret?.value ?? null;
const auditCount = () => server.db.collection('audit_events').countDocuments({ tenantId: owner.tenantId });

describe('migrate-plaintext', () => {
  const collection = legacyCollection();
  const values = {
    twilio: plaintext('AC'),
    stripe: plaintext('sk_live'),
    sendgrid: plaintext('SG'),
    invalid: plaintext('bad'),
    existingOld: plaintext('already-in-vault'),
    existingNew: plaintext('legacy-copy'),
  };
  const all = Object.values(values);
  let ids: ObjectId[];

  it('encrypts a legacy collection: creates, skips existing names, reports bad documents by _id, unsets only migrated ones', async () => {
    await mustCreate(server, owner, 'legacy/existing', values.existingOld);
    known.set('legacy/existing', values.existingOld);
    ids = await seed(collection, [
      { service: 'twilio', token: values.twilio, team: 'comms' },
      { service: 'stripe', token: values.stripe },
      { service: 'sendgrid', token: values.sendgrid },
      { service: 'has space', token: values.invalid },
      { service: 'existing', token: values.existingNew },
    ]);
    const createdBefore = await server.db.collection('audit_events').countDocuments({ tenantId: owner.tenantId, action: 'secret.created' });

    const run = await runCli(['migrate-plaintext', '--tenant', owner.tenantId, '--collection', collection, '--name-field', 'service', '--value-field', 'token', '--prefix', 'legacy/', '--unset']);
    expectNoPlaintext(run.stdout + run.stderr, all, 'CLI output');
    expect(run.code, run.stderr).toBe(1); // a document failed
    expect(run.stdout).toContain('scanned 5, created 3, skipped 1, failed 1, unset 3');
    expect(run.stdout).toContain(`failed ${ids[3]!.toHexString()}: name:`);
    expect(run.stdout).toContain(`kept ${ids[4]!.toHexString()}: plaintext kept: an existing secret of this name holds a different value`);

    for (const [service, value] of [['twilio', values.twilio], ['stripe', values.stripe], ['sendgrid', values.sendgrid]] as const) {
      expect(await revealed(`legacy/${service}`)).toBe(value);
      known.set(`legacy/${service}`, value);
    }
    expect(await revealed('legacy/existing')).toBe(values.existingOld); // never overwritten
    expect(await revealed('legacy/has space').catch(() => null)).toBeNull();

    // Migrated documents lost only their value field; the failed and the skipped ones keep theirs.
    expect(await sourceDoc(collection, ids[0]!)).toEqual({ _id: ids[0], service: 'twilio', team: 'comms' });
    for (const i of [1, 2]) expect(await sourceDoc(collection, ids[i]!)).not.toHaveProperty('token');
    expect((await sourceDoc(collection, ids[3]!))?.token).toBe(values.invalid);
    expect((await sourceDoc(collection, ids[4]!))?.token).toBe(values.existingNew);

    // Stored encrypted, written and audited as the SYSTEM actor.
    expectNoPlaintext(JSON.stringify(await server.db.collection('secrets').find({ tenantId: owner.tenantId }).toArray()), all, 'secrets collection');
    const created = await server.db.collection('audit_events').find({ tenantId: owner.tenantId, action: 'secret.created' }).toArray();
    expect(created.length - createdBefore).toBe(3);
    expect(created.filter((e) => e.actor.type === 'SYSTEM' && e.actor.id === 'cli:migrate-plaintext')).toHaveLength(3);
    expectNoPlaintext(JSON.stringify(await server.db.collection('audit_events').find({}).toArray()), all, 'audit log');
  }, 120_000);

  it('is idempotent: a second run creates nothing and changes nothing', async () => {
    const secretsBefore = await server.db.collection('secrets').find({ tenantId: owner.tenantId }).toArray();
    const sourceBefore = await server.db.collection(collection).find({}).sort({ _id: 1 }).toArray();
    const run = await runCli(['migrate-plaintext', '--tenant', owner.tenantId, '--collection', collection, '--name-field', 'service', '--value-field', 'token', '--prefix', 'legacy/', '--unset']);
    expectNoPlaintext(run.stdout + run.stderr, all, 'CLI output');
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toContain('scanned 5, created 0, skipped 4, failed 1, unset 0');
    expect(await server.db.collection('secrets').find({ tenantId: owner.tenantId }).toArray()).toEqual(secretsBefore);
    expect(await server.db.collection(collection).find({}).sort({ _id: 1 }).toArray()).toEqual(sourceBefore);
    expect(await revealed('legacy/twilio')).toBe(values.twilio);
  }, 120_000);

  it('--unset also clears documents whose secret exists with the same value; --filter limits the documents', async () => {
    const source = legacyCollection();
    const same = plaintext('same');
    const dev = plaintext('dev');
    await mustCreate(server, owner, 'filtered/api', same);
    known.set('filtered/api', same);
    const [prodId, devId] = await seed(source, [
      { key: 'api', secret: same, env: 'prod' },
      { key: 'worker', secret: dev, env: 'dev' },
    ]);
    const run = await runCli(['migrate-plaintext', '--tenant', owner.tenantId, '--collection', source, '--name-field', 'key', '--value-field', 'secret', '--prefix', 'filtered/', '--filter', '{"env":"prod"}', '--unset']);
    expectNoPlaintext(run.stdout + run.stderr, [same, dev], 'CLI output');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('scanned 1, created 0, skipped 1, failed 0, unset 1');
    expect(await sourceDoc(source, prodId!)).toEqual({ _id: prodId, key: 'api', env: 'prod' });
    expect((await sourceDoc(source, devId!))?.secret).toBe(dev);
    expect(await revealed('filtered/worker')).toBeNull();
  }, 120_000);

  it('--dry-run reports what it would do and writes nothing', async () => {
    const source = legacyCollection();
    const a = plaintext('dry-a');
    const b = plaintext('dry-b');
    const ids = await seed(source, [
      { name: 'one', value: a },
      { name: 'two', value: b },
      { name: '../escape', value: b },
    ]);
    const secrets = await server.db.collection('secrets').countDocuments();
    const audit = await auditCount();
    const before = await server.db.collection(source).find({}).sort({ _id: 1 }).toArray();
    const run = await runCli(['migrate-plaintext', '--tenant', owner.tenantId, '--collection', source, '--name-field', 'name', '--value-field', 'value', '--prefix', 'dry/', '--unset', '--dry-run']);
    expectNoPlaintext(run.stdout + run.stderr, [a, b], 'CLI output');
    expect(run.stdout).toContain('dry run (nothing written)');
    expect(run.stdout).toContain('scanned 3, created 2, skipped 0, failed 1, unset 0');
    expect(run.stdout).toContain(`failed ${ids[2]!.toHexString()}`);
    expect(await server.db.collection('secrets').countDocuments()).toBe(secrets);
    expect(await auditCount()).toBe(audit);
    expect(await server.db.collection(source).find({}).sort({ _id: 1 }).toArray()).toEqual(before);
    expect(await revealed('dry/one')).toBeNull();
  }, 120_000);

  it('refuses an unknown tenant, a missing collection, missing or unknown options and bad --filter', async () => {
    const source = legacyCollection();
    const value = plaintext('unknown-tenant');
    await seed(source, [{ name: 'x', value }]);
    const base = ['--collection', source, '--name-field', 'name', '--value-field', 'value'];

    const unknown = await runCli(['migrate-plaintext', '--tenant', 'no-such-tenant', ...base, '--unset']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('tenant "no-such-tenant" not found');
    expectNoPlaintext(unknown.stdout + unknown.stderr, [value], 'CLI output');
    expect((await server.db.collection(source).findOne({ name: 'x' }))?.value).toBe(value);

    const noCollection = await runCli(['migrate-plaintext', '--tenant', owner.tenantId, '--collection', 'nope_missing', '--name-field', 'n', '--value-field', 'v']);
    expect(noCollection.code).toBe(1);
    expect(noCollection.stderr).toContain('collection "nope_missing" not found');

    const own = await runCli(['migrate-plaintext', '--tenant', owner.tenantId, '--collection', 'secrets', '--name-field', 'name', '--value-field', 'versions']);
    expect(own.code).toBe(2);
    expect(own.stderr).toContain("Coffer's own collections");

    const missing = await runCli(['migrate-plaintext', '--tenant', owner.tenantId, '--collection', source, '--name-field', 'name']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--value-field is required');
    expect(missing.stderr).toContain('Usage: npm run cli');

    const extra = await runCli(['migrate-plaintext', '--tenant', owner.tenantId, ...base, '--overwrite']);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain("Unknown option '--overwrite'");

    const badFilter = await runCli(['migrate-plaintext', '--tenant', owner.tenantId, ...base, '--filter', '{env: prod}']);
    expect(badFilter.code).toBe(2);
    expect(badFilter.stderr).toContain('--filter is not valid JSON');

    const help = await runCli(['migrate-plaintext', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('rewrap-keys');
    expect(help.stdout).toContain('--dry-run');
  }, 120_000);
});

// Last in the file: the second server's close() drops this file's database.
describe('rewrap-keys', () => {
  it('moves every wrapped key to the new active master key; a server without the old key still reveals everything', async () => {
    const extra = plaintext('before-rewrap');
    await mustCreate(server, owner, 'rewrap/probe', extra);
    known.set('rewrap/probe', extra);
    const oldKey = env.VAULT_MASTER_KEYS!.replace(/^t1:/, '');
    const newKey = randomBytes(32).toString('base64');
    const rotated = { ...env, VAULT_MASTER_KEYS: `new:${newKey},t1:${oldKey}`, VAULT_ACTIVE_MASTER_KEY: 'new' };

    const run = await runCli(['rewrap-keys'], rotated);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/re-wrapped [1-9]\d* keys across [1-9]\d* tenants under master key "new"/);
    expect(run.stdout).toMatch(/ {2}new: [1-9]\d* wrapped keys \(active\)/);
    expect(run.stdout).toContain('  t1: 0 wrapped keys (unused: can be removed)');
    expectNoPlaintext(run.stdout + run.stderr, [...known.values(), oldKey, newKey], 'CLI output');
    const events = await server.db.collection('audit_events').find({ tenantId: owner.tenantId, action: 'key.master_rewrapped' }).toArray();
    expect(events.map((e) => e.actor)).toEqual([{ type: 'SYSTEM', id: 'cli:rewrap-keys' }]);

    const again = await runCli(['rewrap-keys'], rotated);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^re-wrapped 0 keys/);

    const usage = await runCli(['rewrap-keys', '--force'], rotated);
    expect(usage.code).toBe(2);

    // The old master key is gone from this server's keyring entirely.
    const newOnly = await startServer({ ...env, VAULT_MASTER_KEYS: `new:${newKey}`, VAULT_ACTIVE_MASTER_KEY: 'new' }, server.db.databaseName);
    try {
      const live = await server.db.collection('secrets').find({ tenantId: owner.tenantId, deletedAt: null }).toArray();
      expect(live.length).toBeGreaterThanOrEqual(known.size);
      for (const doc of live) {
        const value = expectOk(await reveal(newOnly, owner, String(doc.name))).secret?.value;
        expect(value, String(doc.name)).toEqual(known.get(String(doc.name)));
      }
    } finally {
      await newOnly.close();
    }
  }, 180_000);
});
