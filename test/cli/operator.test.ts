import { randomBytes } from 'node:crypto';
import { parse } from 'dotenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { expectOk, signUp, type Signed } from '../support/auth.js';
import { startServer, testEnv, type TestServer } from '../support/server.js';
import { mustCreate } from '../support/vault.js';
import { coffer, databaseEnv, killCoffers, removeTempDirs } from './support.js';

/** Operator commands of the real bin against this file's database, with the server's keys. */
const env = testEnv();
let server: TestServer;
let owner: Signed;
let operatorEnv: Record<string, string>;

beforeAll(async () => {
  server = await startServer(env);
  owner = await signUp(server, 'Operator Co');
  operatorEnv = { ...env, ...databaseEnv(server.db.databaseName), MONGODB_DB_NAME: server.db.databaseName };
});
afterAll(async () => {
  killCoffers();
  removeTempDirs();
  await server?.close();
});

/** Every string of 16+ characters in a document, binary data as base64 and hex. */
function longStrings(value: unknown): string[] {
  if (typeof value === 'string') return value.length >= 16 && !/^[0-9a-f-]{36}$/.test(value) ? [value] : [];
  if (value && typeof value === 'object' && 'buffer' in value && (value as { buffer: unknown }).buffer instanceof Uint8Array) {
    const bytes = Buffer.from((value as { buffer: Uint8Array }).buffer);
    return bytes.length >= 12 ? [bytes.toString('base64'), bytes.toString('hex')] : [];
  }
  if (value instanceof Date || value === null || typeof value !== 'object') return [];
  return Object.values(value).flatMap(longStrings);
}

const COMMANDS = [
  'keygen',
  'bootstrap-admin',
  'create-tenant',
  'ensure-indexes',
  'key-status',
  'rewrap-keys',
  'verify-audit',
  'purge-expired',
  'migrate-plaintext',
  'login',
  'logout',
  'secrets',
  'secrets list',
  'secrets get',
  'secrets set',
  'secrets delete',
  'secrets import',
  'secrets export',
  'run',
];

describe('coffer --help and usage errors', () => {
  it('every command and subcommand has --help (stdout, exit 0) naming its usage, the npm run cli alias and the exit statuses', async () => {
    const root = await coffer(['--help']);
    expect(root.code).toBe(0);
    for (const name of COMMANDS.filter((c) => !c.includes(' '))) expect(root.stdout).toContain(`  ${name}`);
    const results = await Promise.all(COMMANDS.map((c) => coffer([...c.split(' '), '--help'])));
    for (const [i, result] of results.entries()) {
      expect(result.code, `${COMMANDS[i]}: ${result.stderr}`).toBe(0);
      expect(result.stdout).toContain(`Usage: coffer ${COMMANDS[i]}`);
      expect(result.stdout).toContain(`Usage: npm run cli -- ${COMMANDS[i]}`);
      expect(result.stdout).toContain('Exit status: 0 done, 1 failed, 2 usage error, 130 interrupted');
    }
  }, 120_000);

  it('npx coffer --help works from the repository (the package bin, no build step)', async () => {
    const { spawnSync } = await import('node:child_process');
    const { ROOT } = await import('../support/processes.js');
    const result = spawnSync('npx', ['--no-install', 'coffer', '--help'], { cwd: ROOT, encoding: 'utf8', env: process.env, timeout: 60_000 });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('Usage: coffer [options] [command]');
    expect(result.stdout).toContain('verify-audit');
  }, 90_000);

  it('an unknown command, an unknown option, a missing argument or a bad choice exits 2 with the help on stderr', async () => {
    const [command, option, argument, choice, group] = await Promise.all([
      coffer(['frobnicate']),
      coffer(['keygen', '--length', '3']),
      coffer(['secrets', 'get']),
      coffer(['secrets', 'export', '--format', 'yaml']),
      coffer(['secrets']),
    ]);
    for (const result of [command, option, argument, choice, group]) {
      expect(result.code, result.stderr).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain('Usage: coffer');
    }
    expect(command.stderr).toContain("Unknown command 'frobnicate'");
    expect(option.stderr).toContain("Unknown option '--length'");
    expect(argument.stderr).toContain("Missing required argument 'name'");
    expect(choice.stderr).toContain('Allowed choices are dotenv, json');
  }, 60_000);
});

describe('keygen', () => {
  it('prints the three key lines in the format config reads back, fresh each time, and nothing else', async () => {
    const [first, second] = await Promise.all([coffer(['keygen', '--id', 'prod-2026']), coffer(['keygen'])]);
    expect(first.code, first.stderr).toBe(0);
    const lines = first.stdout.trimEnd().split('\n');
    expect(lines.map((l) => l.slice(0, l.indexOf('=')))).toEqual(['VAULT_MASTER_KEYS', 'VAULT_ACTIVE_MASTER_KEY', 'JWT_PRIVATE_KEY']);
    // As a .env file (dotenv, like the server reads it) fed back to the server's configuration.
    const parsed = parse(first.stdout);
    const warnings: string[] = [];
    const config = loadConfig({ NODE_ENV: 'test', ...parsed }, { warn: (line) => warnings.push(line) });
    expect(config.vault.activeMasterKeyId).toBe('prod-2026');
    expect(config.vault.masterKeys.map((k) => [k.id, k.key.length])).toEqual([['prod-2026', 32]]);
    expect(config.jwt.privateKey.asymmetricKeyType).toBe('ed25519');
    expect(warnings.join('\n')).not.toMatch(/development keys/);
    // Production accepts them too (no development keys there).
    const production = loadConfig({ NODE_ENV: 'production', MONGODB_URI: 'mongodb://db.example:27017', ...parsed }, { warn: () => {} });
    expect(production.vault.activeMasterKeyId).toBe('prod-2026');
    // The default id is k<date>; every run makes new keys.
    expect(second.code).toBe(0);
    expect(parse(second.stdout).VAULT_ACTIVE_MASTER_KEY).toMatch(/^k\d{8}$/);
    expect(parse(second.stdout).VAULT_MASTER_KEYS!.split(':')[1]).not.toBe(parsed.VAULT_MASTER_KEYS!.split(':')[1]);
    expect(parse(second.stdout).JWT_PRIVATE_KEY).not.toBe(parsed.JWT_PRIVATE_KEY);
    const bad = await coffer(['keygen', '--id', 'no spaces']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--id must be 1-32 letters, digits, _ or -');
  }, 60_000);
});

describe('ensure-indexes', () => {
  it("creates every module's indexes on an empty database and lists them (exit 0); again changes nothing", async () => {
    const dbName = `t_idx_${randomBytes(4).toString('hex')}`;
    const fresh = { ...env, ...databaseEnv(dbName), MONGODB_DB_NAME: dbName };
    const db = server.db.client.db(dbName);
    try {
      const run = await coffer(['ensure-indexes'], { env: fresh });
      expect(run.code, run.stderr).toBe(0);
      const head = /^ensured (\d+) indexes on database "(\w+)"/.exec(run.stdout);
      expect(head?.[2]).toBe(dbName);
      const listed = run.stdout.trimEnd().split('\n').slice(1);
      expect(listed).toHaveLength(Number(head![1]));
      expect(listed.some((l) => l.startsWith('  secrets: '))).toBe(true);
      expect(listed.some((l) => l.startsWith('  audit_events: ') && l.endsWith(' unique'))).toBe(true);
      // Every listed index exists in the database.
      for (const line of listed) {
        const [, collection, name] = /^ {2}(\w+): (\S+) /.exec(line)!;
        const names = (await db.collection(collection!).indexes()).map((i) => i.name);
        expect(names, line).toContain(name);
      }
      const again = await coffer(['ensure-indexes'], { env: fresh });
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toBe(run.stdout.replace(dbName, dbName));
    } finally {
      await db.dropDatabase().catch(() => {});
    }
  }, 120_000);
});

describe('key-status', () => {
  it('lists master keys with the keys each wraps (tenant and platform) and running re-encryptions, without key material', async () => {
    const keys = server.db.collection<{ _id: string; tenantId: string }>('tenant_keys');
    const idle = await coffer(['key-status'], { env: operatorEnv });
    expect(idle.code, idle.stderr).toBe(0);
    expect(idle.stdout).toMatch(/^active master key: t1\n {2}t1: [1-9]\d* keys wrapped \(tenant and platform keys\) \(active\)\nre-encryption pending: 0 tenants\n$/);

    // A rotation in progress (as a server left it) is listed with its progress.
    const doc = (await keys.findOne({ tenantId: owner.tenantId }))!;
    await keys.updateOne({ _id: doc._id }, { $set: { 'reencryption.state': 'RUNNING', 'reencryption.targetVersion': 2, 'reencryption.done': 3, 'reencryption.total': 10 } });
    try {
      const running = await coffer(['key-status'], { env: operatorEnv });
      expect(running.code, running.stderr).toBe(0);
      expect(running.stdout).toContain('re-encryption pending: 1 tenant\n');
      expect(running.stdout).toContain(`  ${owner.tenantId} (Operator Co): to DEK version 2, 3/10 done`);
      // Neither the master key nor any long string of the stored key document (wrapped keys, nonces, tags).
      const material = [env.VAULT_MASTER_KEYS!.split(':')[1]!, ...longStrings(doc)];
      expect(material.length).toBeGreaterThan(3);
      for (const m of material) expect(running.stdout + running.stderr).not.toContain(m);
    } finally {
      await keys.updateOne({ _id: doc._id }, { $set: { 'reencryption.state': 'IDLE' } });
    }
  }, 60_000);
});

describe('purge-expired', () => {
  it('purges soft-deleted secrets past the recovery window now, audited, and leaves younger ones', async () => {
    await mustCreate(server, owner, 'purge/old', 'old-value-1');
    await mustCreate(server, owner, 'purge/young', 'young-value-1');
    for (const name of ['purge/old', 'purge/young']) {
      expectOk(await server.gql('mutation($name: String!) { deleteSecret(name: $name) { name } }', { name }, owner.accessToken));
    }
    const secrets = server.db.collection('secrets');
    await secrets.updateOne({ tenantId: owner.tenantId, name: 'purge/old' }, { $set: { deletedAt: new Date(Date.now() - 60 * 86_400_000) } });
    const run = await coffer(['purge-expired'], { env: operatorEnv });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^purged 1 secrets past their recovery window; removed \d+ ended sessions, \d+ used or expired invitations, \d+ expired consent-link marks, \d+ expired login challenges\n$/);
    expect(await secrets.countDocuments({ tenantId: owner.tenantId, name: 'purge/old' })).toBe(0);
    expect(await secrets.countDocuments({ tenantId: owner.tenantId, name: 'purge/young' })).toBe(1);
    const event = await server.db.collection('audit_events').findOne({ tenantId: owner.tenantId, action: 'secret.purged' });
    expect(event).toMatchObject({ actor: { type: 'SYSTEM', id: 'secret-purge' }, details: { name: 'purge/old' } });
    const again = await coffer(['purge-expired'], { env: operatorEnv });
    expect(again.stdout).toMatch(/^purged 0 secrets/);
  }, 60_000);
});

// Last: it breaks a chain (of a tenant of its own).
describe('verify-audit', () => {
  it('verifies every chain (exit 0); a tampered event makes it exit 1 naming the chain and the seq', async () => {
    const victim = await signUp(server, 'Tampered Ltd');
    await mustCreate(server, victim, 'audit/probe', 'probe-value-1');
    const all = await coffer(['verify-audit'], { env: operatorEnv });
    expect(all.code, all.stderr + all.stdout).toBe(0);
    expect(all.stdout).toMatch(/^\d+ chains intact, \d+ events verified\n/);
    expect(all.stdout).toMatch(/\nok {5}platform: \d+ events\n/);
    expect(all.stdout).toMatch(new RegExp(`\\nok {5}tenant ${victim.tenantId} \\(Tampered Ltd\\): [1-9]\\d* events\\n`));
    expect(all.stdout).toContain(`tenant ${owner.tenantId} (Operator Co)`);

    const one = await coffer(['verify-audit', '--tenant', victim.tenantId], { env: operatorEnv });
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/^1 chains intact/);
    expect(one.stdout).not.toContain(owner.tenantId);

    // Someone with database access edits the second event of the victim's chain.
    const events = server.db.collection('audit_events');
    await events.updateOne({ tenantId: victim.tenantId, seq: 2 }, { $set: { 'actor.id': 'someone-else' } });
    const broken = await coffer(['verify-audit'], { env: operatorEnv });
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/^1 of \d+ chains BROKEN/);
    expect(broken.stdout).toContain(`BROKEN tenant ${victim.tenantId} (Tampered Ltd): first invalid seq 2 (1 events verified before it)`);
    expect(broken.stdout).toContain(`ok     tenant ${owner.tenantId} (Operator Co)`);
    const brokenOne = await coffer(['verify-audit', '--tenant', victim.tenantId], { env: operatorEnv });
    expect(brokenOne.code).toBe(1);
    expect(brokenOne.stdout).toContain('first invalid seq 2');

    const platform = await coffer(['verify-audit', '--tenant', 'platform'], { env: operatorEnv });
    expect(platform.code, platform.stderr).toBe(0);
    expect(platform.stdout).toMatch(/\nok {5}platform: /);
    const unknown = await coffer(['verify-audit', '--tenant', 'no-such-tenant'], { env: operatorEnv });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('tenant "no-such-tenant" not found');
  }, 120_000);
});
