import type { Db } from 'mongodb';
import type { Config } from '../config.js';
import { ensureIndexes } from '../modules/index.js';
import { normaliseEmail, passwordProblem } from '../modules/auth/password-policy.js';
import { PasswordHasher } from '../modules/auth/passwords.js';
import { isDuplicateKey } from '../db/mongo-errors.js';
import { UserRepository } from '../modules/auth/user.repository.js';

export interface BootstrapResult {
  userId: string;
  created: boolean;
}

/**
 * Makes `email` a platform administrator: an existing account is promoted
 * (its password is untouched); otherwise an account is created with `password`.
 */
export async function bootstrapAdmin(db: Db, config: Config, email: string, readPassword: () => Promise<string>): Promise<BootstrapResult> {
  await ensureIndexes(db);
  const users = new UserRepository(db);
  const normalised = normaliseEmail(email);
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(normalised)) throw new Error('--email must be an email address');
  const existing = await users.findByEmail(normalised);
  if (existing) {
    await users.setPlatformAdmin(existing._id, true);
    return { userId: existing._id, created: false };
  }
  const password = await readPassword();
  const problem = passwordProblem(password, normalised);
  if (problem) throw new Error(`password ${problem}`);
  const hash = await new PasswordHasher(config.passwords).hash(password);
  try {
    const user = await users.create(normalised, hash, true);
    return { userId: user._id, created: true };
  } catch (error) {
    if (isDuplicateKey(error)) throw new Error('that email was registered meanwhile; run the command again to promote it');
    throw error;
  }
}
