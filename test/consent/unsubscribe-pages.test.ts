import type { JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signLink } from '../../src/modules/consent/consent-links.js';
import { expectCode, expectOk, signUp, type Signed } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { mustCreateSubject } from '../privacy/support.js';
import { mustPurpose, onServer, status, unsubscribeUrl } from './support.js';

let server: TestServer;
let owner: Signed;
let jwks: JSONWebKeySet;
beforeAll(async () => {
  server = await startServer({ UNSUBSCRIBE_BASE_URL: 'https://mail.example.test/' });
  owner = await signUp(server, 'Pages & Co <Ltd>');
  jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
  await mustPurpose(server, owner, 'newsletter');
});
afterAll(async () => {
  await server?.close();
});

const ledgerCount = () => server.db.collection('consent_ledger').countDocuments({});
const oneClick = (url: string) =>
  fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'MailProvider/1.0' }, body: 'List-Unsubscribe=One-Click' });

describe('unsubscribe links and pages', () => {
  it('issues RFC 8058 headers with an https link under UNSUBSCRIBE_BASE_URL', async () => {
    const subject = await mustCreateSubject(server, owner, { email: 'h1@example.org' });
    const headers = expectOk(await server.gql<{ emailUnsubscribeHeaders: { listUnsubscribe: string; listUnsubscribePost: string; url: string; expiresAt: string } }>(
      'query($s: ID!) { emailUnsubscribeHeaders(subjectId: $s, purpose: "newsletter") { listUnsubscribe listUnsubscribePost url expiresAt } }', { s: subject.id }, owner.accessToken)).emailUnsubscribeHeaders;
    expect(headers.url).toMatch(/^https:\/\/mail\.example\.test\/unsubscribe\/[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(headers.listUnsubscribe).toBe(`<${headers.url}>`);
    expect(headers.listUnsubscribePost).toBe('List-Unsubscribe=One-Click');
    const days = (new Date(headers.expiresAt).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(89);
    expect(days).toBeLessThan(91);
    expectCode(await server.gql('query($s: ID!) { unsubscribeLink(subjectId: $s, channel: EMAIL, purpose: "newsletter", validForDays: 29) { url } }', { s: subject.id }, owner.accessToken), 'BAD_USER_INPUT');
  });

  it('GET shows the tenant and channel and never opts out; the one-click POST opts out with 200, idempotently, audited as PUBLIC', async () => {
    const subject = await mustCreateSubject(server, owner, { email: 'h2@example.org', fullName: 'Page Person' });
    const url = onServer(server, await unsubscribeUrl(server, owner, subject.id, 'EMAIL', 'newsletter'));
    const before = await ledgerCount();
    for (let i = 0; i < 3; i += 1) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("form-action 'self'");
      expect(res.headers.get('set-cookie')).toBeNull();
      const html = await res.text();
      expect(html).toContain('<html lang="en">');
      expect(html).toContain('Pages &amp; Co &lt;Ltd&gt;');
      expect(html).toContain('email');
      expect(html).not.toMatch(/<script|https?:\/\/|h2@example|Page Person/);
    }
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await ledgerCount()).toBe(before);
    expect((await status(server, owner, subject.id)).channels).toEqual([]);

    const first = await oneClick(url);
    expect(first.status).toBe(200);
    expect(await first.text()).toContain('unsubscribed');
    const after = await ledgerCount();
    expect(after).toBe(before + 1);
    const second = await oneClick(url);
    expect(second.status).toBe(200);
    expect(await ledgerCount()).toBe(after);
    expect((await status(server, owner, subject.id)).channels).toEqual([{ channel: 'EMAIL', purpose: 'newsletter', optedOut: true }]);
    const record = await server.db.collection('consent_ledger').findOne({ subjectId: subject.id });
    expect(record).toMatchObject({ kind: 'OPT_OUT', reason: 'ONE_CLICK', source: 'EMAIL_HEADER', actor: { type: 'PUBLIC', id: null } });
    expect(typeof record!.proof).toBe('string');
    expect(JSON.stringify(record)).not.toContain('MailProvider');
    const event = await server.db.collection('audit_events').findOne({ tenantId: owner.tenantId, action: 'consent.opted_out', 'resource.id': subject.id });
    expect(event).toMatchObject({ actor: { type: 'PUBLIC', id: null }, ip: null, userAgent: null, details: { reason: 'ONE_CLICK', source: 'EMAIL_HEADER', channel: 'EMAIL' } });
  });

  it('refuses tampered, expired, wrong-kind and other-tenant tokens with a page that reveals nothing, and writes nothing', async () => {
    const subject = await mustCreateSubject(server, owner, { email: 'h3@example.org' });
    const url = onServer(server, await unsubscribeUrl(server, owner, subject.id, 'EMAIL', 'newsletter'));
    const token = url.slice(url.lastIndexOf('/') + 1);
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    const otherSubject = await mustCreateSubject(server, owner, { email: 'h3b@example.org' });
    const swapped = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: otherSubject.id })).toString('base64url')}.${s}`;
    const signer = { privateKey: server.config.jwt.privateKey, kid: jwks.keys[0]!.kid! };
    const expired = (await signLink('unsubscribe', { tenantId: owner.tenantId, subjectId: subject.id, channel: 'EMAIL', purposeKey: 'newsletter', noticeVersion: null }, -1, signer, server.config.jwt.issuer)).token;
    const wrongKind = (await signLink('confirmation', { tenantId: owner.tenantId, subjectId: subject.id, channel: 'EMAIL', purposeKey: 'newsletter', noticeVersion: 1 }, 7, signer, server.config.jwt.issuer)).token;
    const before = await ledgerCount();
    for (const bad of [`${token.slice(0, -3)}abc`, swapped, expired, wrongKind, owner.accessToken, 'not-a-token']) {
      for (const res of [await fetch(`${server.url}/unsubscribe/${bad}`), await oneClick(`${server.url}/unsubscribe/${bad}`)]) {
        expect(res.status).toBe(400);
        const html = await res.text();
        expect(html).toContain('not valid');
        expect(html).not.toMatch(/h3@example|h3b@example|ds_|Pages/);
      }
    }
    // Through GraphQL: public, but a signed-in caller of another tenant may not use this tenant's token.
    const stranger = await signUp(server, 'Stranger');
    expectCode(await server.gql('mutation($t: String!) { unsubscribe(token: $t) { tenantName } }', { t: token }, stranger.accessToken), 'NOT_FOUND');
    expectCode(await server.gql('mutation($t: String!) { unsubscribe(token: $t) { tenantName } }', { t: expired }), 'NOT_FOUND');
    expect(await ledgerCount()).toBe(before);
    const viaApp = expectOk(await server.gql<{ unsubscribe: { tenantName: string; channel: string } }>('mutation($t: String!) { unsubscribe(token: $t) { tenantName channel purposeName } }', { t: token })).unsubscribe;
    expect(viaApp).toMatchObject({ tenantName: 'Pages & Co <Ltd>', channel: 'EMAIL' });
    expect(await ledgerCount()).toBe(before + 1);
  });

  it('double opt-in: the confirmation page records DOUBLE_OPT_IN consent on POST only, once', async () => {
    const subject = await mustCreateSubject(server, owner, { email: 'h4@example.org' });
    const link = expectOk(await server.gql<{ requestConsentConfirmation: { url: string } }>(
      'mutation($s: ID!) { requestConsentConfirmation(subjectId: $s, purpose: "newsletter", channel: EMAIL) { url expiresAt } }', { s: subject.id }, owner.accessToken)).requestConsentConfirmation;
    expect(link.url).toMatch(/^https:\/\/mail\.example\.test\/confirm\//);
    const url = onServer(server, link.url);
    const before = await ledgerCount();
    const get = await fetch(url);
    expect(get.status).toBe(200);
    expect(await get.text()).toContain('Confirm your consent');
    expect(await ledgerCount()).toBe(before);
    expect((await fetch(url.replace('/confirm/', '/unsubscribe/'))).status).toBe(400);
    for (let i = 0; i < 2; i += 1) {
      const post = await fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'confirm=consent' });
      expect(post.status).toBe(200);
    }
    expect(await ledgerCount()).toBe(before + 1);
    expect((await status(server, owner, subject.id)).entries).toEqual([expect.objectContaining({ purpose: 'newsletter', channel: 'EMAIL', granted: true })]);
    expect(await server.db.collection('consent_ledger').findOne({ subjectId: subject.id })).toMatchObject({ method: 'DOUBLE_OPT_IN', actor: { type: 'PUBLIC' } });
  });

  it('double opt-in: a confirmation link is single-use, so it cannot re-grant consent after a withdrawal', async () => {
    const subject = await mustCreateSubject(server, owner, { email: 'h5@example.org' });
    const link = expectOk(await server.gql<{ requestConsentConfirmation: { url: string } }>(
      'mutation($s: ID!) { requestConsentConfirmation(subjectId: $s, purpose: "newsletter", channel: EMAIL) { url expiresAt } }', { s: subject.id }, owner.accessToken)).requestConsentConfirmation;
    const url = onServer(server, link.url);
    const post = () => fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'confirm=consent' });
    const records = () => server.db.collection('consent_ledger').countDocuments({ subjectId: subject.id });

    const first = await post();
    expect(first.status).toBe(200);
    const confirmed = (page: string) => page.match(/<h1 id="done">[^<]*<\/h1>/)?.[0];
    const firstPage = confirmed(await first.text());
    expect(firstPage).toBeTruthy();
    expect(await records()).toBe(1);

    expectOk(await server.gql('mutation($s: ID!) { withdrawConsent(subjectId: $s, purpose: "newsletter", channel: EMAIL) { id } }', { s: subject.id }, owner.accessToken));
    expect(await records()).toBe(2);

    // The same link again (twice at once, too): the same page, nothing written, still withdrawn.
    const again = await Promise.all([post(), post()]);
    for (const response of again) {
      expect(response.status).toBe(200);
      expect(confirmed(await response.text())).toBe(firstPage);
    }
    expect(await records()).toBe(2);
    expect((await status(server, owner, subject.id)).entries).toEqual([expect.objectContaining({ purpose: 'newsletter', channel: 'EMAIL', granted: false })]);
    // What made it single-use: the token's mark (no personal data in it).
    const marks = await server.db.collection('consent_used_links').find({ tenantId: owner.tenantId }).toArray();
    expect(marks.length).toBeGreaterThanOrEqual(1);
    for (const mark of marks) expect(Object.keys(mark).sort()).toEqual(['_id', 'expiresAt', 'tenantId', 'usedAt']);
  });

  it('double opt-in: two concurrent first POSTs of one link record one grant', async () => {
    const subject = await mustCreateSubject(server, owner, { email: 'h6@example.org' });
    const link = expectOk(await server.gql<{ requestConsentConfirmation: { url: string } }>(
      'mutation($s: ID!) { requestConsentConfirmation(subjectId: $s, purpose: "newsletter", channel: EMAIL) { url expiresAt } }', { s: subject.id }, owner.accessToken)).requestConsentConfirmation;
    const url = onServer(server, link.url);
    const responses = await Promise.all(Array.from({ length: 4 }, () => fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'confirm=consent' })));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(await server.db.collection('consent_ledger').countDocuments({ subjectId: subject.id })).toBe(1);
  });
});

describe('rate limit', () => {
  it('limits the public pages per IP', async () => {
    const limited = await startServer({ AUTH_RATE_LIMIT_PER_MINUTE: '3' });
    try {
      const statuses = [];
      for (let i = 0; i < 5; i += 1) statuses.push((await fetch(`${limited.url}/unsubscribe/x`)).status);
      expect(statuses).toEqual([400, 400, 400, 429, 429]);
    } finally {
      await limited.close();
    }
  });
});
