import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { mustCreateSubject } from '../privacy/support.js';
import { mustPurpose, onServer, unsubscribeUrl } from '../consent/support.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ LOG_LEVEL: 'trace', UNSUBSCRIBE_BASE_URL: 'https://mail.example.test/' });
});
afterAll(async () => server?.close());

/**
 * Regression: the request log wrote the whole path, so every visit to a public link page put
 * its token (a credential: it opts the subject out, or records consent) into the logs.
 */
describe('request log', () => {
  it('never writes the token of a public link page, valid or not, whatever the case of the path', async () => {
    const owner = await signUp(server, 'Request Log');
    await mustPurpose(server, owner, 'newsletter');
    const subject = await mustCreateSubject(server, owner, { email: 'request-log@example.org' });
    const url = onServer(server, await unsubscribeUrl(server, owner, subject.id, 'EMAIL', 'newsletter'));
    const token = url.slice(url.lastIndexOf('/') + 1);
    const forged = 'forged-link-token-7f3a9c';
    expect((await fetch(url)).status).toBe(200);
    expect((await fetch(url.replace('/unsubscribe/', '/UnSubscribe/'))).status).toBe(200);
    expect((await fetch(`${server.url}/unsubscribe/${forged}`)).status).toBe(400);
    expect((await fetch(`${server.url}/confirm/${forged}?x=1`)).status).toBe(400);
    expect((await fetch(`${server.url}/confirm/${forged}/`, { method: 'POST' })).status).toBeGreaterThanOrEqual(400);

    const requests = server.logs.map((line) => JSON.parse(line) as { msg: string; path?: string }).filter((line) => line.msg === 'request');
    const paths = requests.map((line) => line.path);
    expect(paths).toEqual(expect.arrayContaining(['/unsubscribe/:token', '/UnSubscribe/:token', '/confirm/:token', '/graphql']));
    const logs = server.logs.join('');
    for (const value of [token, token.split('.')[2]!, forged]) expect(logs.includes(value), `logs contain ${value.slice(0, 12)}…`).toBe(false);
  });
});
