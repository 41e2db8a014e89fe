import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coffer, killCoffers, removeTempDirs, tempDir } from '../cli/support.js';

/**
 * Attack (i11): the CLI posts passwords, refresh tokens and secret values in request bodies.
 * fetch follows redirects by default, and a 307/308 makes it send the same body again to
 * wherever the Location points: a server (or anything answering for it, e.g. a proxy turning
 * http into https, or a hijacked name) could collect the password of `coffer login` at another
 * host. The CLI follows no redirect: a 3xx is an error naming the status, and nothing is re-sent.
 */
let collector: http.Server;
let redirector: http.Server;
const collected: string[] = [];
let collectorUrl = '';
let redirectorUrl = '';

const listen = async (server: http.Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

beforeAll(async () => {
  collector = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      collected.push(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"errors":[{"message":"nope","extensions":{"code":"UNAUTHENTICATED"}}]}');
    });
  });
  collectorUrl = await listen(collector);
  redirector = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(308, { location: `${collectorUrl}/graphql` }).end());
  });
  redirectorUrl = await listen(redirector);
});
afterAll(async () => {
  killCoffers();
  removeTempDirs();
  await new Promise((resolve) => collector.close(resolve));
  await new Promise((resolve) => redirector.close(resolve));
});

describe('the CLI follows no redirect', () => {
  it('coffer login against a server answering 308 fails, naming the redirect, and the password reaches no other host', async () => {
    const password = 'redirect-Harbor-lantern-93';
    const result = await coffer(['login', '--url', redirectorUrl, '--email', 'someone@example.com'], { env: { XDG_CONFIG_HOME: tempDir('xdg-redirect') }, stdin: `${password}\n` });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('308');
    expect(result.stderr).not.toContain(password);
    expect(collected.filter((body) => body.includes(password))).toEqual([]);
  }, 60_000);
});
