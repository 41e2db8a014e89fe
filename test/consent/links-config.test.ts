import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import { expectCode, expectOk, signUp, type Signed } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { mustCreateSubject } from '../privacy/support.js';
import { mustPurpose } from './support.js';

/**
 * UNSUBSCRIBE_BASE_URL in production (README "Consent"): https only (RFC 8058 one-click needs an
 * https List-Unsubscribe URL), refused at start otherwise; no default there, so an unset value
 * makes the link operations answer SERVICE_UNAVAILABLE naming the setting (and write nothing).
 */

const production = (extra: Record<string, string> = {}) => ({ NODE_ENV: 'production', MONGODB_URI: inject('mongoUri'), SIGNUP_MODE: 'open', ...extra });

const LINK = 'query($s: ID!) { unsubscribeLink(subjectId: $s, channel: EMAIL, purpose: "news") { url } }';
const HEADERS = 'query($s: ID!) { emailUnsubscribeHeaders(subjectId: $s, purpose: "news") { listUnsubscribe url } }';
const CONFIRM = 'mutation($s: ID!) { requestConsentConfirmation(subjectId: $s, purpose: "news", channel: EMAIL) { url } }';

async function tenant(server: TestServer, name: string): Promise<{ owner: Signed; subjectId: string }> {
  const owner = await signUp(server, name);
  await mustPurpose(server, owner, 'news');
  const subject = await mustCreateSubject(server, owner, { email: `${name.toLowerCase()}@example.org` });
  return { owner, subjectId: subject.id };
}

describe('production with an http UNSUBSCRIBE_BASE_URL', () => {
  it('is refused at start, naming the variable', async () => {
    const started = startServer(production({ UNSUBSCRIBE_BASE_URL: 'http://mail.example.com' }));
    await expect(started).rejects.toBeInstanceOf(ConfigError);
    await expect(started).rejects.toMatchObject({ problems: [expect.stringMatching(/^UNSUBSCRIBE_BASE_URL: must be an https URL in production/)] });
  });
});

describe('production without UNSUBSCRIBE_BASE_URL', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(production());
  });
  afterAll(async () => {
    await server?.close();
  });

  it('issues no links: each link operation answers SERVICE_UNAVAILABLE naming the setting, and writes nothing', async () => {
    const { owner, subjectId } = await tenant(server, 'Unconfigured');
    const writesBefore = server.writes.length;
    for (const query of [LINK, HEADERS, CONFIRM]) {
      const response = await server.gql(query, { s: subjectId }, owner.accessToken);
      expectCode(response, 'SERVICE_UNAVAILABLE');
      expect(response.errors![0]!.message).toContain('UNSUBSCRIBE_BASE_URL');
    }
    // Nothing but the session's bookkeeping and the request budget (rate_limits, counted for every request).
    expect(server.writes.slice(writesBefore).filter((w) => !w.startsWith('update:sessions') && w !== 'findAndModify:rate_limits')).toEqual([]);
  });
});

describe('production with an https UNSUBSCRIBE_BASE_URL', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(production({ UNSUBSCRIBE_BASE_URL: 'https://mail.example.com/coffer/' }));
  });
  afterAll(async () => {
    await server?.close();
  });

  it('links use it', async () => {
    const { owner, subjectId } = await tenant(server, 'Configured');
    expect(expectOk(await server.gql<{ unsubscribeLink: { url: string } }>(LINK, { s: subjectId }, owner.accessToken)).unsubscribeLink.url).toMatch(/^https:\/\/mail\.example\.com\/coffer\/unsubscribe\/[\w-]+\.[\w-]+\.[\w-]+$/);
    const headers = expectOk(await server.gql<{ emailUnsubscribeHeaders: { listUnsubscribe: string } }>(HEADERS, { s: subjectId }, owner.accessToken)).emailUnsubscribeHeaders;
    expect(headers.listUnsubscribe).toMatch(/^<https:\/\/mail\.example\.com\/coffer\/unsubscribe\//);
    expect(expectOk(await server.gql<{ requestConsentConfirmation: { url: string } }>(CONFIRM, { s: subjectId }, owner.accessToken)).requestConsentConfirmation.url).toMatch(/^https:\/\/mail\.example\.com\/coffer\/confirm\//);
  });
});
