import { inject, afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { tokenMatches } from '../../src/observability/http-metrics.js';
import { expectCode, login, signUp, uniqueEmail } from '../support/auth.js';
import { testEnv } from '../support/server.js';
import { parseExposition, scrape, startMetricsServer, valueOf, type MetricsTestServer } from './support.js';

const TOKEN = 'm3tr1cs-token-0123456789abcdef0123456789abcdef';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(testEnv(env), { warn: () => {} });
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('metrics exposure: configuration', () => {
  const production = { NODE_ENV: 'production', MONGODB_URI: 'mongodb://db.internal:27017/coffer' };

  it('serves /metrics open on the main port only outside production with neither a port nor a token', () => {
    expect(loadConfig(testEnv(), { warn: () => {} }).metrics).toEqual({ port: null, host: '127.0.0.1', token: null, openOnMainPort: true });
    expect(loadConfig(testEnv(production), { warn: () => {} }).metrics.openOnMainPort).toBe(false);
    expect(loadConfig(testEnv({ METRICS_TOKEN: TOKEN }), { warn: () => {} }).metrics).toMatchObject({ token: TOKEN, openOnMainPort: false });
    expect(loadConfig(testEnv({ ...production, METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' }), { warn: () => {} }).metrics).toEqual({
      port: 9464,
      host: '0.0.0.0',
      token: null,
      openOnMainPort: false,
    });
  });

  it('refuses at start-up a metrics port that is the public port, a weak token, and (production) a host without a port', () => {
    expect(problemsOf({ ...production, METRICS_PORT: '4000' })).toEqual([expect.stringMatching(/^METRICS_PORT: must differ from PORT \(metrics must never be served open on the public port/)]);
    expect(problemsOf({ PORT: '8080', METRICS_PORT: '8080' })).toEqual([expect.stringMatching(/^METRICS_PORT: must differ from PORT/)]);
    expect(problemsOf({ METRICS_TOKEN: 'short' })).toEqual(['METRICS_TOKEN: at least 32 printable characters without spaces (e.g. openssl rand -hex 32)']);
    expect(problemsOf({ METRICS_TOKEN: `${'a'.repeat(20)} ${'b'.repeat(20)}` })).toHaveLength(1);
    expect(problemsOf({ ...production, METRICS_HOST: '0.0.0.0' })).toEqual([expect.stringMatching(/^METRICS_HOST: set, but METRICS_PORT is not/)]);
    expect(problemsOf({ METRICS_PORT: '70000' })).toEqual(['METRICS_PORT: must be a whole number from 0 to 65535']);
  });

  it('compares tokens by their digests, whatever their lengths', () => {
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    expect(tokenMatches(`${TOKEN}x`, TOKEN)).toBe(false);
    expect(tokenMatches('', TOKEN)).toBe(false);
    expect(tokenMatches(TOKEN.replace(/.$/, 'X'), TOKEN)).toBe(false);
  });
});

describe('metrics exposure: over HTTP', () => {
  const servers: MetricsTestServer[] = [];
  const start = async (env: Record<string, string>) => {
    const server = await startMetricsServer(env);
    servers.push(server);
    return server;
  };
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it('behind METRICS_TOKEN: no, malformed or wrong tokens get 401 UNAUTHENTICATED and no metric; the token gets them', async () => {
    const server = await start({ METRICS_TOKEN: TOKEN });
    const url = `${server.url}/metrics`;
    const attempts: Record<string, string>[] = [{}, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }, { authorization: `Bearer ${TOKEN}x` }, { authorization: `Bearer ${TOKEN.slice(0, -1)}` }, { authorization: 'Bearer ' }];
    for (const headers of attempts) {
      const refused = await scrape(url, headers);
      expect(refused.status, JSON.stringify(headers)).toBe(401);
      expect(JSON.parse(refused.text)).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
      expect(refused.text).not.toContain('coffer_');
    }
    const ok = await scrape(url, { authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
    expect(ok.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(ok.text).toContain('# HELP coffer_http_requests_total');
    // The refusals were counted as 4xx of route metrics, not as anything else.
    expect(valueOf(parseExposition(ok.text).samples, 'coffer_http_requests_total', { route: 'metrics', status_class: '4xx' })).toBe(6);
  });

  it('with METRICS_PORT: a listener of its own serves GET /metrics only; the main port serves none', async () => {
    const server = await start({ METRICS_PORT: '0' });
    expect((await scrape(`${server.url}/metrics`)).status).toBe(404);
    const url = server.app.metricsUrl();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const ok = await scrape(url!);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('coffer_process_cpu_seconds_total');
    expect((await scrape(url!.replace('/metrics', '/graphql'))).status).toBe(404);
    expect((await fetch(url!, { method: 'POST' })).status).toBe(404);
  });

  it('in production without a token, /metrics is not served on the main port at all', async () => {
    const server = await start({ NODE_ENV: 'production', MONGODB_URI: inject('mongoUri') });
    const refused = await scrape(`${server.url}/metrics`);
    expect(refused.status).toBe(404);
    expect(refused.text).not.toContain('coffer_');
  });

  it('counts HTTP 429s of the API-wide limit, and scrapes still succeed during the storm', async () => {
    const server = await start({ RATE_LIMIT_PER_MINUTE: '3' });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await fetch(`${server.url}/.well-known/jwks.json`)).status);
    const refused = statuses.filter((s) => s === 429).length;
    expect(refused).toBeGreaterThanOrEqual(3);
    const res = await scrape(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    const { samples } = parseExposition(res.text);
    expect(valueOf(samples, 'coffer_rate_limit_rejections_total', { limiter: 'request' })).toBe(refused);
    expect(valueOf(samples, 'coffer_http_requests_total', { route: 'jwks', status_class: '4xx' })).toBe(refused);
  });

  it('counts RATE_LIMITED answers of the sign-in limit as limiter auth', async () => {
    const server = await start({ AUTH_RATE_LIMIT_PER_MINUTE: '2' });
    const owner = await signUp(server, 'Throttled');
    let limited = 0;
    for (let i = 0; i < 5; i++) {
      const res = await login(server, i % 2 ? owner.email : uniqueEmail('x'), 'wrong-password-1');
      if (res.errors?.[0]?.extensions.code === 'RATE_LIMITED') limited++;
    }
    expect(limited).toBeGreaterThan(0);
    expectCode(await login(server, owner.email, 'wrong-password-1'), 'RATE_LIMITED');
    const { samples } = parseExposition((await scrape(`${server.url}/metrics`)).text);
    expect(valueOf(samples, 'coffer_rate_limit_rejections_total', { limiter: 'auth' })).toBe(limited + 1);
    expect(valueOf(samples, 'coffer_graphql_errors_total', { code: 'RATE_LIMITED' })).toBe(limited + 1);
    expect(valueOf(samples, 'coffer_rate_limit_rejections_total', { limiter: 'request' })).toBe(0);
  });
});
