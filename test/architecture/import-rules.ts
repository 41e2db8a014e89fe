import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * The import-direction rules of docs/ARCHITECTURE.md §10, as a pure function over source
 * texts (so a test can feed it planted violations). Paths are relative to the repository
 * root with forward slashes, e.g. `src/modules/auth/auth.service.ts`.
 */

/** Packages only the GraphQL layer may import. */
const GRAPHQL_PACKAGES = ['graphql', 'type-graphql', 'graphql-shield', 'graphql-middleware', 'graphql-scalars'];

/** Files that may know GraphQL: the graphql/ layer, the HTTP app that mounts it, and each module's GraphQL face. */
export function isGraphqlFile(file: string): boolean {
  return (
    file.startsWith('src/graphql/') ||
    file === 'src/app.ts' ||
    (file.startsWith('src/modules/') && (file.endsWith('.resolver.ts') || file.endsWith('.types.ts')))
  );
}

export interface ImportEdge {
  from: string;
  /** A repository-relative .ts path for a relative import, else the bare package specifier. */
  to: string;
}

/** Every static import/export-from, `import()` and `import('…')` type in one file. */
export function importsOf(file: string, text: string, exists: (file: string) => boolean): ImportEdge[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const specifiers: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      specifiers.push(node.arguments[0].text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      specifiers.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specifiers.map((spec) => ({ from: file, to: resolveSpecifier(file, spec, exists) }));
}

function resolveSpecifier(file: string, spec: string, exists: (file: string) => boolean): string {
  if (!spec.startsWith('.')) return spec;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
  const candidates = [base.replace(/\.js$/, '.ts'), `${base}.ts`, `${base}/index.ts`, base];
  return candidates.find(exists) ?? candidates[0]!;
}

/** `src/modules/<name>/…` → `<name>`, else null. */
export function moduleOf(file: string): string | null {
  const match = /^src\/modules\/([^/]+)\//.exec(file);
  return match ? match[1]! : null;
}

const isPackage = (to: string, names: string[]) => names.some((name) => to === name || to.startsWith(`${name}/`));

/** Edges between module folders that lie on a cycle (strongly connected components of size > 1). */
function moduleCycles(edges: ImportEdge[]): string[] {
  const graph = new Map<string, Map<string, ImportEdge>>();
  for (const edge of edges) {
    const a = moduleOf(edge.from);
    const b = moduleOf(edge.to);
    if (!a || !b || a === b) continue;
    if (!graph.has(a)) graph.set(a, new Map());
    if (!graph.get(a)!.has(b)) graph.get(a)!.set(b, edge);
  }
  // Tarjan's strongly connected components.
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const component = new Map<string, number>();
  let components = 0;
  const nodes = new Set([...graph.keys(), ...[...graph.values()].flatMap((m) => [...m.keys()])]);
  const strongConnect = (v: string): void => {
    indices.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!indices.has(w)) {
        strongConnect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indices.get(w)!));
    }
    if (low.get(v) === indices.get(v)) {
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.set(w, components);
      } while (w !== v);
      components++;
    }
  };
  for (const v of nodes) if (!indices.has(v)) strongConnect(v);
  const found: string[] = [];
  for (const [a, targets] of graph) {
    for (const [b, edge] of targets) {
      if (component.get(a) === component.get(b)) found.push(`module cycle: ${a} -> ${b} (${edge.from} imports ${edge.to})`);
    }
  }
  return found.sort();
}

/** Every broken rule, one line per offending import. */
export function importViolations(files: ReadonlyMap<string, string>): string[] {
  const exists = (file: string) => files.has(file);
  const edges = [...files].flatMap(([file, text]) => importsOf(file, text, exists));
  const problems: string[] = [...moduleCycles(edges)];
  for (const { from, to } of edges) {
    if (from.startsWith('src/db/') && (to.startsWith('src/modules/') || to.startsWith('src/graphql/'))) {
      problems.push(`db imports a layer above it: ${from} imports ${to}`);
    }
    if (!isGraphqlFile(from) && (isPackage(to, GRAPHQL_PACKAGES) || to.startsWith('src/graphql/'))) {
      problems.push(`non-GraphQL file imports GraphQL: ${from} imports ${to}`);
    }
    if ((to.startsWith('src/cli/') && !from.startsWith('src/cli/')) || to === 'src/main.ts') {
      problems.push(`imports an entry point: ${from} imports ${to}`);
    }
  }
  return problems;
}

/** Every .ts file under `dir` of the repository at `root`, keyed by its repository-relative path. */
export function readSources(root: string, dir = 'src'): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (relative: string): void => {
    for (const entry of fs.readdirSync(path.join(root, relative), { withFileTypes: true })) {
      const child = `${relative}/${entry.name}`;
      if (entry.isDirectory()) walk(child);
      else if (entry.name.endsWith('.ts')) files.set(child, fs.readFileSync(path.join(root, child), 'utf8'));
    }
  };
  walk(dir);
  return files;
}
