/**
 * The console's GraphiQL and React files travel in dist/ (copied by `npm run build`), so a
 * production install needs neither those packages nor their ~100 dependencies.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConsoleAssets, PACKAGE_FILES } from '../../src/console/console-assets.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string>; scripts: Record<string, string> };
const vendorDir = mkdtempSync(path.join(tmpdir(), 'coffer-console-vendor-'));
afterAll(() => rmSync(vendorDir, { recursive: true, force: true }));

describe('admin console files vendored at build time', () => {
  it('graphiql, react and react-dom are dev dependencies only; the build copies what the console serves', () => {
    for (const name of ['graphiql', 'react', 'react-dom']) {
      expect(pkg.dependencies[name], name).toBeUndefined();
      expect(pkg.devDependencies[name], name).toBeDefined();
    }
    expect(pkg.scripts.build).toContain('node scripts/copy-console-vendor.mjs');
  });

  it('the copy script vendors every package file the console serves, byte for byte, and the console reads the vendored copy first', () => {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts/copy-console-vendor.mjs'), vendorDir], { encoding: 'utf8' });
    expect(PACKAGE_FILES.length).toBe(4);
    for (const { pkg: name, file } of PACKAGE_FILES) {
      const original = readFileSync(path.join(path.dirname(require.resolve(`${name}/package.json`)), file));
      expect(readFileSync(path.join(vendorDir, name, file)).equals(original), `${name}/${file}`).toBe(true);
    }
    const fromVendor = loadConsoleAssets(vendorDir);
    const fromModules = loadConsoleAssets(path.join(vendorDir, 'missing'));
    expect(fromVendor.scripts.map((a) => a.file)).toEqual(fromModules.scripts.map((a) => a.file));

    // A vendored file that differs is the one served (so dist/ alone is enough in production).
    writeFileSync(path.join(vendorDir, 'react', 'umd/react.production.min.js'), '/* vendored */');
    const react = loadConsoleAssets(vendorDir).scripts.find((a) => a.file.startsWith('react.'))!;
    expect(react.body.toString()).toBe('/* vendored */');
  });
});
