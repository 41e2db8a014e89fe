import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, signUp, type Signed } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { mustCreateSubject } from '../privacy/support.js';
import { mustPurpose, onServer, status, unsubscribeUrl } from './support.js';

/**
 * The public pages in a real browser: Debian's Chromium driven by playwright-core (never a
 * browser download). CI installs /usr/bin/chromium (.ci/run); without it these tests skip.
 */
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`browser tests skipped: ${CHROMIUM} is absent (apt-get install -y chromium)`);

const require = createRequire(import.meta.url);
const AXE = hasChromium ? readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8') : '';

let server: TestServer;
let owner: Signed;
const profiles: string[] = [];

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'];

/** A browser with a fresh profile (--user-data-dir, which playwright passes as the persistent context's directory). */
async function openBrowser(options: { javaScriptEnabled: boolean; bypassCSP?: boolean }): Promise<BrowserContext> {
  const profile = mkdtempSync(path.join(tmpdir(), 'coffer-chromium-'));
  profiles.push(profile);
  return chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS, headless: true, ...options });
}

describe.skipIf(!hasChromium)('public pages in Chromium', () => {
  beforeAll(async () => {
    server = await startServer({ UNSUBSCRIBE_BASE_URL: 'https://mail.example.test' });
    owner = await signUp(server, 'Browser Bakery');
    await mustPurpose(server, owner, 'newsletter');
  });
  afterAll(async () => {
    await server?.close();
    for (const profile of profiles) rmSync(profile, { recursive: true, force: true });
  });

  /** axe-core, injected into the page (the page's own CSP allows no script, so the context bypasses CSP for the check only). */
  async function seriousViolations(page: Page): Promise<string[]> {
    await page.evaluate(AXE);
    const result = await page.evaluate(async () => {
      const axe = (globalThis as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: { id: string; impact: string | null }[] }> } }).axe;
      return axe.run((globalThis as unknown as { document: unknown }).document, { resultTypes: ['violations'] });
    });
    return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id);
  }

  async function newPage(): Promise<Page> {
    const context = await openBrowser({ javaScriptEnabled: true, bypassCSP: true });
    return context.pages()[0] ?? context.newPage();
  }

  it('unsubscribe: shows tenant and channel, confirm by keyboard, sees the confirmation; the API shows the opt-out; no serious accessibility violation', async () => {
    const subject = await mustCreateSubject(server, owner, { email: 'browser.unsub@example.org' });
    const url = onServer(server, await unsubscribeUrl(server, owner, subject.id, 'EMAIL', 'newsletter'));
    const page = await newPage();
    await page.goto(url);
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    const text = await page.locator('main').innerText();
    expect(text).toContain('Browser Bakery');
    expect(text).toContain('email');
    expect(await seriousViolations(page)).toEqual([]);
    expect((await status(server, owner, subject.id)).channels).toEqual([]); // opening the page changed nothing
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } | null } }).document.activeElement?.id)).toBe('confirm');
    await Promise.all([page.waitForURL(url), page.keyboard.press('Enter')]);
    await page.locator('#done').waitFor();
    expect(await page.locator('h1').innerText()).toContain('You are unsubscribed');
    expect(await seriousViolations(page)).toEqual([]);
    expect((await status(server, owner, subject.id)).channels).toEqual([{ channel: 'EMAIL', purpose: 'newsletter', optedOut: true }]);
    await page.context().close();
  });

  it('double opt-in: opens the confirmation link, clicks, and the consent is recorded; works without JavaScript', async () => {
    const subject = await mustCreateSubject(server, owner, { email: 'browser.doi@example.org' });
    const link = expectOk(await server.gql<{ requestConsentConfirmation: { url: string } }>(
      'mutation($s: ID!) { requestConsentConfirmation(subjectId: $s, purpose: "newsletter", channel: EMAIL) { url } }', { s: subject.id }, owner.accessToken)).requestConsentConfirmation;
    const page = await newPage();
    await page.goto(onServer(server, link.url));
    expect(await page.locator('main').innerText()).toContain('Browser Bakery');
    expect(await seriousViolations(page)).toEqual([]);
    expect((await status(server, owner, subject.id)).entries).toEqual([]);
    await page.getByRole('button', { name: 'Yes, I agree' }).click();
    await page.locator('#done').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    expect((await status(server, owner, subject.id)).entries).toEqual([expect.objectContaining({ purpose: 'newsletter', channel: 'EMAIL', granted: true, method: 'DOUBLE_OPT_IN' })]);
    await page.context().close();

    // Without JavaScript (and so without cookies or scripts of any kind) the unsubscribe form still works.
    const other = await mustCreateSubject(server, owner, { email: 'browser.nojs@example.org' });
    const context = await openBrowser({ javaScriptEnabled: false });
    const plain = context.pages()[0] ?? (await context.newPage());
    await plain.goto(onServer(server, await unsubscribeUrl(server, owner, other.id, 'EMAIL', 'newsletter')));
    await plain.getByRole('button', { name: 'Confirm unsubscribe' }).click();
    await plain.locator('#done').waitFor();
    expect(await context.cookies()).toEqual([]);
    expect((await status(server, owner, other.id)).channels).toEqual([{ channel: 'EMAIL', purpose: 'newsletter', optedOut: true }]);
    await context.close();
  });
});
