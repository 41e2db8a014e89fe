import { createHash, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { connect, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp, type CofferApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { expectCode, expectOk, login, signUp, STRONG_PASSWORD, uniqueEmail } from '../support/auth.js';
import { postGraphql, request } from '../support/http.js';
import { startServer, testEnv, type TestServer } from '../support/server.js';

/** The HTTP surface: probes, security headers, CORS, request ids, CSRF, limits and error masking. */

const TYPENAME = { query: '{ __typename }' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => server?.close());

describe('probes and JWKS', () => {
  it('/healthz answers 200 ok', async () => {
    const res = await request(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'ok' });
  });

  it('/readyz answers 200 when the database is reachable', async () => {
    const res = await request(`${server.url}/readyz`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'ready' });
  });

  it('/.well-known/jwks.json publishes the Ed25519 signing key, cacheable', async () => {
    const res = await request(`${server.url}/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    expect(res.json.keys).toHaveLength(1);
    expect(res.json.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(res.json.keys[0].d).toBeUndefined();
  });

  it('an unknown path is 404 NOT_FOUND in the GraphQL error shape', async () => {
    for (const path of ['/nope', '/graphq', '/.well-known/other.json', '/healthz/x']) {
      const res = await request(`${server.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(res.json.errors[0].extensions.code).toBe('NOT_FOUND');
      expect(res.json.errors[0].extensions.requestId).toBe(res.headers.get('x-request-id'));
    }
  });
});

describe('operations the API does not have (found by the fuzz corpus)', () => {
  it('a subscription is refused as bad input (400), not answered INTERNAL_SERVER_ERROR', async () => {
    const owner = await signUp(server);
    const res = await postGraphql(server.url, { query: 'subscription { me { __typename } }' }, { authorization: `Bearer ${owner.accessToken}` });
    expect(res.status).toBe(400);
    expect(res.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.json.errors[0].message).toBe('This API has no subscription operations.');
  });

  it("a persisted query whose hash does not match its text is Apollo's 400, as BAD_USER_INPUT and not logged as an internal error", async () => {
    const logged = server.logs.length;
    const res = await postGraphql(server.url, { query: '{ __typename }', extensions: { persistedQuery: { version: 1, sha256Hash: 'deadbeef' } } });
    expect(res.status).toBe(400);
    expect(res.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.json.errors[0].message).toBe('provided sha does not match query');
    expect(server.logs.slice(logged).filter((line) => line.includes('"level":50'))).toEqual([]);
  });
});

describe('Apollo Sandbox landing page', () => {
  let prodNoSandbox: TestServer;
  let prodSandbox: TestServer;
  beforeAll(async () => {
    const production = { NODE_ENV: 'production', MONGODB_URI: inject('mongoUri') };
    prodNoSandbox = await startServer({ ...production, SANDBOX_ENABLED: 'false' });
    prodSandbox = await startServer({ ...production, SANDBOX_ENABLED: 'true' });
  });
  afterAll(async () => {
    await prodNoSandbox?.close();
    await prodSandbox?.close();
  });

  const landing = (base: string) => request(`${base}/graphql`, { headers: { accept: 'text/html' } });

  it('is served outside production, with a CSP that allows only its CDN', async () => {
    expect(server.config.nodeEnv).not.toBe('production');
    const res = await landing(server.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.text).toContain('embeddable-sandbox');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain('https://embeddable-sandbox.cdn.apollographql.com');
    expect(csp).toContain("object-src 'none'");
  });

  it('is not served in production with SANDBOX_ENABLED=false, and introspection is refused', async () => {
    expect(prodNoSandbox.config.nodeEnv).toBe('production');
    const res = await landing(prodNoSandbox.url);
    expect(res.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
    expect(res.text).not.toContain('embeddable-sandbox');
    expect(res.headers.get('content-security-policy')).not.toContain('apollographql.com');
    // Anonymous introspection is refused in production (the rule per role: introspection.test.ts).
    const introspection = await prodNoSandbox.gql('{ __schema { queryType { name } } }');
    expectCode(introspection, 'FORBIDDEN');
    expect(introspection.data ?? null).toBeNull();
  });

  it('is served in production when SANDBOX_ENABLED=true', async () => {
    const res = await landing(prodSandbox.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.text).toContain('embeddable-sandbox');
  });
});

describe('security headers', () => {
  it('helmet headers on every response, and a strict CSP on /healthz', async () => {
    const res = await request(`${server.url}/healthz`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-powered-by')).toBeNull();
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("object-src 'none'");
    expect(csp).not.toContain('unsafe-inline\' https://embeddable');
    expect(csp).not.toContain('apollographql.com');
  });

  it('POST /graphql gets the strict CSP, not the landing page one', async () => {
    const res = await postGraphql(server.url, TYPENAME);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).not.toContain('apollographql.com');
  });

  it('/graphql responses are Cache-Control: no-store, errors included', async () => {
    const ok = await postGraphql(server.url, TYPENAME);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    const bad = await postGraphql(server.url, { query: '{ me { user { id } } }' });
    expect(bad.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(bad.headers.get('cache-control')).toBe('no-store');
    const invalidJson = await postGraphql(server.url, '{"query": ');
    expect(invalidJson.headers.get('cache-control')).toBe('no-store');
    const viaGet = await request(`${server.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(viaGet.status).toBe(200);
    expect(viaGet.headers.get('cache-control')).toBe('no-store');
  });
});

describe('CORS', () => {
  let cors: TestServer;
  const allowed = 'https://app.example.com';
  const evil = 'https://evil.example';
  beforeAll(async () => {
    cors = await startServer({ CORS_ORIGINS: allowed });
  });
  afterAll(async () => cors?.close());

  const preflight = (base: string, origin: string) =>
    request(`${base}/graphql`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
    });

  it('a preflight from an allowed origin is answered with that origin', async () => {
    const res = await preflight(cors.url, allowed);
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('a POST from an allowed origin gets that origin echoed and X-Request-Id exposed', async () => {
    const res = await postGraphql(cors.url, TYPENAME, { origin: allowed });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(res.headers.get('access-control-expose-headers')).toContain('X-Request-Id');
    expect(res.headers.get('vary')).toContain('Origin');
  });

  it('a preflight or POST from another origin gets no CORS grant', async () => {
    for (const origin of [evil, 'https://app.example.com.evil.example', 'http://app.example.com', 'null']) {
      const pre = await preflight(cors.url, origin);
      expect(pre.headers.get('access-control-allow-origin'), origin).toBeNull();
      const post = await postGraphql(cors.url, TYPENAME, { origin });
      expect(post.headers.get('access-control-allow-origin'), origin).toBeNull();
    }
  });

  it('with no CORS_ORIGINS configured, no origin is granted', async () => {
    const res = await postGraphql(server.url, TYPENAME, { origin: allowed });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await preflight(server.url, allowed);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('request ids', () => {
  it('every response carries a generated x-request-id', async () => {
    const responses = await Promise.all([
      request(`${server.url}/healthz`),
      request(`${server.url}/readyz`),
      request(`${server.url}/.well-known/jwks.json`),
      request(`${server.url}/nowhere`),
      postGraphql(server.url, TYPENAME),
      postGraphql(server.url, '{not json'),
    ]);
    const ids = responses.map((r) => r.headers.get('x-request-id'));
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('a well-formed incoming id is not adopted: the server uses its own', async () => {
    // Including a UUID, so a client cannot plant (or replay) an id of the server's own form.
    for (const id of ['client-req-42', 'a.b:c_d-e', 'x'.repeat(128), randomUUID()]) {
      const res = await request(`${server.url}/healthz`, { headers: { 'x-request-id': id } });
      expect(res.headers.get('x-request-id')).toMatch(UUID);
      expect(res.headers.get('x-request-id')).not.toBe(id);
    }
  });

  it('a malformed incoming id is replaced, not echoed', async () => {
    for (const id of ['has spaces in it', 'x'.repeat(300), 'x'.repeat(129), '<script>alert(1)</script>', 'id;drop', '{"json":1}']) {
      const res = await request(`${server.url}/healthz`, { headers: { 'x-request-id': id } });
      expect(res.headers.get('x-request-id')).not.toBe(id);
      expect(res.headers.get('x-request-id')).toMatch(UUID);
    }
  });

  it('GraphQL errors carry extensions.requestId equal to the header, the server\'s id and not the client\'s', async () => {
    const res = await server.gql('{ me { user { id } } }', {}, undefined, { 'x-request-id': 'trace-me-1' });
    expect(res.headers.get('x-request-id')).toMatch(UUID);
    expect(res.errors?.[0]?.extensions.requestId).toBe(res.headers.get('x-request-id'));
    expect(JSON.stringify(res.errors)).not.toContain('trace-me-1');

    const generated = await server.gql('{ nope }');
    expect(generated.errors?.[0]?.extensions.requestId).toBe(generated.headers.get('x-request-id'));
  });

  it('every GraphQL error carries the request id, also when Apollo refuses the HTTP request itself', async () => {
    const refusals = [
      // CSRF refusal (no preflight-forcing header on a GET)
      await request(`${server.url}/graphql?query=${encodeURIComponent('{ __typename }')}`),
      // a POST whose JSON body has no query
      await postGraphql(server.url, {}),
      // invalid JSON (handled by the app's own error handler)
      await postGraphql(server.url, '{"query":'),
    ];
    for (const res of refusals) {
      expect(res.json?.errors?.[0], res.text).toBeDefined();
      expect(res.json.errors[0].extensions.requestId, res.text).toBe(res.headers.get('x-request-id'));
    }
  });
});

describe('request log', () => {
  function logLine(requestId: string): Record<string, unknown> | undefined {
    return server.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'request' && l.requestId === requestId);
  }

  it('logs one line per request with the real path, status and request id, never the bearer token', async () => {
    const owner = await signUp(server, 'Log Co');
    const clientId = `log-${randomUUID()}`;
    const res = await server.gql('{ me { user { id } } }', {}, owner.accessToken, { 'x-request-id': clientId });
    const id = res.headers.get('x-request-id')!;
    expect(id).toMatch(UUID);
    const line = logLine(id);
    expect(line, 'a request log line').toBeDefined();
    // The client's id is kept for correlation, under its own name, next to the server's.
    expect(line).toMatchObject({ method: 'POST', status: 200, requestId: id, clientRequestId: clientId });
    expect(line!.path).toBe('/graphql');
    expect(logLine(clientId)).toBeUndefined();
    expect(server.logs.join('\n')).not.toContain(owner.accessToken);
    expect(server.logs.join('\n')).not.toContain(owner.password);

    const healthClientId = `log-${randomUUID()}`;
    const health = await request(`${server.url}/healthz`, { headers: { 'x-request-id': healthClientId } });
    expect(logLine(health.headers.get('x-request-id')!)).toMatchObject({ method: 'GET', path: '/healthz', status: 200, clientRequestId: healthClientId });
  });

  it('logs no clientRequestId when the client sent none, or a malformed one', async () => {
    const plain = await request(`${server.url}/healthz`);
    const plainLine = logLine(plain.headers.get('x-request-id')!);
    expect(plainLine).toMatchObject({ method: 'GET', path: '/healthz' });
    expect(plainLine).not.toHaveProperty('clientRequestId');
    const malformed = await request(`${server.url}/healthz`, { headers: { 'x-request-id': 'has spaces <script>' } });
    const malformedLine = logLine(malformed.headers.get('x-request-id')!);
    expect(malformedLine).toMatchObject({ method: 'GET', path: '/healthz' });
    expect(malformedLine).not.toHaveProperty('clientRequestId');
    expect(server.logs.join('\n')).not.toContain('has spaces <script>');
  });

  it('audit events record the server\'s request id, never the client\'s', async () => {
    const clientId = `audit-${randomUUID()}`;
    const res = await server.gql<{ signUp: { tenant: { id: string } } }>(
      'mutation($input: SignUpInput!) { signUp(input: $input) { tenant { id } } }',
      { input: { email: uniqueEmail('audit'), password: STRONG_PASSWORD, tenantName: 'Audit Id Co' } },
      undefined,
      { 'x-request-id': clientId },
    );
    const tenantId = expectOk(res).signUp.tenant.id;
    const events = await server.db.collection('audit_events').find({ tenantId }).toArray();
    expect(events.length).toBeGreaterThan(0);
    for (const event of events) expect(event.requestId).toBe(res.headers.get('x-request-id'));
    expect(JSON.stringify(events)).not.toContain(clientId);
  });
});

describe('CSRF prevention', () => {
  const getTypename = (headers: Record<string, string> = {}) =>
    request(`${server.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, { headers });

  it('refuses a GET operation without a preflight-forcing header', async () => {
    const res = await getTypename();
    expect(res.status).toBe(400);
    expect(res.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.json.data).toBeUndefined();
    expect(res.text).toContain('CSRF');
  });

  it('refuses a simple-request POST (text/plain, form-urlencoded) even with a valid GraphQL body', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'text/plain;charset=UTF-8']) {
      const res = await request(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': type }, body: JSON.stringify(TYPENAME) });
      expect(res.status, type).toBe(400);
      expect(res.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(res.json.data).toBeUndefined();
    }
  });

  it('a mutation over a CSRF-shaped request is not executed', async () => {
    const email = uniqueEmail('csrf');
    const body = JSON.stringify({
      query: 'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }',
      variables: { input: { email, password: STRONG_PASSWORD, tenantName: 'Csrf Co' } },
    });
    const res = await request(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
    expect(res.status).toBe(400);
    expect(await server.db.collection('users').countDocuments({ email })).toBe(0);
  });

  it('control: the same GET with apollo-require-preflight, and a JSON POST, are answered', async () => {
    const get = await getTypename({ 'apollo-require-preflight': 'true' });
    expect(get.status).toBe(200);
    expect(get.json).toEqual({ data: { __typename: 'Query' } });
    const post = await postGraphql(server.url, TYPENAME);
    expect(post.json).toEqual({ data: { __typename: 'Query' } });
  });

  it('mutations are never executed over GET', async () => {
    const query = encodeURIComponent('mutation { logout }');
    const res = await request(`${server.url}/graphql?query=${query}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(res.status).toBe(405);
    expect(res.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });
});

describe('malformed requests', () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startServer({ BODY_LIMIT: '1kb' });
  });
  afterAll(async () => small?.close());

  it('a body over BODY_LIMIT is 413 BAD_USER_INPUT', async () => {
    const res = await postGraphql(small.url, { query: '{ __typename }', variables: { pad: 'x'.repeat(2048) } });
    expect(res.status).toBe(413);
    expect(res.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.json.errors[0].extensions.requestId).toBe(res.headers.get('x-request-id'));
    expect(res.json.data).toBeUndefined();
    // control: a small request to the same server works
    expect((await postGraphql(small.url, TYPENAME)).json).toEqual({ data: { __typename: 'Query' } });
  });

  it('invalid JSON is 400 BAD_USER_INPUT without parser internals', async () => {
    const res = await postGraphql(server.url, '{"query": "{ __typename }",');
    expect(res.status).toBe(400);
    expect(res.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.text).not.toMatch(/SyntaxError|at JSON\.parse|node_modules/);
  });

  it('a query with a syntax error is BAD_USER_INPUT', async () => {
    const res = await server.gql('{ me { user { id }');
    expectCode(res, 'BAD_USER_INPUT');
    expect(res.errors![0]!.message).toMatch(/Syntax Error/);
    expect(res.data ?? null).toBeNull();
  });

  it('an unknown field is BAD_USER_INPUT naming the field', async () => {
    const res = await server.gql('{ me { user { id secretField } } }');
    expectCode(res, 'BAD_USER_INPUT');
    expect(res.errors![0]!.message).toContain('secretField');
    const top = await server.gql('{ allUsersPasswords }');
    expectCode(top, 'BAD_USER_INPUT');
    expect(top.errors![0]!.message).toContain('allUsersPasswords');
  });
});

describe('rate limits', () => {
  let limited: TestServer;
  let authLimited: TestServer;
  beforeAll(async () => {
    limited = await startServer({ RATE_LIMIT_PER_MINUTE: '5' });
    authLimited = await startServer({ AUTH_RATE_LIMIT_PER_MINUTE: '3' });
  });
  afterAll(async () => {
    await limited?.close();
    await authLimited?.close();
  });

  it('the request after RATE_LIMIT_PER_MINUTE is 429 RATE_LIMITED with Retry-After; probes stay exempt', async () => {
    for (let i = 1; i <= 5; i++) {
      const res = await postGraphql(limited.url, TYPENAME);
      expect(res.status, `request ${i}`).toBe(200);
    }
    const sixth = await postGraphql(limited.url, TYPENAME);
    expect(sixth.status).toBe(429);
    expect(sixth.json.errors[0].extensions.code).toBe('RATE_LIMITED');
    expect(sixth.json.errors[0].extensions.requestId).toBe(sixth.headers.get('x-request-id'));
    expect(sixth.json.data).toBeUndefined();
    const retryAfter = Number(sixth.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(sixth.json.errors[0].extensions.retryAfter).toBe(retryAfter);

    // Still limited on other routes, and a spoofed X-Forwarded-For does not reset the budget.
    expect((await request(`${limited.url}/.well-known/jwks.json`)).status).toBe(429);
    expect((await postGraphql(limited.url, TYPENAME, { 'x-forwarded-for': '203.0.113.7' })).status).toBe(429);
    // Health probes are exempt.
    expect((await request(`${limited.url}/healthz`)).status).toBe(200);
    expect((await request(`${limited.url}/readyz`)).status).toBe(200);
  });

  it('the login attempt after AUTH_RATE_LIMIT_PER_MINUTE is RATE_LIMITED (HTTP 429, Retry-After = extensions.retryAfter), even with the right password', async () => {
    const user = await signUp(authLimited, 'Throttled Co');
    for (let i = 1; i <= 3; i++) {
      const res = await login(authLimited, user.email, 'wrong-Password-123456');
      expectCode(res, 'UNAUTHENTICATED');
    }
    const fourth = await login(authLimited, user.email, user.password);
    expectCode(fourth, 'RATE_LIMITED');
    expect(fourth.data ?? null).toBeNull();
    const retryAfter = fourth.errors![0]!.extensions.retryAfter as number;
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(fourth.status).toBe(429);
    expect(fourth.headers.get('retry-after')).toBe(String(retryAfter));
    expect(fourth.errors![0]!.extensions.requestId).toBe(fourth.headers.get('x-request-id'));
    const spoofed = await login(authLimited, user.email, user.password);
    expectCode(spoofed, 'RATE_LIMITED');
    const viaForwarded = await authLimited.gql(
      'mutation($input: LoginInput!) { login(input: $input) { accessToken } }',
      { input: { email: user.email, password: user.password } },
      undefined,
      { 'x-forwarded-for': '198.51.100.9' },
    );
    expectCode(viaForwarded, 'RATE_LIMITED');
    // The account itself is not locked: the throttle is per IP, the token still works.
    expectOk(await authLimited.gql('{ me { user { id } } }', {}, user.accessToken));
  });
});

describe('error masking on an internal failure', () => {
  let client: MongoClient;
  let app: CofferApp;
  let url: string;
  const logs: string[] = [];
  const dbName = `t_mask_${randomUUID().slice(0, 8)}`;
  let token: string;
  let email: string;

  beforeAll(async () => {
    const config = loadConfig(testEnv(), { warn: () => {} });
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(chunk.toString('utf8'));
        done();
      },
    });
    client = new MongoClient(inject('mongoUri'));
    await client.connect();
    app = await createApp({ config, db: client.db(dbName), logger: createLogger('debug', sink) });
    const { port } = await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${port}`;
    expect((app.server.address() as AddressInfo).port).toBe(port);
    // A real user and token while the database is still there.
    email = uniqueEmail('mask');
    const res = await postGraphql(url, {
      query: 'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }',
      variables: { input: { email, password: STRONG_PASSWORD, tenantName: 'Mask Co' } },
    });
    token = res.json.data.signUp.accessToken;
    // Now the database goes away underneath the running app.
    await client.close();
  });
  afterAll(async () => {
    await app?.close();
    const cleanup = new MongoClient(inject('mongoUri'));
    await cleanup.connect();
    await cleanup.db(dbName).dropDatabase().catch(() => {});
    await cleanup.close();
  });

  const LEAKS = /mongo|topology|stack|connect|node_modules|\bat \w|ECONN|\.ts:\d/i;

  function expectMasked(res: Awaited<ReturnType<typeof postGraphql>>) {
    const error = res.json?.errors?.[0];
    expect(error, res.text).toBeDefined();
    expect(['INTERNAL_SERVER_ERROR', 'SERVICE_UNAVAILABLE']).toContain(error.extensions.code);
    expect(error.message).not.toMatch(LEAKS);
    expect(error.extensions.stacktrace).toBeUndefined();
    expect(error.extensions.exception).toBeUndefined();
    expect(res.text).not.toMatch(LEAKS);
  }

  const loginBody = () => ({
    query: 'mutation($input: LoginInput!) { login(input: $input) { accessToken } }',
    variables: { input: { email, password: STRONG_PASSWORD } },
  });

  it('a login hitting the dead database gets a bare internal error, no driver details or stack', async () => {
    const res = await postGraphql(url, loginBody());
    expectMasked(res);
    expect(res.json.data ?? null).toBeNull();
    // ...while the real cause is in the server's logs for the operator.
    const logged = logs.filter((l) => l.includes('internal error in GraphQL operation'));
    expect(logged.length).toBeGreaterThan(0);
  });

  it('an authenticated query whose session check hits the dead database is masked too', async () => {
    const res = await postGraphql(url, { query: '{ me { user { id } } }' }, { authorization: `Bearer ${token}` });
    expectMasked(res);
  });

  it('a masked internal error still carries the request id, so the operator can find the logged cause', async () => {
    const fromResolver = await postGraphql(url, loginBody());
    expect(fromResolver.json.errors[0].extensions.requestId).toBe(fromResolver.headers.get('x-request-id'));
    // The failure here happens while building the context (the session check), before any resolver runs.
    const fromContext = await postGraphql(url, { query: '{ me { user { id } } }' }, { authorization: `Bearer ${token}` });
    expect(fromContext.json.errors[0].extensions.code).toBe('INTERNAL_SERVER_ERROR');
    expect(fromContext.json.errors[0].extensions.requestId, fromContext.text).toBe(fromContext.headers.get('x-request-id'));
  });

  it('/readyz reports 503 without internals, /healthz stays 200', async () => {
    const ready = await request(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.json.status).toBe('unavailable');
    expect(ready.text).not.toMatch(/mongo|topology|stack/i);
    expect((await request(`${url}/healthz`)).status).toBe(200);
  });
});

describe('security headers on API GETs', () => {
  let api: TestServer;
  beforeAll(async () => {
    api = await startServer();
  });
  afterAll(async () => api?.close());

  it('keeps the strict CSP for a JSON GET /graphql; only the HTML Sandbox page gets the relaxed one', async () => {
    const json = await fetch(`${api.url}/graphql?query=%7B__typename%7D`, {
      headers: { accept: 'application/json', 'apollo-require-preflight': 'true' },
    });
    expect(json.headers.get('content-security-policy')).not.toContain('apollographql.com');
    const html = await fetch(`${api.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(html.headers.get('content-security-policy')).toContain('apollographql.com');
  });
});

describe('responses carrying a secret are not fingerprinted', () => {
  let api: TestServer;
  beforeAll(async () => {
    api = await startServer();
  });
  afterAll(async () => api?.close());

  it('a revealed value comes without ETag (POST and GET), and If-None-Match never yields a 304', async () => {
    const owner = await signUp(api, 'Etag Co');
    const value = '1234';
    expectOk(
      await api.gql('mutation($input: CreateSecretInput!) { createSecret(input: $input) { id } }', { input: { name: 'pin', value } }, owner.accessToken),
    );
    const query = '{ secret(name: "pin") { value } }';
    const auth = { authorization: `Bearer ${owner.accessToken}` };
    const post = await postGraphql(api.url, { query }, auth);
    expect(post.json.data.secret.value).toBe(value);
    expect(post.headers.get('etag')).toBeNull();
    expect(post.headers.get('cache-control')).toBe('no-store');

    const get = (headers: Record<string, string>) =>
      request(`${api.url}/graphql?query=${encodeURIComponent(query)}`, { headers: { 'apollo-require-preflight': 'true', ...auth, ...headers } });
    const plain = await get({});
    expect(plain.status).toBe(200);
    expect(plain.json.data.secret.value).toBe(value);
    expect(plain.headers.get('etag')).toBeNull();
    expect(plain.headers.get('cache-control')).toBe('no-store');
    // Express's weak ETag for this body, as a proxy log would have shown it: no 304 oracle.
    const guessed = `W/"${Buffer.byteLength(plain.text).toString(16)}-${createHash('sha1').update(plain.text).digest('base64').slice(0, 27)}"`;
    const conditions: Record<string, string>[] = [{ 'if-none-match': guessed }, { 'if-none-match': '*' }, { 'if-modified-since': new Date(Date.now() + 60_000).toUTCString() }];
    for (const header of conditions) {
      const conditional = await get(header);
      expect(conditional.status, JSON.stringify(header)).toBe(200);
      expect(conditional.json.data.secret.value).toBe(value);
      expect(conditional.headers.get('etag')).toBeNull();
    }
  });
});

describe('client mistakes are 4xx with a code, logged below error level', () => {
  let api: TestServer;
  beforeAll(async () => {
    api = await startServer();
  });
  afterAll(async () => api?.close());

  const errorLines = () => api.logs.filter((line) => (JSON.parse(line) as { level: number }).level >= 50);
  const body = JSON.stringify(TYPENAME);

  it.each([
    ['a charset other than UTF-8', { 'content-type': 'application/json; charset=koi8-r' }, body, 415],
    ['an unknown Content-Encoding', { 'content-type': 'application/json', 'content-encoding': 'x-compress-9000' }, body, 415],
    ['an invalid gzip body', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, 'this is not gzip at all', 400],
    ['a truncated gzip body', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, gzipSync(body).subarray(0, 12), 400],
  ] as const)('%s', async (_name, headers, payload, status) => {
    const res = await request(`${api.url}/graphql`, { method: 'POST', headers, body: payload });
    expect(res.status, res.text).toBe(status);
    expect(res.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.json.errors[0].extensions.requestId).toBe(res.headers.get('x-request-id'));
    expect(res.json.errors[0].message).not.toMatch(/Internal server error|node_modules|zlib|at /);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(errorLines()).toEqual([]);
    // control: the same body sent plainly works
    expect((await postGraphql(api.url, TYPENAME)).json).toEqual({ data: { __typename: 'Query' } });
  });

  it('requests the HTTP parser refuses (headers over 16 KiB, a malformed request line) get the JSON error shape with a code', async () => {
    const big = await request(`${api.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-filler': 'a'.repeat(20_000) }, body });
    expect(big.status).toBe(431);
    expect(big.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(big.json.errors[0].message).toMatch(/headers or URL too large/);
    expect(big.text).not.toContain('aaaa');
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(api.url).port), '127.0.0.1', () => socket.write('THIS IS NOT HTTP\r\n\r\n'));
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString('utf8')));
      socket.on('end', () => resolve(received));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw).toContain('application/json');
    const [, json] = raw.split('\r\n\r\n');
    expect(JSON.parse(json!).errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(errorLines()).toEqual([]);
  });

  it('a valid gzip body is accepted', async () => {
    const res = await request(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(body),
    });
    expect(res.json).toEqual({ data: { __typename: 'Query' } });
  });

  it('a query over the token limit is HTTP 400 BAD_USER_INPUT, not 500', async () => {
    const query = `{ ${Array.from({ length: 1100 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    const res = await postGraphql(api.url, { query });
    expect(res.status, res.text).toBe(400);
    expect(res.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.json.errors[0].message).toMatch(/token/i);
    expect(errorLines()).toEqual([]);
  });

  it('secret metadata nested too deep is BAD_USER_INPUT naming the field, and nothing is written', async () => {
    const owner = await signUp(api, 'Deep Co');
    const mutation = 'mutation($input: CreateSecretInput!) { createSecret(input: $input) { id metadata } }';
    const create = (name: string, metadata: unknown) => api.gql(mutation, { input: { name, value: 'v', metadata } }, owner.accessToken);
    for (const depth of [120, 40_000]) {
      const name = `deep-${depth}`;
      // Written by hand: JSON.stringify itself overflows the stack on 40,000 levels.
      const metadata = `{"a":${'['.repeat(depth)}"x"${']'.repeat(depth)}}`;
      const body = `{"query":${JSON.stringify(mutation)},"variables":{"input":{"name":"${name}","value":"v","metadata":${metadata}}}}`;
      const res = await postGraphql(api.url, body, { authorization: `Bearer ${owner.accessToken}` });
      const error = res.json.errors[0];
      expect(error.extensions.code, res.text).toBe('BAD_USER_INPUT');
      expect(error.message).toMatch(/metadata/);
      expect(error.message).toMatch(/deep|depth|nest/i);
      expect(error.extensions.field).toMatch(/metadata/);
      expect(await api.db.collection('secrets').countDocuments({ name })).toBe(0);
    }
    // An array directly inside an array is refused too (FerretDB v1 cannot store one).
    const nestedArray = await create('nested-array', { a: [1, ['x']] });
    expectCode(nestedArray, 'BAD_USER_INPUT');
    expect(nestedArray.errors![0]!.message).toMatch(/^input\.metadata: |^metadata: /);
    expect(errorLines()).toEqual([]);
    // Ten levels, the top-level object included, are fine.
    const tenLevels = { a: [{ b: [{ c: [{ d: [{ e: ['x'] }] }] }] }] };
    expect(expectOk(await create('shallow', tenLevels))).toEqual({ createSecret: { id: expect.any(String), metadata: tenLevels } });
    const update = await api.gql(
      'mutation($input: UpdateSecretInput!) { updateSecret(input: $input) { id } }',
      { input: { name: 'shallow', metadata: { wrap: tenLevels } } },
      owner.accessToken,
    );
    expectCode(update, 'BAD_USER_INPUT');
  });
});

describe('no suggestions of any kind when Sandbox is off', () => {
  let prod: TestServer;
  beforeAll(async () => {
    prod = await startServer({ NODE_ENV: 'production', MONGODB_URI: inject('mongoUri'), SANDBOX_ENABLED: 'false', SIGNUP_MODE: 'open' });
  });
  afterAll(async () => prod?.close());

  it('enum values, fields, arguments and types are never suggested', async () => {
    const owner = await signUp(prod, 'Quiet Co');
    const attempts = [
      prod.gql('{ secrets(filter: { status: ACTIV }) { totalCount } }', {}, owner.accessToken),
      prod.gql('query($f: SecretFilter) { secrets(filter: $f) { totalCount } }', { f: { status: 'ACTIV' } }, owner.accessToken),
      prod.gql('query($f: SecretFilter) { secrets(filter: $f) { totalCount } }', { f: { statu: 'ACTIVE' } }, owner.accessToken),
      prod.gql('{ me { usr { id } } }', {}, owner.accessToken),
      prod.gql('{ secrets(filtr: {}) { totalCount } }', {}, owner.accessToken),
      prod.gql('query($f: SecretFiltr) { secrets(filter: $f) { totalCount } }', {}, owner.accessToken),
    ];
    for (const res of await Promise.all(attempts)) {
      expectCode(res, 'BAD_USER_INPUT');
      for (const error of res.errors!) {
        expect(error.message).not.toMatch(/did you mean|suggestion/i);
        expect(error.message).not.toMatch(/ACTIVE"|"status"|"user"|"filter"/);
      }
    }
  });

  it('control: with Sandbox on, suggestions help the developer', async () => {
    const res = await server.gql('{ secrets(filter: { status: ACTIV }) { totalCount } }');
    expect(res.errors![0]!.message).toMatch(/Did you mean the enum value "ACTIVE"\?/);
  });
});
