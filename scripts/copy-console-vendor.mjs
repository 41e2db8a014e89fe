// Part of `npm run build`: copies the four files the admin console serves from GraphiQL 4's and
// React 18's packages into dist/console/vendor/<package>/<file>, so a production install
// (`npm ci --omit=dev`, the Docker image) needs neither those packages nor their dependencies.
// src/console/console-assets.ts reads from there first and falls back to node_modules (tsx, tests).
// An output directory may be given instead (tests): node scripts/copy-console-vendor.mjs <dir>
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const files = [
  ['react', 'umd/react.production.min.js'],
  ['react-dom', 'umd/react-dom.production.min.js'],
  ['graphiql', 'graphiql.min.js'],
  ['graphiql', 'graphiql.min.css'],
];
const outDir = process.argv[2] ? path.resolve(process.argv[2]) : path.join(root, 'dist', 'console', 'vendor');
for (const [pkg, file] of files) {
  const from = path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file);
  const to = path.join(outDir, pkg, file);
  mkdirSync(path.dirname(to), { recursive: true });
  copyFileSync(from, to);
}
console.log(`copied ${files.length} admin console files into ${path.relative(root, outDir) || outDir}`);
