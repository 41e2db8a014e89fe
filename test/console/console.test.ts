import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { expectCode, expectOk, signUp } from '../support/auth.js';
import { ME_QUERY } from '../support/http.js';
import { startServer, testEnv, type TestServer } from '../support/server.js';

/**
 * The admin console over plain HTTP: the page, its CSP and other security headers, the assets
 * (from the npm packages, cached, integrity-checked), no external URL in anything served,
 * and CONSOLE_ENABLED. The browser side is console-browser.test.ts.
 */

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A GET with exactly these headers (fetch would add Accept-Encoding and decompress). */
function get(url: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** `default-src 'self'; …` → { 'default-src': ["'self'"], … }. */
function cspOf(header: string | string[] | undefined): Map<string, string[]> {
  expect(typeof header).toBe('string');
  return new Map(
    (header as string)
      .split(';')
      .map((part) => part.trim().split(/\s+/))
      .filter((words) => words[0])
      .map(([name, ...sources]) => [name!, sources]),
  );
}

interface PageAssets {
  html: string;
  /** Every `src`/`href` of a script or stylesheet, with its integrity attribute. */
  tags: { kind: 'script' | 'style'; url: string; integrity: string | null }[];
}

async function pageOf(server: TestServer): Promise<PageAssets> {
  const res = await get(`${server.url}/console`);
  expect(res.status).toBe(200);
  const html = res.body.toString('utf8');
  const tags: PageAssets['tags'] = [];
  for (const match of html.matchAll(/<script\b([^>]*)>/g)) {
    tags.push({ kind: 'script', url: /\bsrc="([^"]*)"/.exec(match[1]!)?.[1] ?? '', integrity: /\bintegrity="([^"]*)"/.exec(match[1]!)?.[1] ?? null });
  }
  for (const match of html.matchAll(/<link\b([^>]*)>/g)) {
    if (!/\brel="stylesheet"/.test(match[1]!)) continue;
    tags.push({ kind: 'style', url: /\bhref="([^"]*)"/.exec(match[1]!)?.[1] ?? '', integrity: /\bintegrity="([^"]*)"/.exec(match[1]!)?.[1] ?? null });
  }
  return { html, tags };
}

const require = createRequire(import.meta.url);
const packageFile = (pkg: string, file: string) => readFileSync(path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file));

/**
 * Every http(s) URL in what the console serves, each with where it sits and why it is never
 * fetched. The list is exact (file, URL, count and context): a GraphiQL or React upgrade that
 * brings a new URL fails here until someone has looked at it.
 */
const KNOWN_URLS: { file: string; url: string; count: number; context: RegExp; why: string }[] = [
  { file: 'react-dom.js', url: 'https://reactjs.org/docs/error-decoder.html?invariant=', count: 1, context: /function m\(a\)\{for\(var b="$/, why: 'text of minified React error messages' },
  ...['http://www.w3.org/2000/svg', 'http://www.w3.org/1998/Math/MathML', 'http://www.w3.org/1999/xhtml', 'http://www.w3.org/1999/xlink', 'http://www.w3.org/XML/1998/namespace'].map((url) => ({
    file: 'react-dom.js',
    url,
    count: { 'http://www.w3.org/2000/svg': 3, 'http://www.w3.org/1999/xhtml': 5, 'http://www.w3.org/1999/xlink': 2 }[url] ?? 1,
    context: /"$/, // a string literal: compared with or passed as a node's namespaceURI
    why: 'XML namespace names (identifiers, never dereferenced)',
  })),
  { file: 'graphiql.js', url: 'http://www.w3.org/2000/svg', count: 31, context: /xmlns:"$/, why: 'the namespace of inline SVG icons' },
  { file: 'graphiql.js', url: 'https://en.wikipedia.org/wiki/IEEE_floating_point', count: 1, context: /description:"[^"]*\]\($/, why: "graphql-js's description of Float" },
  { file: 'graphiql.js', url: 'https://commonmark.org/', count: 1, context: /description:"[^"]*\]\($/, why: "graphql-js's description of @deprecated's reason" },
  { file: 'graphiql.js', url: 'https://github.com/jonschlinkert', count: 1, context: /\n\s*\* Copyright \(c\) Jon Schlinkert \($/, why: 'a licence comment' },
  ...['is-primitive', 'set-value', 'isobject'].map((name) => ({
    file: 'graphiql.js',
    url: `https://github.com/jonschlinkert/${name}`,
    count: 1,
    context: new RegExp(`\\n\\s*\\* ${name} <$`),
    why: 'a licence comment',
  })),
  { file: 'graphiql.js', url: 'http://', count: 2, context: /(normalizeLinkText\(|e\.url=)"$/, why: "markdown-it's linkify prefixing schema descriptions' bare links" },
  { file: 'graphiql.js', url: 'https://radix-ui.com/primitives/docs/components/${t.docsSlug}', count: 1, context: /For more information, see $/, why: 'a development warning of Radix' },
  { file: 'graphiql.js', url: 'https://codemirror.net/5/doc/manual.html#keymaps', count: 1, context: /\{href:"$/, why: 'a link (target=_blank) in the short-keys dialog, followed only if clicked' },
  { file: 'graphiql.js', url: 'https://github.com/graphql/graphiql', count: 1, context: /className:"graphiql-logo-link",href:"$/, why: 'the GraphiQL logo link, followed only if clicked' },
  { file: 'graphiql.js', url: 'https://github.com/graphql/graphiql/blob/master/examples/graphiql-cdn/index.html#L49', count: 1, context: /not compatible with React 15 or below\.","[^"]*","$/, why: 'an error message text' },
];

describe('admin console over HTTP', () => {
  let server: TestServer;
  let off: TestServer;

  beforeAll(async () => {
    [server, off] = await Promise.all([startServer(), startServer({ CONSOLE_ENABLED: 'false' })]);
  });
  afterAll(async () => {
    await Promise.all([server?.close(), off?.close()]);
  });

  it('GET /console: an HTML page under a CSP of this origin only (no inline script, no host), with the other helmet headers', async () => {
    const res = await get(`${server.url}/console`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    const csp = cspOf(res.headers['content-security-policy']);
    expect(Object.fromEntries(csp)).toEqual({
      'default-src': ["'self'"],
      'script-src': ["'self'"],
      'style-src': ["'self'", "'unsafe-inline'"],
      'img-src': ["'self'", 'data:'],
      'font-src': ["'self'", 'data:'],
      'connect-src': ["'self'"],
      'object-src': ["'none'"],
      'base-uri': ["'none'"],
      'form-action': ["'none'"],
      'frame-ancestors': ["'none'"],
    });
    // helmet's other headers, as on every route.
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
    expect(res.headers['strict-transport-security']).toMatch(/^max-age=\d+/);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.etag).toBeUndefined();
  });

  it('the console leaves the rest of the API under the app-wide CSP', async () => {
    for (const route of ['/healthz', '/graphql?query=%7B__typename%7D', '/.well-known/jwks.json']) {
      const [on, without] = await Promise.all([get(`${server.url}${route}`), get(`${off.url}${route}`)]);
      expect(on.headers['content-security-policy'], route).toBe(without.headers['content-security-policy']);
      expect(on.headers['content-security-policy'], route).not.toContain("form-action 'none'");
    }
  });

  it('the page has no inline script or handler; every script and stylesheet is a same-origin asset with Subresource Integrity', async () => {
    const { html, tags } = await pageOf(server);
    expect(html).not.toMatch(/<script\b[^>]*>[^<]+<\/script>/); // no inline script body
    expect(html).not.toMatch(/\son[a-z]+\s*=/i); // no inline event handler
    expect(html).not.toMatch(/javascript:/i);
    expect(html).not.toContain('<form'); // nothing can submit the token field into a URL
    expect(tags.map((t) => `${t.kind} ${t.url.replace(/\.[0-9a-f]{16}\./, '.<hash>.')}`)).toEqual([
      'script /console/assets/react.<hash>.js',
      'script /console/assets/react-dom.<hash>.js',
      'script /console/assets/graphiql.<hash>.js',
      'script /console/assets/console.<hash>.js',
      'style /console/assets/graphiql.<hash>.css',
      'style /console/assets/console.<hash>.css',
    ]);
    for (const tag of tags) expect(tag.integrity, tag.url).toMatch(/^sha384-[A-Za-z0-9+/]{64}$/);
    expect(html).toMatch(/<input id="console-token" type="password" autocomplete="off"/);
  });

  it('assets: the npm packages\' own files (and the console\'s), cached for a year under their content hash, matching their integrity; gzip when accepted', async () => {
    const { tags } = await pageOf(server);
    const byName = new Map(tags.map((t) => [t.url.replace(/^\/console\/assets\/|\.[0-9a-f]{16}(?=\.)/g, ''), t]));
    const expected: Record<string, Buffer> = {
      'react.js': packageFile('react', 'umd/react.production.min.js'),
      'react-dom.js': packageFile('react-dom', 'umd/react-dom.production.min.js'),
      'graphiql.js': packageFile('graphiql', 'graphiql.min.js'),
      'graphiql.css': packageFile('graphiql', 'graphiql.min.css'),
    };
    for (const [name, tag] of byName) {
      const plain = await get(`${server.url}${tag.url}`, { 'accept-encoding': 'identity' });
      expect(plain.status, name).toBe(200);
      expect(plain.headers['content-type'], name).toBe(name.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8');
      expect(plain.headers['cache-control'], name).toBe('public, max-age=31536000, immutable');
      expect(plain.headers.vary, name).toContain('Accept-Encoding');
      expect(plain.headers['content-encoding'], name).toBeUndefined();
      expect(plain.headers['x-content-type-options'], name).toBe('nosniff');
      if (expected[name]) expect(plain.body.equals(expected[name]), `${name} is the package's file`).toBe(true);
      expect(`sha384-${createHash('sha384').update(plain.body).digest('base64')}`, name).toBe(tag.integrity);
      expect(tag.url, name).toContain(`.${createHash('sha256').update(plain.body).digest('hex').slice(0, 16)}.`);

      const zipped = await get(`${server.url}${tag.url}`, { 'accept-encoding': 'gzip, deflate, br' });
      expect(zipped.headers['content-encoding'], name).toBe('gzip');
      expect(zipped.body.length, name).toBeLessThan(plain.body.length);
      expect(gunzipSync(zipped.body).equals(plain.body), name).toBe(true);
    }
    expect(byName.size).toBe(6);
  });

  it('unknown asset names and paths outside the assets answer 404', async () => {
    const { tags } = await pageOf(server);
    const real = tags[0]!.url;
    for (const bad of [
      real.replace(/\.[0-9a-f]{16}\./, '.0000000000000000.'),
      '/console/assets/graphiql.min.js',
      '/console/assets/..%2Fpackage.json',
      '/console/assets/%2e%2e%2f%2e%2e%2fpackage.json',
      '/console/assets/',
      '/console/assets/x/../../../package.json',
      '/console/nope',
    ]) {
      const res = await get(`${server.url}${bad}`);
      expect(res.status, bad).toBe(404);
      expect(res.body.toString('utf8'), bad).not.toContain('"name": "coffer"');
    }
  });

  it('no external URL in anything it serves: only never-fetched strings, each known by file, count and context', async () => {
    const { html, tags } = await pageOf(server);
    const files = new Map<string, string>([['console.html', html]]);
    for (const tag of tags) {
      const name = tag.url.replace(/^\/console\/assets\/|\.[0-9a-f]{16}(?=\.)/g, '');
      files.set(name, (await get(`${server.url}${tag.url}`)).body.toString('utf8'));
    }
    const unexplained: string[] = [];
    const counts = new Map<string, number>();
    for (const [file, text] of files) {
      for (const match of text.matchAll(/https?:\/\/[^\s"'`<>()\\,;]*/g)) {
        const before = text.slice(Math.max(0, match.index - 200), match.index);
        const known = KNOWN_URLS.find((k) => k.file === file && k.url === match[0] && k.context.test(before));
        if (!known) unexplained.push(`${file}: ${match[0]} after …${before.slice(-60)}`);
        else counts.set(`${file} ${match[0]}`, (counts.get(`${file} ${match[0]}`) ?? 0) + 1);
      }
      // Protocol-relative references and CSS imports or url()s that are not data: would load something too.
      expect(text.match(/["'(]\/\/[a-z0-9.-]+\.[a-z]{2,}/gi) ?? [], file).toEqual([]);
      if (file.endsWith('.css')) {
        expect(text, file).not.toContain('@import');
        expect([...text.matchAll(/url\(\s*["']?([^"')]*)/g)].map((m) => m[1]!).filter((u) => !u.startsWith('data:')), file).toEqual([]);
      }
    }
    expect(unexplained).toEqual([]);
    expect(Object.fromEntries(counts)).toEqual(Object.fromEntries(KNOWN_URLS.map((k) => [`${k.file} ${k.url}`, k.count])));
    // The page and the console's own files name no URL at all.
    for (const file of ['console.html', 'console.js', 'console.css']) expect(files.get(file), file).not.toMatch(/https?:\/\//);
  });

  it('CONSOLE_ENABLED=false: /console and its assets answer 404, the API is unchanged', async () => {
    expect(off.config.consoleEnabled).toBe(false);
    const { tags } = await pageOf(server);
    for (const route of ['/console', ...tags.map((t) => t.url)]) {
      const res = await get(`${off.url}${route}`);
      expect(res.status, route).toBe(404);
      expect(JSON.parse(res.body.toString('utf8'))).toMatchObject({ errors: [{ extensions: { code: 'NOT_FOUND' } }] });
    }
    const owner = await signUp(off, 'No Console Co');
    expectOk(await off.gql(ME_QUERY, {}, owner.accessToken));
    expectCode(await off.gql(ME_QUERY), 'UNAUTHENTICATED');
  });

  it('what the console sends (a JSON POST) passes Apollo\'s CSRF prevention; a simple cross-site request (text/plain POST) is refused', async () => {
    const owner = await signUp(server, 'Csrf Console Co');
    const post = (contentType: string) =>
      fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': contentType, authorization: `Bearer ${owner.accessToken}` },
        body: JSON.stringify({ query: ME_QUERY }),
      });
    expect((await post('application/json')).status).toBe(200);
    expect((await post('text/plain')).status).toBe(400);
  });
});

describe('CONSOLE_ENABLED', () => {
  const load = (overrides: Record<string, string>) => loadConfig(testEnv(overrides), { warn: () => {} });

  it('is on by default in development, test and production; true/false, 1/0, yes/no set it', () => {
    expect(load({ NODE_ENV: 'development' }).consoleEnabled).toBe(true);
    expect(load({}).consoleEnabled).toBe(true);
    expect(load({ NODE_ENV: 'production', MONGODB_URI: inject('mongoUri') }).consoleEnabled).toBe(true);
    expect(load({ CONSOLE_ENABLED: '' }).consoleEnabled).toBe(true);
    for (const value of ['false', '0', 'no', 'FALSE']) expect(load({ CONSOLE_ENABLED: value }).consoleEnabled, value).toBe(false);
    for (const value of ['true', '1', 'yes']) expect(load({ CONSOLE_ENABLED: value }).consoleEnabled, value).toBe(true);
  });

  it('refuses anything else, naming the variable', () => {
    try {
      load({ CONSOLE_ENABLED: 'maybe' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems.some((p) => p.startsWith('CONSOLE_ENABLED:'))).toBe(true);
    }
  });
});
