import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importViolations, readSources } from './import-rules.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('architecture: import direction (docs/ARCHITECTURE.md §10)', () => {
  it('holds for src/: no module cycle, db below modules, GraphQL only in its layer, no imports of entry points', () => {
    const sources = readSources(root);
    expect(sources.size).toBeGreaterThan(50);
    // Prints each offending import when it fails.
    expect(importViolations(sources)).toEqual([]);
  });

  describe('catches planted violations', () => {
    const clean: [string, string][] = [
      ['src/identity/roles.ts', "export const ROLES = ['OWNER'] as const;"],
      ['src/modules/a/a.service.ts', "import { ROLES } from '../../identity/roles.js';\nexport const a = ROLES;"],
      ['src/modules/b/b.service.ts', "import { a } from '../a/a.service.js';\nexport const b = a;"],
      ['src/modules/b/b.resolver.ts', "import { Resolver } from 'type-graphql';\nimport type { Context } from '../../graphql/context.js';\nexport { Resolver };\nexport type C = Context;"],
      ['src/graphql/context.ts', "import { b } from '../modules/b/b.service.js';\nexport type Context = typeof b;"],
      ['src/db/tenant-scope.ts', "import type { Db } from 'mongodb';\nexport type D = Db;"],
      ['src/cli/index.ts', "import { b } from '../modules/b/b.service.js';\nexport const c = b;"],
      ['src/main.ts', "import { b } from './modules/b/b.service.js';\nexport const m = b;"],
    ];
    const withFile = (file: string, text: string) => new Map([...clean, [file, text]]);

    it('accepts the clean fixture', () => {
      expect(importViolations(new Map(clean))).toEqual([]);
    });

    it('a cycle between module folders, naming both edges', () => {
      const problems = importViolations(withFile('src/modules/a/a.rules.ts', "import { b } from '../b/b.service.js';\nexport const r = b;"));
      expect(problems).toEqual([
        'module cycle: a -> b (src/modules/a/a.rules.ts imports src/modules/b/b.service.ts)',
        'module cycle: b -> a (src/modules/b/b.service.ts imports src/modules/a/a.service.ts)',
      ]);
    });

    it('a longer cycle through a type-only dynamic import', () => {
      const files = new Map([
        ...clean,
        ['src/modules/c/c.service.ts', "import { b } from '../b/b.service.js';\nexport const c = b;"],
        ['src/modules/a/a.rules.ts', "export type C = typeof import('../c/c.service.js').c;"],
      ]);
      expect(importViolations(files)).toHaveLength(3);
    });

    it('db importing a module or graphql', () => {
      expect(importViolations(withFile('src/db/collections.ts', "import { a } from '../modules/a/a.service.js';\nexport const x = a;"))).toEqual([
        'db imports a layer above it: src/db/collections.ts imports src/modules/a/a.service.ts',
      ]);
    });

    it('a service importing type-graphql, graphql or src/graphql/', () => {
      expect(importViolations(withFile('src/modules/a/a.repository.ts', "import { Field } from 'type-graphql';\nexport { Field };"))).toEqual([
        'non-GraphQL file imports GraphQL: src/modules/a/a.repository.ts imports type-graphql',
      ]);
      expect(importViolations(withFile('src/modules/a/a.job.ts', "export { printSchema } from 'graphql';"))).toHaveLength(1);
      expect(importViolations(withFile('src/services.ts', "import type { Context } from './graphql/context.js';\nexport type S = Context;"))).toEqual([
        'non-GraphQL file imports GraphQL: src/services.ts imports src/graphql/context.ts',
      ]);
    });

    it('anything importing the CLI or main.ts', () => {
      expect(importViolations(withFile('src/modules/a/a.helper.ts', "import { c } from '../../cli/index.js';\nexport const h = c;"))).toEqual([
        'imports an entry point: src/modules/a/a.helper.ts imports src/cli/index.ts',
      ]);
      expect(importViolations(withFile('src/app.ts', "import { m } from './main.js';\nexport const x = m;"))).toHaveLength(1);
    });
  });
});
