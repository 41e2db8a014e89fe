import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { resolveDatabase, type ResolvedDatabase } from '../../src/db/engine.js';

declare module 'vitest' {
  export interface ProvidedContext {
    mongoUri: string;
    mongoEngine: string;
  }
}

let resolved: ResolvedDatabase | undefined;

/** One real MongoDB wire-protocol server for the whole run; each test file uses its own database. */
export async function setup(project: TestProject): Promise<void> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  resolved = await resolveDatabase({
    mongodbUri: process.env.MONGODB_URI || undefined,
    dbName: 'coffer_test',
    projectRoot: root,
    log: (line) => console.log(line),
  });
  project.provide('mongoUri', resolved.uri);
  project.provide('mongoEngine', resolved.engine);
}

export async function teardown(): Promise<void> {
  await resolved?.stop();
}
