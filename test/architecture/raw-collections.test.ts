import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const src = path.join(root, 'src');

/**
 * Files outside src/db/ and *.repository.ts allowed to open a raw collection, each with its reason.
 * Global collections (users, sessions, tenants, tenant_keys, ...) are opened by repositories; tenant
 * data goes through TenantScope; cross-tenant sweeps through db/cross-tenant-sweep.ts.
 */
const ALLOWED: Record<string, string> = {
  'src/cli/migrate-plaintext.ts': 'reads the legacy, non-Coffer collection the operator names; it is no tenant data of ours',
};

interface RawUse {
  file: string;
  line: number;
  text: string;
}

/** Every call of mongodb's Db#collection in src/, found through the type checker (so aliases and chains count too). */
function rawCollectionCalls(): RawUse[] {
  const config = ts.getParsedCommandLineOfConfigFile(path.join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  if (!config) throw new Error('cannot read tsconfig.json');
  const files = config.fileNames.filter((file) => path.resolve(file).startsWith(src + path.sep));
  const program = ts.createProgram(files, config.options);
  const checker = program.getTypeChecker();
  const uses: RawUse[] = [];
  for (const source of program.getSourceFiles()) {
    if (!path.resolve(source.fileName).startsWith(src + path.sep)) continue;
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === 'collection') {
        const declarations = checker.getSymbolAtLocation(node.expression.name)?.declarations ?? [];
        const onDb = declarations.some((d) => ts.isClassDeclaration(d.parent) && d.parent.name?.text === 'Db' && d.getSourceFile().fileName.includes(`${path.sep}mongodb${path.sep}`));
        if (onDb) {
          const { line } = source.getLineAndCharacterOfPosition(node.getStart());
          uses.push({ file: path.relative(root, source.fileName).split(path.sep).join('/'), line: line + 1, text: node.getText().split('\n')[0]! });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return uses;
}

describe('architecture: raw collections', () => {
  const uses = rawCollectionCalls();

  it('finds raw collection calls at all (the db layer and repositories have them)', () => {
    expect(uses.some((u) => u.file === 'src/db/tenant-scope.ts')).toBe(true);
    expect(uses.some((u) => u.file.endsWith('.repository.ts'))).toBe(true);
  });

  it('opens raw collections only in src/db/, repositories and the listed exceptions', () => {
    const offending = uses.filter((u) => !u.file.startsWith('src/db/') && !u.file.endsWith('.repository.ts') && !(u.file in ALLOWED));
    expect(offending.map((u) => `${u.file}:${u.line} ${u.text}`)).toEqual([]);
  });

  it('lists no exception that is no longer needed', () => {
    for (const file of Object.keys(ALLOWED)) expect(uses.some((u) => u.file === file), file).toBe(true);
  });
});
