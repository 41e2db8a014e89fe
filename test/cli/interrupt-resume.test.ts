import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, type Signed } from '../support/auth.js';
import { startServer, testEnv, type TestServer } from '../support/server.js';
import { coffer, databaseEnv, killCoffers, startCoffer, until } from './support.js';

/** A long operator command (migrate-plaintext) stopped with Ctrl-C mid-run, then run again. */
const env = testEnv();
let server: TestServer;
let owner: Signed;

beforeAll(async () => {
  server = await startServer(env);
  owner = await signUp(server, 'Interrupted Inc');
});
afterAll(async () => {
  killCoffers();
  await server?.close();
});

describe('migrate-plaintext: progress, Ctrl-C and resuming', () => {
  it('prints progress lines off a terminal, stops after the current batch on SIGINT (exit 130), and a second run continues', async () => {
    const collection = `legacy_${randomBytes(4).toString('hex')}`;
    const total = 300;
    const values = Array.from({ length: total }, (_, i) => `v${i}-${randomBytes(8).toString('hex')}`);
    await server.db.collection(collection).insertMany(values.map((value, i) => ({ key: `k${String(i).padStart(3, '0')}`, value })));
    const operatorEnv = { ...env, ...databaseEnv(server.db.databaseName), MONGODB_DB_NAME: server.db.databaseName };
    const args = ['migrate-plaintext', '--tenant', owner.tenantId, '--collection', collection, '--name-field', 'key', '--value-field', 'value', '--prefix', 'bulk/', '--batch-size', '10'];

    const first = startCoffer(args, { env: operatorEnv });
    await until(() => first.out.stderr.includes(`migrate-plaintext documents: 10/${total}\n`), 60_000, 'the first progress line');
    process.kill(first.child.pid!, 'SIGINT');
    const stopped = await first.done;
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toContain('interrupt: stopping after the current batch');
    const done = Number(/interrupted after (\d+) documents: run the same command again to continue/.exec(stopped.stdout)?.[1]);
    expect(done % 10).toBe(0);
    expect(done).toBeGreaterThanOrEqual(10);
    expect(done).toBeLessThan(total);
    expect(stopped.stdout).toContain(`scanned ${done}, created ${done}, skipped 0, failed 0`);
    // Plain progress lines (no terminal): one per batch, counting up.
    const progress = [...stopped.stderr.matchAll(/migrate-plaintext documents: (\d+)\/300\n/g)].map((m) => Number(m[1]));
    expect(progress).toEqual(Array.from({ length: done / 10 }, (_, i) => (i + 1) * 10));
    const secrets = server.db.collection('secrets');
    expect(await secrets.countDocuments({ tenantId: owner.tenantId, name: { $regex: '^bulk/' } })).toBe(done);

    const second = await coffer(args, { env: operatorEnv });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain(`scanned ${total}, created ${total - done}, skipped ${done}, failed 0`);
    expect(second.stderr).toContain(`migrate-plaintext documents: ${total}/${total}\n`);
    expect(await secrets.countDocuments({ tenantId: owner.tenantId, name: { $regex: '^bulk/' } })).toBe(total);
    for (const value of values) expect(second.stdout + second.stderr + stopped.stdout + stopped.stderr).not.toContain(value);
  }, 240_000);
});

describe('rewrap-keys: progress, Ctrl-C and resuming', () => {
  it('prints a progress line per tenant, stops between tenants on SIGINT (exit 130), and a second run moves the rest', async () => {
    for (let i = 0; i < 40; i++) await signUp(server, `Rewrap ${i}`);
    const masterKeys = `${env.VAULT_MASTER_KEYS},r2:${randomBytes(32).toString('base64')}`;
    const operatorEnv = { ...env, ...databaseEnv(server.db.databaseName), MONGODB_DB_NAME: server.db.databaseName, VAULT_MASTER_KEYS: masterKeys, VAULT_ACTIVE_MASTER_KEY: 'r2' };
    const tenants = await server.db.collection('tenant_keys').countDocuments({});
    expect(tenants).toBeGreaterThanOrEqual(41);

    const first = startCoffer(['rewrap-keys'], { env: operatorEnv });
    await until(() => first.out.stderr.includes('rewrap-keys tenants: 1\n'), 60_000, 'the first progress line');
    process.kill(first.child.pid!, 'SIGINT');
    const stopped = await first.done;
    expect(stopped.code, stopped.stderr).toBe(130);
    const done = Number(/interrupted after (\d+) tenants: run rewrap-keys again to continue/.exec(stopped.stderr)?.[1]);
    expect(done).toBeGreaterThanOrEqual(1);
    expect(done).toBeLessThan(tenants);
    const progress = [...stopped.stderr.matchAll(/rewrap-keys tenants: (\d+)\n/g)].map((m) => Number(m[1]));
    expect(progress).toEqual(Array.from({ length: done }, (_, i) => i + 1));
    // The old master key still wraps the tenants not reached.
    expect(stopped.stdout).toMatch(/t1: [1-9]\d* wrapped keys/);

    const second = await coffer(['rewrap-keys'], { env: operatorEnv });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('t1: 0 wrapped keys (unused: can be removed)');
    expect(second.stdout).toMatch(/re-wrapped [1-9]\d* platform keys|re-wrapped 0 platform keys/);
  }, 300_000);
});
