import type { Collection, Db } from 'mongodb';
import { isDuplicateKey } from '../db/mongo-errors.js';

export const JOB_LEASES_COLLECTION = 'job_leases';

interface JobLeaseDoc {
  _id: string;
  owner: string;
  until: Date;
}

/**
 * Leases of background jobs, one document per job: whoever holds an unexpired lease runs
 * the job's pass; the others skip it. Single-document atomic updates only (FerretDB v1).
 */
export class JobLeaseRepository {
  private readonly leases: Collection<JobLeaseDoc>;

  constructor(db: Db) {
    this.leases = db.collection<JobLeaseDoc>(JOB_LEASES_COLLECTION);
  }

  /** Takes (or renews) the lease of `job` for `ms` unless another owner holds it; whether we hold it now. */
  async acquire(job: string, owner: string, ms: number, now = new Date()): Promise<boolean> {
    try {
      const doc = await this.leases.findOneAndUpdate(
        { _id: job, $or: [{ owner }, { until: { $lte: now } }] },
        { $set: { owner, until: new Date(now.getTime() + ms) } },
        { upsert: true, returnDocument: 'after' },
      );
      return doc?.owner === owner;
    } catch (error) {
      if (isDuplicateKey(error)) return false; // held by another owner: the upsert collided with its document
      throw error;
    }
  }

  /** Gives the lease up early (only if we still hold it). */
  async release(job: string, owner: string): Promise<void> {
    await this.leases.updateOne({ _id: job, owner }, { $set: { until: new Date(0) } });
  }
}
