/**
 * One process owns a DATA_DIR's embedded database: an embedded engine must never have two
 * processes on the same files (README: "one writer"). The owner holds
 * `<DATA_DIR>/embedded-database.lock`, which names its pid. The lock dies with its owner: a
 * lock whose pid is no longer alive (the owner was killed) is stale and taken over.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const LOCK_FILE = 'embedded-database.lock';

export interface DataDirLock {
  /** Removes the lock if this process still holds it; idempotent. Also runs on process exit. */
  release(): void;
}

export type LockAttempt = { acquired: true; lock: DataDirLock } | { acquired: false; ownerPid: number };

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the DATA_DIR lock, or names the live process that holds it. */
export function tryLockDataDir(dataDir: string): LockAttempt {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, LOCK_FILE);
  const unique = () => `${file}.${process.pid}-${randomBytes(4).toString('hex')}`;
  for (let attempt = 0; attempt < 10; attempt++) {
    // Written whole under a unique name, then linked into place: link fails if a lock exists,
    // so exactly one process gets it and nobody ever reads a half-written lock.
    const temp = unique();
    writeFileSync(temp, `${process.pid}\n`, { mode: 0o600 });
    try {
      linkSync(temp, file);
      return { acquired: true, lock: ownLock(file) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      rmSync(temp, { force: true });
    }
    const owner = readPid(file);
    if (owner !== undefined && owner !== process.pid && processAlive(owner)) return { acquired: false, ownerPid: owner };
    // Stale: move it aside (atomically), and put it back if it turned out to be a fresh one.
    const grave = unique();
    try {
      renameSync(file, grave);
    } catch {
      continue; // someone else moved it first
    }
    const moved = readPid(grave);
    if (moved !== undefined && moved !== owner && processAlive(moved)) {
      try {
        linkSync(grave, file);
      } catch {
        // a third process holds it by now; the next round sees that
      }
    }
    rmSync(grave, { force: true });
  }
  throw new Error(`could not take ${file}: it keeps changing hands`);
}

function ownLock(file: string): DataDirLock {
  const release = (): void => {
    process.off('exit', release);
    if (readPid(file) === process.pid) rmSync(file, { force: true });
  };
  process.on('exit', release);
  return { release };
}
