import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page, type Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectOk, signUp, type Signed } from '../support/auth.js';
import { mustCreate } from '../support/vault.js';
import { startServer, type TestServer } from '../support/server.js';

/**
 * The admin console in a real browser: Debian's Chromium driven by playwright-core (never a
 * browser download), offline as CI is: every request to a host other than the loopback test
 * server is recorded and aborted, and none may be attempted. Without /usr/bin/chromium these
 * tests skip (CI installs it, see .ci/run).
 */
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`admin console browser tests skipped: ${CHROMIUM} is absent (apt-get install -y chromium)`);

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'];

const profiles: string[] = [];

interface Session {
  context: BrowserContext;
  page: Page;
  /** Every request the page made, in order. */
  requests: Request[];
  /** Requests to anything but the test server, aborted. */
  external: string[];
  /** Console errors (CSP violations and failed loads among them) and uncaught page errors. */
  problems: string[];
}

/** A fresh browser profile; everything not addressed to `origin` is aborted and recorded. */
async function openConsole(server: TestServer): Promise<Session> {
  const profile = mkdtempSync(path.join(tmpdir(), 'coffer-console-'));
  profiles.push(profile);
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS, headless: true });
  const origin = new URL(server.url).origin;
  const session: Session = { context, page: context.pages()[0] ?? (await context.newPage()), requests: [], external: [], problems: [] };
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin) return route.continue();
    session.external.push(url);
    return route.abort('internetdisconnected');
  });
  session.page.on('request', (request) => session.requests.push(request));
  session.page.on('console', (message) => {
    if (message.type() === 'error') session.problems.push(message.text());
  });
  session.page.on('pageerror', (error) => session.problems.push(`pageerror: ${error.message}`));
  await session.page.goto(`${server.url}/console`);
  await session.page.locator('.graphiql-container').waitFor();
  return session;
}

/** Runs the operation in the query editor and waits for the result pane to show `expected`. */
async function runAndRead(page: Page, expected: string): Promise<string> {
  await page.locator('.graphiql-execute-button').click();
  const result = page.locator('.graphiql-response');
  await expect.poll(async () => result.innerText(), { timeout: 15_000 }).toContain(expected);
  return result.innerText();
}

/** Replaces the text of a GraphiQL editor (CodeMirror 5 keeps its instance on its element). */
async function setEditor(page: Page, selector: string, text: string): Promise<void> {
  await page.evaluate(
    ([css, value]) => {
      type Editor = { CodeMirror: { setValue(value: string): void } };
      const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<Editor> } }).document;
      const found = doc.querySelectorAll(css);
      if (found.length !== 1) throw new Error(`expected one editor for ${css}, found ${found.length}`);
      found[0]!.CodeMirror.setValue(value);
    },
    [selector, text] as const,
  );
}

async function useToken(page: Page, token: string): Promise<void> {
  await page.locator('#console-token').fill(token);
  await page.locator('#console-token').press('Enter');
}

/** GraphQL POSTs the page sent, with the Authorization header each carried (or null). */
async function graphqlPosts(requests: Request[]): Promise<{ authorization: string | null; contentType: string | null; body: string }[]> {
  const posts = requests.filter((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/graphql');
  return Promise.all(
    posts.map(async (r) => {
      const headers = await r.allHeaders();
      return { authorization: headers.authorization ?? null, contentType: headers['content-type'] ?? null, body: r.postData() ?? '' };
    }),
  );
}

describe.skipIf(!hasChromium)('admin console in Chromium, offline', () => {
  let server: TestServer;
  let owner: Signed;

  beforeAll(async () => {
    server = await startServer();
    owner = await signUp(server, 'Console Co');
  });
  afterAll(async () => {
    await server?.close();
    for (const profile of profiles) rmSync(profile, { recursive: true, force: true });
  });

  it('loads from this server alone, runs a query with a pasted token and shows the answer; without the token the same query is UNAUTHENTICATED', async () => {
    const session = await openConsole(server);
    const { page } = session;
    try {
      await useToken(page, owner.accessToken);
      const answer = await runAndRead(page, owner.email);
      expect(answer).toContain('"role": "OWNER"');
      expect(answer).toContain('Console Co');

      await page.locator('#console-token-clear').click();
      const refused = await runAndRead(page, 'UNAUTHENTICATED');
      expect(refused).not.toContain(owner.email);

      const posts = await graphqlPosts(session.requests);
      const queries = posts.filter((p) => p.body.includes('me {'));
      expect(queries.map((p) => p.authorization)).toEqual([`Bearer ${owner.accessToken}`, null]);
      // The schema is asked for on load, and again whenever the token changes, with that token.
      const introspections = posts.filter((p) => p.body.includes('__schema'));
      expect(introspections.map((p) => p.authorization)).toEqual([null, `Bearer ${owner.accessToken}`, null]);
      for (const post of posts) expect(post.contentType).toBe('application/json'); // Apollo's CSRF prevention lets it through

      // The schema came through the same endpoint (introspection is open in this test
      // environment): the docs explorer lists it. Opening a dialog (GraphiQL's settings) is
      // what needs style-src 'unsafe-inline'; nothing is refused.
      await page.getByLabel('Show Documentation Explorer').click();
      await page.locator('.graphiql-doc-explorer').getByText('Root Types').waitFor();
      await page.getByLabel('Open settings dialog').click();
      await page.getByRole('dialog').waitFor();
      await page.keyboard.press('Escape');

      // Offline: nothing but this server was asked for anything; no CSP violation, no script error.
      expect(session.external).toEqual([]);
      expect(session.requests.map((r) => new URL(r.url()).origin).filter((o) => o !== new URL(server.url).origin)).toEqual([]);
      expect(session.problems).toEqual([]);

      // The token went nowhere else: not in a URL, a cookie or Web Storage (GraphiQL's storage is in memory).
      expect(session.requests.filter((r) => r.url().includes(owner.accessToken))).toEqual([]);
      expect(page.url()).toBe(`${server.url}/console`);
      expect(await session.context.cookies()).toEqual([]);
      const stored = await page.evaluate(() => {
        const w = globalThis as unknown as { localStorage: { length: number }; sessionStorage: { length: number } };
        return { local: w.localStorage.length, session: w.sessionStorage.length };
      });
      expect(stored).toEqual({ local: 0, session: 0 });
    } finally {
      await session.context.close();
    }
  });

  it('an Authorization header typed into the headers editor is used, wins over the token field, and is not stored', async () => {
    const session = await openConsole(server);
    const { page } = session;
    try {
      await useToken(page, 'not-a-valid-token');
      await page.getByRole('button', { name: 'Headers' }).click();
      const headers = JSON.stringify({ Authorization: `Bearer ${owner.accessToken}` });
      await setEditor(page, '.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror', headers);
      await runAndRead(page, owner.email);
      const sent = (await graphqlPosts(session.requests)).filter((p) => p.body.includes('me {'));
      expect(sent.map((p) => p.authorization)).toEqual([`Bearer ${owner.accessToken}`]);
      expect(session.external).toEqual([]);
      expect(session.problems).toEqual([]);
      expect(await page.evaluate(() => (globalThis as unknown as { localStorage: { length: number } }).localStorage.length)).toBe(0);
    } finally {
      await session.context.close();
    }
  });
  it('an API key pasted into the token field works like an access token', async () => {
    await mustCreate(server, owner, 'ops/console-db-password', 'a value the console must not store');
    const created = expectOk(
      await server.gql<{ createApiKey: { apiKey: string } }>(
        'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey } }',
        { input: { name: 'console', role: 'USER', prefixes: ['ops/'] } },
        owner.accessToken,
      ),
    ).createApiKey;
    const session = await openConsole(server);
    const { page } = session;
    try {
      await useToken(page, created.apiKey);
      await setEditor(page, '.graphiql-query-editor .CodeMirror', '{ secrets(filter: { prefix: "ops/" }) { edges { node { name } } } }');
      await runAndRead(page, 'ops/console-db-password');
      const sent = (await graphqlPosts(session.requests)).filter((p) => p.body.includes('secrets('));
      expect(sent.map((p) => p.authorization)).toEqual([`Bearer ${created.apiKey}`]);
      expect(session.external).toEqual([]);
      expect(session.problems).toEqual([]);
    } finally {
      await session.context.close();
    }
  });
});

describe.skipIf(!hasChromium)('admin console in production with Sandbox off', () => {
  let server: TestServer;
  let owner: Signed;

  beforeAll(async () => {
    server = await startServer({ NODE_ENV: 'production', MONGODB_URI: inject('mongoUri'), SANDBOX_ENABLED: 'false', SIGNUP_MODE: 'open' });
    owner = await signUp(server, 'Prod Console Co');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('is served by default, gets no schema anonymously (the console does not bypass the introspection rules), and runs queries with a token', async () => {
    expect(server.config.consoleEnabled).toBe(true);
    const session = await openConsole(server);
    const { page } = session;
    try {
      // GraphiQL asks for the schema on load, through /graphql like any client, and is refused.
      const introspection = page.waitForResponse((r) => r.request().method() === 'POST' && (r.request().postData() ?? '').includes('__schema'));
      await page.getByLabel('Re-fetch GraphQL schema').click();
      const refused = (await (await introspection).json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
      expect(refused.data ?? null).toBeNull();
      expect(refused.errors?.length).toBeGreaterThan(0);

      await useToken(page, owner.accessToken);
      await runAndRead(page, owner.email);
      expect(session.external).toEqual([]);
    } finally {
      await session.context.close();
    }
  });
});
