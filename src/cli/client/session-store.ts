/**
 * Where `coffer login` keeps its session: $XDG_CONFIG_HOME/coffer/session.json, else
 * ~/.config/coffer/session.json; the directory 0700, the file 0600, written whole (temporary
 * file + rename) so a reader never sees half a session. It holds the server URL, the email,
 * the tenant and the tokens (an access token and the single-use refresh token).
 */
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

export interface StoredSession {
  url: string;
  email: string;
  tenantId: string | null;
  accessToken: string;
  /** ISO time. */
  accessTokenExpiresAt: string;
  refreshToken: string;
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(env.HOME || homedir(), '.config');
  return path.join(base, 'coffer');
}

export const sessionPath = (env: NodeJS.ProcessEnv = process.env) => path.join(configDir(env), 'session.json');

export function readSession(file = sessionPath()): StoredSession | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const parsed = JSON.parse(text) as Partial<StoredSession>;
  if (typeof parsed.url !== 'string' || typeof parsed.accessToken !== 'string' || typeof parsed.refreshToken !== 'string') {
    throw new Error(`${file} is not a coffer session; run coffer login again`);
  }
  return parsed as StoredSession;
}

export function writeSession(session: StoredSession, file = sessionPath()): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(session, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
}

export function removeSession(file = sessionPath()): boolean {
  try {
    rmSync(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/**
 * Runs `work` holding `<file>.lock` (created exclusively), so two coffer processes never
 * refresh with the same single-use refresh token (the server would revoke the session).
 * A lock older than 30 s is taken as left by a crashed process.
 */
export async function withSessionLock<T>(work: () => Promise<T>, file = sessionPath()): Promise<T> {
  const lock = `${file}.lock`;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx', 0o600));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      try {
        if (Date.now() - statSync(lock).mtimeMs > 30_000) rmSync(lock, { force: true });
      } catch {
        // gone meanwhile
      }
      if (Date.now() > deadline) throw new Error(`another coffer process holds ${lock}; remove it if none is running`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { force: true });
  }
}
