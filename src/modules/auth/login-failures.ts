import { createHmac } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import type { Logger } from '../../logger.js';
import type { LoginFailureKey } from './login-failure-key.js';

export const LOGIN_FAILURES_COLLECTION = 'login_failures';

/**
 * One failed-login counter. `_id` is an HMAC, so the collection names no email and no
 * address: `a:` + HMAC(email) counts failures against an email from anywhere (the
 * account-wide backoff), `p:` + HMAC(email, client address) counts them from one address
 * (the lock). Counters exist for any email tried, whether or not it has an account.
 */
interface LoginFailureDoc {
  _id: string;
  failures: number;
  lastFailureAt: Date;
  lockedUntil: Date | null;
  /** After this the counter is void (queries ignore it, a sweep deletes it). */
  expiresAt: Date;
}

/** The two counters one login attempt touches. */
export interface FailureSubjects {
  account: string;
  pair: string;
}

export interface FailureState {
  /** Recent failures against this email from any address. */
  accountFailures: number;
  /** Recent consecutive failures from this address. */
  pairFailures: number;
  /** Set while this (email, address) pair is locked. */
  lockedUntil: Date | null;
}

export interface LoginFailureSettings {
  /** Failures from one address before that address is locked out of the email. */
  maxFailures: number;
  /** How long such a lock lasts, and how long a counter lives after its last failure. */
  lockMinutes: number;
  /** Cap of the account-wide delay; 0 turns it off. */
  backoffMaxMs: number;
}

/** The first account-wide delay, doubled with each further failure up to the cap. */
const BACKOFF_BASE_MS = 250;
const SWEEP_EVERY_MS = 3_600_000;

interface LoginFailureDeps extends LoginFailureSettings {
  db: Db;
  key: LoginFailureKey;
  logger: Logger;
}

/**
 * Failed-login bookkeeping shared by every instance through MongoDB. Every call does
 * the same reads and writes whatever the email, so neither answers nor timing tell
 * a known email from an unknown one.
 */
export class LoginFailures {
  private readonly docs: Collection<LoginFailureDoc>;
  private lastSweep = 0;
  private indexed: Promise<void> | undefined;

  constructor(private readonly deps: LoginFailureDeps) {
    this.docs = deps.db.collection<LoginFailureDoc>(LOGIN_FAILURES_COLLECTION);
  }

  get settings(): LoginFailureSettings {
    return { maxFailures: this.deps.maxFailures, lockMinutes: this.deps.lockMinutes, backoffMaxMs: this.deps.backoffMaxMs };
  }

  /** The counter ids for a normalised email tried from `ip`. */
  async subjects(email: string, ip: string | null): Promise<FailureSubjects> {
    const key = await this.deps.key.key();
    const mac = (fields: string[]) => createHmac('sha256', key).update(JSON.stringify(fields), 'utf8').digest('base64url');
    return { account: `a:${mac(['account', email])}`, pair: `p:${mac(['pair', email, ip ?? ''])}` };
  }

  async state(subjects: FailureSubjects, now = new Date()): Promise<FailureState> {
    const found = await this.docs.find({ _id: { $in: [subjects.account, subjects.pair] } }).toArray();
    const live = (id: string) => found.find((d) => d._id === id && d.expiresAt > now);
    const account = live(subjects.account);
    const pair = live(subjects.pair);
    return {
      accountFailures: account?.failures ?? 0,
      pairFailures: pair?.failures ?? 0,
      lockedUntil: pair?.lockedUntil && pair.lockedUntil > now ? pair.lockedUntil : null,
    };
  }

  /** How long an attempt against an email waits: nothing for the first few failures, then doubling up to the cap. */
  backoffMs(accountFailures: number): number {
    const { maxFailures, backoffMaxMs } = this.deps;
    if (backoffMaxMs <= 0 || accountFailures < maxFailures) return 0;
    return Math.min(backoffMaxMs, BACKOFF_BASE_MS * 2 ** Math.min(accountFailures - maxFailures, 20));
  }

  /**
   * Counts one failure against the email and against the (email, address) pair; locks
   * the pair when it reaches the threshold. Returns the lock end if this call locked it.
   * Always the same four writes (a fifth only when a lock starts, for any email alike).
   */
  async recordFailure(subjects: FailureSubjects, now = new Date()): Promise<{ pairFailures: number; lockedUntil: Date | null }> {
    this.maybeSweep(now);
    const { maxFailures, lockMinutes } = this.deps;
    const expiresAt = new Date(now.getTime() + lockMinutes * 60_000);
    const ids = [subjects.account, subjects.pair];
    // Counters whose time ran out start over.
    await this.docs.updateMany({ _id: { $in: ids }, expiresAt: { $lte: now } }, { $set: { failures: 0, lockedUntil: null } });
    const bump = (id: string) =>
      this.docs.findOneAndUpdate(
        { _id: id },
        { $inc: { failures: 1 }, $set: { lastFailureAt: now, expiresAt }, $setOnInsert: { lockedUntil: null } },
        { upsert: true, returnDocument: 'after' },
      );
    await bump(subjects.account);
    const pair = await bump(subjects.pair);
    const pairFailures = pair?.failures ?? 0;
    if (pairFailures < maxFailures) return { pairFailures, lockedUntil: null };
    const until = new Date(now.getTime() + lockMinutes * 60_000);
    const locked = await this.docs.updateOne(
      { _id: subjects.pair, failures: { $gte: maxFailures } },
      { $set: { lockedUntil: until, failures: 0, expiresAt: until } },
    );
    return { pairFailures, lockedUntil: locked.modifiedCount === 1 ? until : null };
  }

  /** A correct password from this address clears its counter (the account-wide one decays on its own). */
  async clearPair(subjects: FailureSubjects): Promise<void> {
    await this.docs.deleteOne({ _id: subjects.pair });
  }

  /** Deletes void counters; run at most hourly, in the background of a failure. */
  private maybeSweep(now: Date): void {
    if (now.getTime() - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now.getTime();
    this.indexed ??= this.docs.createIndexes([{ key: { expiresAt: 1 }, name: 'expires' }]).then(() => undefined);
    void this.indexed
      .then(() => this.docs.deleteMany({ expiresAt: { $lte: now } }))
      .catch((error: unknown) => {
        this.indexed = undefined;
        this.deps.logger.warn({ err: error }, 'could not sweep expired login-failure counters');
      });
  }
}
