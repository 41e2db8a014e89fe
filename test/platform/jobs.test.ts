import { randomUUID } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { IntervalJob } from '../../src/jobs/interval-job.js';
import { JobLeaseRepository } from '../../src/jobs/job-lease.repository.js';
import { createLogger } from '../../src/logger.js';

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

describe('job skeleton', () => {
  it('gives a job lease to one owner at a time until it expires or is released', async () => {
    const leases = new JobLeaseRepository(db);
    const now = new Date();
    expect(await leases.acquire('sweep', 'a', 60_000, now)).toBe(true);
    expect(await leases.acquire('sweep', 'b', 60_000, now)).toBe(false);
    expect(await leases.acquire('sweep', 'a', 60_000, now)).toBe(true); // renewal
    expect(await leases.acquire('sweep', 'b', 60_000, new Date(now.getTime() + 61_000))).toBe(true); // expired
    await leases.release('sweep', 'b');
    expect(await leases.acquire('sweep', 'a', 60_000, now)).toBe(true);
  });

  it('runs a pass at start, only on the instance holding the lease, and stops cleanly', async () => {
    const leases = new JobLeaseRepository(db);
    let passes = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const pass = async () => {
      passes++;
      await gate;
    };
    const logger = createLogger('silent');
    const first = new IntervalJob({ name: 'lease-test', pass, logger, intervalMs: 3_600_000, leases });
    const second = new IntervalJob({ name: 'lease-test', pass, logger, intervalMs: 3_600_000, leases });
    first.start();
    await new Promise((resolve) => setTimeout(resolve, 200));
    second.start();
    await second.stop(); // skipped: the first holds the lease
    release();
    await first.stop();
    expect(passes).toBe(1);
  });
});
