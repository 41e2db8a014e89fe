import { createHmac, randomUUID } from 'node:crypto';
import { rateLimited } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { LoginFailureKey } from './login-failure-key.js';
import type { LoginFailureRepository } from './login-failure.repository.js';
import { clientBucket } from './client-bucket.js';

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
/** How long one password or code check may hold its pair's turn (a crashed holder's ends by itself), and how long another waits. */
const TURN_LEASE_MS = 10_000;
const TURN_WAIT_MS = 5_000;

interface LoginFailureDeps extends LoginFailureSettings {
  counters: LoginFailureRepository;
  key: LoginFailureKey;
  logger: Logger;
}

/**
 * Failed-login bookkeeping shared by every instance through MongoDB. Every call does
 * the same reads and writes whatever the email, so neither answers nor timing tell
 * a known email from an unknown one.
 */
export class LoginFailures {
  private lastSweep = 0;

  constructor(private readonly deps: LoginFailureDeps) {}

  get settings(): LoginFailureSettings {
    return { maxFailures: this.deps.maxFailures, lockMinutes: this.deps.lockMinutes, backoffMaxMs: this.deps.backoffMaxMs };
  }

  /** The counter ids for a normalised email tried from `ip`. */
  async subjects(email: string, ip: string | null): Promise<FailureSubjects> {
    const key = await this.deps.key.key();
    const mac = (fields: string[]) => createHmac('sha256', key).update(JSON.stringify(fields), 'utf8').digest('base64url');
    return { account: `a:${mac(['account', email])}`, pair: `p:${mac(['pair', email, ip ? clientBucket(ip) : ''])}` };
  }

  async state(subjects: FailureSubjects, now = new Date()): Promise<FailureState> {
    const found = await this.deps.counters.findMany([subjects.account, subjects.pair]);
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
    await this.deps.counters.resetExpired(ids, now);
    const bump = (id: string) => this.deps.counters.bump(id, now, expiresAt);
    await bump(subjects.account);
    const pair = await bump(subjects.pair);
    const pairFailures = pair?.failures ?? 0;
    if (pairFailures < maxFailures) return { pairFailures, lockedUntil: null };
    const until = new Date(now.getTime() + lockMinutes * 60_000);
    const locked = await this.deps.counters.lock(subjects.pair, maxFailures, until);
    return { pairFailures, lockedUntil: locked ? until : null };
  }

  /**
   * Waits (up to TURN_WAIT_MS) for the turn of this (email, address) pair and returns the
   * function that ends it: password and second-factor code checks of one pair run one at a time, each reading the
   * counters after the previous one recorded its failure, so tries fired at once still stop at
   * `maxFailures`. The turn is a document of its own (`t:` + the pair id) that ends by itself
   * after TURN_LEASE_MS; the same writes for any email, known or not. RATE_LIMITED when waited out.
   */
  async takeTurn(subjects: FailureSubjects): Promise<() => Promise<void>> {
    const id = `t:${subjects.pair}`;
    const owner = randomUUID();
    const deadline = Date.now() + TURN_WAIT_MS;
    for (;;) {
      const now = Date.now();
      if (await this.deps.counters.takeTurn(id, owner, new Date(now), new Date(now + TURN_LEASE_MS))) {
        return () =>
          this.deps.counters.endTurn(id, owner).catch((error: unknown) => {
            this.deps.logger.warn({ err: error }, 'could not end a login turn (it ends by itself)');
          });
      }
      if (Date.now() > deadline) throw rateLimited(1);
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.floor(Math.random() * 30)));
    }
  }

  /**
   * How every password and second-factor check runs: the account-wide backoff first, then
   * `judge` inside this (email, address) pair's turn (takeTurn), which it reads the counters in.
   */
  async judgeInTurn<T>(subjects: FailureSubjects, judge: () => Promise<T>): Promise<T> {
    const delay = this.backoffMs((await this.state(subjects)).accountFailures);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const endTurn = await this.takeTurn(subjects);
    try {
      return await judge();
    } finally {
      await endTurn();
    }
  }

  /** A correct password from this address clears its counter (the account-wide one decays on its own). */
  async clearPair(subjects: FailureSubjects): Promise<void> {
    await this.deps.counters.delete(subjects.pair);
  }

  /** Deletes void counters; run at most hourly, in the background of a failure. */
  private maybeSweep(now: Date): void {
    if (now.getTime() - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now.getTime();
    void this.deps.counters.sweep(now).catch((error: unknown) => {
      this.deps.logger.warn({ err: error }, 'could not sweep expired login-failure counters');
    });
  }
}
