import { randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { Collections } from '../../db/collections.js';

export interface UserDoc {
  _id: string;
  email: string;
  passwordHash: string;
  platformAdmin: boolean;
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
      createdAt: now,
      updatedAt: now,
    };
    await this.users.insertOne(user);
    return user;
  }

  async delete(id: string): Promise<void> {
    await this.users.deleteOne({ _id: id });
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    await this.users.updateOne({ _id: id }, { $set: { passwordHash, updatedAt: new Date() } });
  }

  async setPlatformAdmin(id: string, platformAdmin: boolean): Promise<void> {
    await this.users.updateOne({ _id: id }, { $set: { platformAdmin, updatedAt: new Date() } });
  }
}
