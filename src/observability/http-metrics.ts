import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestHandler } from 'express';
import type { MetricsConfig } from '../config.js';
import type { CofferMetrics, HttpRoute } from './metrics.js';

/** The path group of a request: a fixed set, so no client-chosen path becomes a label. */
export function routeOf(path: string): HttpRoute {
  const lower = path.toLowerCase();
  if (lower === '/graphql') return 'graphql';
  if (lower === '/healthz' || lower === '/readyz') return 'health';
  if (lower === '/metrics') return 'metrics';
  if (lower === '/.well-known/jwks.json') return 'jwks';
  if (/^\/(unsubscribe|confirm)(\/|$)/.test(lower)) return 'consent_page';
  return 'other';
}

/** Times every response (mount first) and counts HTTP 429s from the Express limiters. */
export function httpMetrics(metrics: CofferMetrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const route = routeOf(req.path); // now: mounted routers rewrite req.path while they run
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpResponse(route, res.statusCode, seconds);
      // A 429 from a limiter before GraphQL (the whole API, the public pages): they mark it. A
      // RATE_LIMITED error from inside a resolver also answers 429 but is counted by the Apollo
      // plugin as `auth`, so it is not counted twice.
      if (res.statusCode === 429 && res.locals.refusedByRequestLimit === true) metrics.rateLimitRejection('request');
    });
    next();
  };
}

/** SHA-256 both sides, then compare in constant time (lengths never leak through an early exit). */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

function serve(metrics: CofferMetrics): RequestHandler {
  return (_req, res, next) => {
    metrics
      .exposition()
      .then(({ contentType, body }) => {
        res.setHeader('Cache-Control', 'no-store');
        res.type(contentType).send(body);
      })
      .catch(next);
  };
}

/**
 * `GET /metrics` on the main port: behind `Authorization: Bearer <METRICS_TOKEN>` when a token is
 * set; open only outside production with neither a token nor METRICS_PORT (config.ts decides
 * `openOnMainPort`); otherwise not served here (404, as any unknown path).
 */
export function mainPortMetrics(metrics: CofferMetrics, config: MetricsConfig): RequestHandler | null {
  const handler = serve(metrics);
  if (config.token !== null) {
    const token = config.token;
    return (req, res, next) => {
      const match = /^Bearer ([^\s]+)$/.exec(req.get('authorization') ?? '');
      if (!match || !tokenMatches(match[1]!, token)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
        res.status(401).json({ errors: [{ message: 'Metrics need a valid bearer token', extensions: { code: 'UNAUTHENTICATED', requestId: String(res.locals.requestId ?? '') } }] });
        return;
      }
      handler(req, res, next);
    };
  }
  return config.openOnMainPort ? handler : null;
}

/** The separate metrics listener (METRICS_PORT on METRICS_HOST): `GET /metrics` only, no token. */
export interface MetricsServer {
  listen(): Promise<string>;
  close(): Promise<void>;
}

export function metricsServer(metrics: CofferMetrics, config: MetricsConfig & { port: number }): MetricsServer {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found\n');
      return;
    }
    metrics
      .exposition()
      .then(({ contentType, body }) => res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(body))
      .catch(() => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics unavailable\n'));
  });
  return {
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          const address = server.address() as AddressInfo;
          const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve(`http://${host}:${address.port}/metrics`);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
