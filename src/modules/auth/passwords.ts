import { hash, verify } from '@node-rs/argon2';

/** @node-rs/argon2's Algorithm.Argon2id (a const enum, which isolatedModules cannot import). */
const ARGON2ID = 2;
import { availableParallelism } from 'node:os';
import { randomToken } from '../../crypto/random.js';

export interface PasswordHashingOptions {
  memoryCostKiB: number;
  timeCost: number;
  parallelism: number;
}

/**
 * At most `slots` tasks at once; the rest wait in order. argon2 runs on libuv's thread
 * pool (4 threads), off the event loop but not off its cores: on a 2-core machine, 10
 * logins at once would take every core from the requests being served. Keeping one core
 * free of hashing bounds what logins cost everyone else.
 */
class Gate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly slots: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.slots) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running += 1;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next(); // the slot passes straight to the next waiter
      else this.running -= 1;
    }
  }
}

/** Hashes in flight at once: every core but one (at least one). */
const HASHING_SLOTS = Math.max(1, availableParallelism() - 1);

/** argon2id hashing; the dummy hash lets a login for an unknown email cost the same as a real one. */
export class PasswordHasher {
  private dummyHash: Promise<string> | undefined;
  private readonly gate = new Gate(HASHING_SLOTS);

  constructor(private readonly options: PasswordHashingOptions) {}

  hash(password: string): Promise<string> {
    return this.gate.run(() =>
      hash(password, {
        algorithm: ARGON2ID,
        memoryCost: this.options.memoryCostKiB,
        timeCost: this.options.timeCost,
        parallelism: this.options.parallelism,
      }),
    );
  }

  async verify(passwordHash: string, password: string): Promise<boolean> {
    try {
      return await this.gate.run(() => verify(passwordHash, password));
    } catch {
      return false;
    }
  }

  /** Spends one verification's worth of time against a throwaway hash; always false. */
  async verifyDummy(password: string): Promise<false> {
    this.dummyHash ??= this.hash(randomToken(24));
    await this.verify(await this.dummyHash, password);
    return false;
  }
}
