import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Where an embedded database engine keeps its files. */
export interface EngineDataDir {
  dir: string;
  persistent: boolean;
  /** For the "database: …" line. */
  label: string;
  /** Removes an ephemeral directory; a no-op for a persistent one. */
  dispose(): Promise<void>;
}

/** `<persistentDir>/<name>` (kept across restarts), or a fresh temporary directory. */
export async function engineDataDir(persistentDir: string | undefined, name: string): Promise<EngineDataDir> {
  if (persistentDir !== undefined) {
    const dir = path.join(persistentDir, name);
    await mkdir(dir, { recursive: true });
    return { dir, persistent: true, label: `data in ${dir}`, dispose: () => Promise.resolve() };
  }
  const dir = await mkdtemp(path.join(tmpdir(), `coffer-${name}-`));
  return { dir, persistent: false, label: 'ephemeral', dispose: () => rm(dir, { recursive: true, force: true }) };
}
