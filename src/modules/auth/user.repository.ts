import { randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { Collections } from '../../db/collections.js';

export interface UserDoc {
  _id: string;
  email: string;
  passwordHash: string;
  platformAdmin: boolean;
  failedLogins: number;
  lockedUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Users are global: one account may belong to several tenants. */
export class UserRepository {
  private readonly users: Collection<UserDoc>;

  constructor(db: Db) {
    this.users = db.collection<UserDoc>(Collections.users);
  }

  findByEmail(email: string) {
    return this.users.findOne({ email });
  }

  findById(id: string) {
    return this.users.findOne({ _id: id });
  }

  findManyByIds(ids: string[]) {
    return this.users.find({ _id: { $in: ids } }).toArray();
  }

  /** Inserts a user; throws a duplicate-key error (see isDuplicateKey) when the email is taken. */
  async create(email: string, passwordHash: string, platformAdmin = false): Promise<UserDoc> {
    const now = new Date();
    const user: UserDoc = {
      _id: randomUUID(),
      email,
      passwordHash,
      platformAdmin,
      failedLogins: 0,
      lockedUntil: null,
      createdAt: now,
      updatedAt: now,
    };
    await this.users.insertOne(user);
    return user;
  }

  async delete(id: string): Promise<void> {
    await this.users.deleteOne({ _id: id });
  }

  /** Counts one more failed login; returns the new count. */
  async recordFailedLogin(id: string): Promise<number> {
    const user = await this.users.findOneAndUpdate(
      { _id: id },
      { $inc: { failedLogins: 1 } },
      { returnDocument: 'after' },
    );
    return user?.failedLogins ?? 0;
  }

  /** Locks the account if it still has at least `failures` failed logins; true if this call locked it. */
  async lock(id: string, failures: number, until: Date): Promise<boolean> {
    const result = await this.users.updateOne(
      { _id: id, failedLogins: { $gte: failures } },
      { $set: { lockedUntil: until, failedLogins: 0, updatedAt: new Date() } },
    );
    return result.modifiedCount === 1;
  }

  async recordSuccessfulLogin(id: string): Promise<void> {
    await this.users.updateOne({ _id: id }, { $set: { failedLogins: 0, lockedUntil: null } });
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    await this.users.updateOne({ _id: id }, { $set: { passwordHash, updatedAt: new Date() } });
  }

  async setPlatformAdmin(id: string, platformAdmin: boolean): Promise<void> {
    await this.users.updateOne({ _id: id }, { $set: { platformAdmin, updatedAt: new Date() } });
  }
}
