#!/usr/bin/env node
// The `coffer` command (package.json "bin"; `npm run cli` runs this file too). Coffer runs its
// TypeScript through tsx, so there is no build step: register tsx with the repository's own
// tsconfig (decorators), wherever the command is started from, then run the CLI entry.
import { register } from 'tsx/esm/api';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
register({ tsconfig: fileURLToPath(new URL('tsconfig.json', root)) });
await import(new URL('src/cli/index.ts', root).href);
