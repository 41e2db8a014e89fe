import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { CONSOLE_CLIENT_SCRIPT, CONSOLE_STYLE } from './console-client.js';

/**
 * The files behind /console, read once from node_modules (and this folder) into memory:
 * React 18's UMD builds, GraphiQL 4's UMD build and stylesheet, and the console's own script
 * and style. GraphiQL 4 is the last major version published with a UMD build (5 moved to
 * Monaco, ES modules and web workers, which would need a bundler); its UMD build expects the
 * `React`/`ReactDOM` globals of React 18 (React 19 ships no UMD build). Each file is served
 * under a content-addressed name, so it can be cached for a year and changes with its bytes.
 */

export interface ConsoleAsset {
  /** The served name: `<name>.<16 hex digits of its SHA-256>.<js|css>`. */
  file: string;
  contentType: string;
  body: Buffer;
  /** Subresource Integrity value for the page's tag (`sha384-…`). */
  integrity: string;
}

export interface ConsoleAssets {
  scripts: readonly ConsoleAsset[];
  styles: readonly ConsoleAsset[];
  byFile: ReadonlyMap<string, ConsoleAsset>;
  /** The asset gzipped (computed on first request, then kept). */
  gzipped(asset: ConsoleAsset): Promise<Buffer>;
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

interface Source {
  name: string;
  /** A package and a file inside it, or the text itself. */
  from: { pkg: string; file: string } | { text: string };
  contentType: string;
}

/** In load order: React, ReactDOM, GraphiQL, then the console's script (which uses all three). */
const SCRIPTS: readonly Source[] = [
  { name: 'react', from: { pkg: 'react', file: 'umd/react.production.min.js' }, contentType: JS },
  { name: 'react-dom', from: { pkg: 'react-dom', file: 'umd/react-dom.production.min.js' }, contentType: JS },
  { name: 'graphiql', from: { pkg: 'graphiql', file: 'graphiql.min.js' }, contentType: JS },
  { name: 'console', from: { text: CONSOLE_CLIENT_SCRIPT }, contentType: JS },
];

const STYLES: readonly Source[] = [
  { name: 'graphiql', from: { pkg: 'graphiql', file: 'graphiql.min.css' }, contentType: CSS },
  { name: 'console', from: { text: CONSOLE_STYLE }, contentType: CSS },
];

const require = createRequire(import.meta.url);

/** The package files served (the rest is the console's own text): what the build must vendor. */
export const PACKAGE_FILES: readonly { pkg: string; file: string }[] = [...SCRIPTS, ...STYLES].flatMap((s) => ('pkg' in s.from ? [s.from] : []));

/**
 * Where `npm run build` copies the served files (scripts/copy-console-vendor.mjs): beside the
 * compiled module, `dist/console/vendor/<package>/<file>`. A production install has them only
 * there (graphiql, react and react-dom are dev dependencies); from source (tsx, tests) they come
 * from node_modules.
 */
export const VENDOR_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'vendor');

function read(source: Source, vendorDir: string): Buffer {
  if ('text' in source.from) return Buffer.from(source.from.text, 'utf8');
  const { pkg, file } = source.from;
  const vendored = path.join(vendorDir, pkg, file);
  if (existsSync(vendored)) return readFileSync(vendored);
  try {
    return readFileSync(path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file));
  } catch {
    throw new Error(
      `admin console: cannot read ${pkg}/${file} (the console serves GraphiQL 4's and React 18's UMD builds, copied into ` +
        'dist/console/vendor by npm run build, or from node_modules when run from source; run npm ci / npm run build, or set CONSOLE_ENABLED=false)',
    );
  }
}

function asset(source: Source, vendorDir: string): ConsoleAsset {
  const body = read(source, vendorDir);
  const ext = source.contentType === JS ? 'js' : 'css';
  return {
    file: `${source.name}.${createHash('sha256').update(body).digest('hex').slice(0, 16)}.${ext}`,
    contentType: source.contentType,
    body,
    integrity: `sha384-${createHash('sha384').update(body).digest('base64')}`,
  };
}

/** Reads every file now (a missing one fails start-up with what to do); `vendorDir` is for tests. */
export function loadConsoleAssets(vendorDir = VENDOR_DIR): ConsoleAssets {
  const scripts = SCRIPTS.map((source) => asset(source, vendorDir));
  const styles = STYLES.map((source) => asset(source, vendorDir));
  const byFile = new Map([...scripts, ...styles].map((a) => [a.file, a]));
  const compressed = new Map<string, Promise<Buffer>>();
  const gzipAsync = promisify(gzip);
  return {
    scripts,
    styles,
    byFile,
    gzipped(a) {
      let done = compressed.get(a.file);
      if (!done) {
        done = gzipAsync(a.body, { level: 9 });
        compressed.set(a.file, done);
        done.catch(() => compressed.delete(a.file)); // tried again on the next request
      }
      return done;
    },
  };
}
