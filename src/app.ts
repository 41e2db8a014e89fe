import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { unwrapResolverError } from '@apollo/server/errors';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { expressMiddleware } from '@as-integrations/express5';
import cors from 'cors';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { Db } from 'mongodb';
import type { Config } from './config.js';
import { ensureIndexes } from './modules/index.js';
import { buildContext, type Context } from './graphql/context.js';
import { DATABASE_UNAVAILABLE, maskError, withoutSuggestions } from './graphql/errors.js';
import { buildServedSchema } from './graphql/schema.js';
import { rateLimitStatusPlugin } from './graphql/rate-limit-status.js';
import { introspectionPlugin } from './graphql/introspection.js';
import { formatValidationError, knownOperationTypes } from './graphql/validation.js';
import type { Logger } from './logger.js';
import { currentRequestId, runWithRequestId } from './request-context.js';
import { createServices, type PrivacyOptions, type TwoFactorOptions } from './services.js';
import type { SealedDataKind } from './modules/keys/sealed-data.js';
import { AppError, ErrorCode } from './errors.js';
import { isDatabaseUnavailable } from './db/mongo-errors.js';
import { Throttle } from './modules/auth/throttle.js';
import { consentPages } from './modules/consent/consent-pages.js';
import { mountAdminConsole } from './console/admin-console.js';
import { CofferMetrics, type WebhookDeliveryRecorder } from './observability/metrics.js';
import { httpMetrics, mainPortMetrics, metricsServer, type MetricsServer } from './observability/http-metrics.js';
import { followPool } from './observability/mongo-pool-metrics.js';
import { cachedSnapshot, StateCountsRepository } from './observability/state-counts.repository.js';
import { metricsPlugin } from './graphql/metrics-plugin.js';
import type { WebhookOptions } from './modules/webhooks/webhook-wiring.js';
import { clientBucket } from './modules/auth/client-bucket.js';

export interface AppOptions {
  config: Config;
  db: Db;
  logger: Logger;
  /** Extra kinds of sealed data for key rotation to cover (see createServices). */
  sealedData?: readonly SealedDataKind[];
  /** Privacy options (see createServices): tests stop an erasure between steps. */
  privacy?: PrivacyOptions;
  /** Second-factor options (see createServices): tests move the clock of codes and challenges. */
  twoFactor?: TwoFactorOptions;
  /** How long scrape-time database gauges are cached (default 10 s; tests use 0). */
  metricsStateCacheMs?: number;
  /** Webhook options (see createServices): tests give a DNS resolver; metrics give delivery counters. */
  webhooks?: WebhookOptions;
}

export interface CofferApp {
  server: http.Server;
  /** Listens on config.host/port (port 0 = any free port); resolves with the bound URL. */
  listen(port?: number, host?: string): Promise<{ url: string; port: number }>;
  /** Stops accepting requests, drains in-flight ones and stops Apollo. Does not close the Db. */
  close(): Promise<void>;
  /** The app's metrics (README "Monitoring"), e.g. for the webhook sender's delivery recorder. */
  metrics: CofferMetrics;
  /** The URL of the separate metrics listener (METRICS_PORT) once listening; null without one. */
  metricsUrl(): string | null;
}

const MAX_QUERY_TOKENS = 2000;
const CONDITIONAL_HEADERS = ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range'] as const;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Every request gets an id of the server's own making, sent back as X-Request-Id and
 * used in logs, error extensions and audit events: a client cannot choose (or reuse,
 * or collide with) the id the audit log records. A well-formed incoming X-Request-Id
 * is kept only as `clientRequestId` on the request log line, for correlation.
 */
const requestId: RequestHandler = (req, res, next) => {
  const incoming = req.get('x-request-id');
  const id = randomUUID();
  res.locals.requestId = id;
  res.locals.clientRequestId = incoming && REQUEST_ID.test(incoming) ? incoming : undefined;
  res.setHeader('X-Request-Id', id);
  runWithRequestId(id, next);
};

function graphqlErrorBody(res: express.Response, code: string, message: string) {
  return { errors: [{ message, extensions: { code, requestId: String(res.locals.requestId ?? '') } }] };
}

/** Builds the whole app from a config and a database handle; tests start it on an ephemeral port. */
export async function createApp({ config, db, logger, sealedData, privacy, twoFactor, metricsStateCacheMs, webhooks }: AppOptions): Promise<CofferApp> {
  await ensureIndexes(db);
  // Metrics (README "Monitoring"): audit events reach them through the audit log's observer (services.ts).
  const metrics = new CofferMetrics();
  const stateCounts = new StateCountsRepository(db);
  const metricsClock = privacy?.now ?? (() => new Date());
  metrics.stateGauges(cachedSnapshot(() => stateCounts.snapshot(metricsClock()), metricsStateCacheMs ?? 10_000));
  const stopPoolMetrics = followPool(db.client, metrics);
  const metricsListener: MetricsServer | null = config.metrics.port === null ? null : metricsServer(metrics, { ...config.metrics, port: config.metrics.port });
  let metricsUrl: string | null = null;
  const { services, tokens, guard, reencryption, secretPurge, housekeeping, retentionSweep, rateLimitSweep, counterKeyHash, webhookJobs } = await createServices({ config, db, logger, sealedData, privacy, twoFactor, metrics, webhooks: { ...webhooks, metrics: webhooks?.metrics ?? webhookDeliveryCounters(metrics.recordWebhookDelivery) } });
  await services.keys.assertKeyringCoversStoredKeys(); // refuse to start with keys we could not open
  void reencryption.resumeAll(); // re-encryption interrupted by a stop or crash carries on
  // Erasures interrupted by a stop or crash complete (also on the next call for that subject).
  void services.subjectErasure.resumeAll().catch((error: unknown) => logger.error({ err: error }, 'could not resume erasures'));
  // Tenant deletions interrupted by a stop or crash complete (also on the next call).
  void services.tenantDeletion.resumeAll().catch((error: unknown) => logger.error({ err: error }, 'could not resume tenant deletions'));
  secretPurge.start(); // soft-deleted secrets past their recovery window, hourly
  housekeeping.start(); // ended sessions and invitations, hourly
  retentionSweep.start(); // data past the tenants' retention periods, daily (one instance per interval)
  rateLimitSweep.start(); // ended rate-limit windows, every minute (no TTL index on FerretDB v1)
  webhookJobs.scan.start(); // secrets and requests falling due → webhook events (one instance per pass)
  webhookJobs.delivery.start(); // queued webhook deliveries, claimed row by row on every instance

  const app = express();
  const server = http.createServer(app);
  server.on('clientError', parserRefusal(logger));
  app.disable('x-powered-by');
  // No ETags: Express's default is a hash of the body, and a body can hold a secret's value
  // (an offline guessing target in any proxy log, and an If-None-Match oracle).
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy);
  app.use(requestId);
  app.use(httpMetrics(metrics));
  app.use(requestLog(logger));
  app.use(securityHeaders(config.sandboxEnabled));
  app.use(
    cors({
      origin: (origin, done) => done(null, !!origin && config.corsOrigins.includes(origin)),
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: ['Authorization', 'Content-Type', 'Apollo-Require-Preflight', 'X-Request-Id'],
      exposedHeaders: ['X-Request-Id', 'Retry-After'],
      maxAge: 600,
    }),
  );
  // Before the rate limit, so scrapes still work during a rate-limit storm (token-checked, or dev only).
  const metricsRoute = mainPortMetrics(metrics, config.metrics);
  if (metricsRoute) app.get('/metrics', metricsRoute);
  // The whole-API budget is counted per instance and written in batches (at most 5 % of the budget
  // or 250 ms behind the other instances): no database write per request (README "Rate limits").
  app.use(rateLimit(new Throttle({ db, name: 'api', points: config.rateLimit.requestsPerMinute, logger, keyHash: counterKeyHash, batch: { maxDelayMs: 250 } })));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      await db.command({ ping: 1 }, { timeoutMS: 2000 });
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'unavailable', reason: 'database not reachable' });
    }
  });
  app.get('/.well-known/jwks.json', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(tokens.jwks());
  });

  // Public unsubscribe and double opt-in pages (server-rendered HTML, their own strict CSP and rate limit).
  app.use(consentPages(services.consentLinks, { throttle: new Throttle({ db, name: 'pages', points: config.rateLimit.authAttemptsPerMinute, logger, keyHash: counterKeyHash }), logger }));

  // The self-hosted GraphiQL admin console (static files, its own CSP), when CONSOLE_ENABLED.
  if (config.consoleEnabled) mountAdminConsole(app);

  // Query limits: depth, aliases, static cost and size, so one request cannot fan out without bound.
  // The token limit is graphql-js's own (parseOptions below): a document over it is a parse
  // error (HTTP 400), where armor's version throws outside parsing and answers 500. Suggestions
  // are removed in formatError, which also sees enum and variable errors armor's mask misses.
  const armor = new ApolloArmor({
    maxDepth: { n: 10 },
    maxAliases: { n: 20 },
    costLimit: { maxCost: 5000 },
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: false },
  }).protect();
  const apollo = new ApolloServer<Context>({
    schema: await buildServedSchema(),
    validationRules: [...armor.validationRules, knownOperationTypes],
    parseOptions: { maxTokens: MAX_QUERY_TOKENS },
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    stopOnTerminationSignals: false, // main.ts owns shutdown
    // On for the plugin below to decide per caller: open in development with Sandbox, else
    // platform administrators and OWNER/ADMIN tokens and API keys only (README "Security model").
    introspection: true,
    includeStacktraceInErrorResponses: false,
    plugins: [
      ...(armor.plugins as ApolloServerPlugin<Context>[]),
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      rateLimitStatusPlugin<Context>(),
      introspectionPlugin(config.sandboxEnabled && config.nodeEnv !== 'production'),
      metricsPlugin<Context>(metrics),
      config.sandboxEnabled
        ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false })
        : ApolloServerPluginLandingPageDisabled(),
    ],
    formatError: (formatted, error) => {
      const requestId = currentRequestId();
      const shown =
        formatValidationError(formatted) ??
        maskError(formatted, unwrapResolverError(error), (internal) =>
          logger.error({ err: internal, requestId }, 'internal error in GraphQL operation'),
        );
      const message = config.sandboxEnabled ? shown.message : withoutSuggestions(shown.message);
      // Every error names its request, so a user's report can be matched to the logs.
      return { ...shown, message, extensions: { ...shown.extensions, requestId } };
    },
  });
  await apollo.start();

  app.use(
    '/graphql',
    (req, res, next) => {
      res.setHeader('Cache-Control', 'no-store');
      // Never answer 304: without ETags Express would still call a response "fresh" for
      // `If-None-Match: *` on a GET, and no GraphQL answer may be served from a cache.
      for (const header of CONDITIONAL_HEADERS) delete req.headers[header];
      next();
    },
    express.json({ limit: config.bodyLimit }),
    expressMiddleware(apollo, {
      context: ({ req }) =>
        buildContext(req, { tokens, guard, services, logger }).catch((error: unknown) => {
          // Checking the token's session needs the database: when it is down the request is not
          // unauthenticated but unanswerable for now (HTTP 503, SERVICE_UNAVAILABLE).
          if (!isDatabaseUnavailable(error)) throw error;
          logger.warn({ err: error, requestId: currentRequestId() }, 'database unavailable while authenticating a request');
          throw new GraphQLError(DATABASE_UNAVAILABLE, { extensions: { code: ErrorCode.SERVICE_UNAVAILABLE, http: { status: 503 } } });
        }),
    }),
  );
  app.use((_req, res) => {
    res.status(404).json(graphqlErrorBody(res, 'NOT_FOUND', 'Not found'));
  });
  app.use(errorHandler(logger));

  return {
    server,
    metrics,
    metricsUrl: () => metricsUrl,
    listen: async (port = config.port, host = config.host) => {
      const bound = await new Promise<{ url: string; port: number }>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          const address = server.address() as AddressInfo;
          const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve({ url: `http://${shownHost}:${address.port}`, port: address.port });
        });
      });
      if (metricsListener) metricsUrl = await metricsListener.listen();
      return bound;
    },
    close: async () => {
      stopPoolMetrics();
      await metricsListener?.close();
      await apollo.stop(); // the drain plugin closes the HTTP server and waits for in-flight requests
      reencryption.stop();
      await Promise.all([reencryption.settled(), secretPurge.stop(), housekeeping.stop(), retentionSweep.stop(), rateLimitSweep.stop(), services.apiKeys.stop(), webhookJobs.scan.stop(), webhookJobs.delivery.stop()]);
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Webhook delivery outcomes counted in `coffer_webhook_deliveries_total` (README "Monitoring"). */
function webhookDeliveryCounters(record: WebhookDeliveryRecorder) {
  return { delivered: () => record('delivered'), failed: () => record('failed'), gaveUp: () => record('gave_up') };
}

/** helmet everywhere; Apollo Sandbox's landing page needs its CDN allowed, and only it gets that. */
function securityHeaders(sandboxEnabled: boolean): RequestHandler {
  const strict = helmet();
  if (!sandboxEnabled) return strict;
  const cdn = 'https://embeddable-sandbox.cdn.apollographql.com';
  const landing = helmet({
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'", "'unsafe-inline'", cdn],
        styleSrc: ["'self'", "'unsafe-inline'", 'https://fonts.googleapis.com'],
        fontSrc: ["'self'", 'https://fonts.gstatic.com'],
        imgSrc: ["'self'", 'data:', 'https://apollo-server-landing-page.cdn.apollographql.com'],
        manifestSrc: ["'self'", 'https://apollo-server-landing-page.cdn.apollographql.com'],
        frameSrc: ["'self'", 'https://sandbox.embed.apollographql.com'],
        connectSrc: ["'self'", 'https://*.apollographql.com'],
      },
    },
  });
  return (req, res, next) =>
    (req.method === 'GET' && req.path === '/graphql' && req.accepts(['application/json', 'text/html']) === 'text/html' ? landing : strict)(req, res, next);
}

/** Per-IP request budget for the whole API, shared by every instance; over it → 429 with RATE_LIMITED. */
function rateLimit(throttle: Throttle): RequestHandler {
  return (req, res, next) => {
    if (req.path === '/healthz' || req.path === '/readyz') return next();
    throttle
      .consume(clientBucket(req.ip))
      .then(() => next())
      .catch((error: unknown) => {
        if (!(error instanceof AppError && error.code === 'RATE_LIMITED')) return next(error);
        const retryAfter = Number(error.extensions.retryAfter);
        res.setHeader('Retry-After', String(retryAfter));
        res.locals.refusedByRequestLimit = true; // counted as limiter="request" (observability/http-metrics.ts)
        res.status(429).json({ errors: [{ message: error.message, extensions: { code: 'RATE_LIMITED', retryAfter, requestId: String(res.locals.requestId ?? '') } }] });
      });
  };
}

/** What Node's HTTP parser refused before the app saw a request, by its error code. */
const PARSER_REFUSALS: Record<string, { status: number; reason: string; message: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, reason: 'Request Header Fields Too Large', message: 'Request headers or URL too large (16 KiB at most)' },
  HPE_URI_TOO_LONG: { status: 414, reason: 'URI Too Long', message: 'Request URL too long' },
};

/**
 * Requests Node's HTTP parser refuses (headers or a URL over its limit, a malformed request
 * line) get the same JSON error shape as everything else, with a code, instead of Node's bare
 * status line; logged at info (the client's mistake), without the offending bytes.
 */
function parserRefusal(logger: Logger): (error: NodeJS.ErrnoException & { bytesParsed?: number }, socket: import('node:stream').Duplex) => void {
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const known = PARSER_REFUSALS[error.code ?? ''];
    const status = known?.status ?? 400;
    const body = JSON.stringify({ errors: [{ message: known?.message ?? 'Malformed HTTP request', extensions: { code: 'BAD_USER_INPUT' } }] });
    logger.info({ status, type: error.code ?? 'malformed' }, 'refused a request the HTTP parser could not accept');
    socket.end(
      `HTTP/1.1 ${status} ${known?.reason ?? 'Bad Request'}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    );
  };
}

/**
 * The path as logged: the token of a public link page (`/unsubscribe/<token>`, `/confirm/<token>`)
 * is a credential, so it is replaced by `:token` (routing is case-insensitive, so is this).
 */
function loggedPath(path: string): string {
  return path.replace(/^\/(unsubscribe|confirm)\/.*$/i, (_whole, page: string) => `/${page}/:token`);
}

function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      logger.info(
        {
          requestId: res.locals.requestId,
          ...(res.locals.clientRequestId ? { clientRequestId: res.locals.clientRequestId } : {}),
          method: req.method,
          path: loggedPath(req.originalUrl.split('?')[0]!),
          status: res.statusCode,
          ms: Number((process.hrtime.bigint() - started) / 1_000_000n),
        },
        'request',
      );
    });
    next();
  };
}

/** What the client did wrong, by body-parser's error type; anything else 4xx is a malformed body. */
const BODY_ERRORS: Record<string, string> = {
  'entity.too.large': 'Request body too large',
  'entity.parse.failed': 'Request body is not valid JSON',
  'charset.unsupported': 'Unsupported charset: send JSON as UTF-8',
  'encoding.unsupported': 'Unsupported Content-Encoding: use gzip, deflate, br or none',
  'request.aborted': 'Request body incomplete',
  'request.size.invalid': 'Request body length does not match Content-Length',
};

/**
 * Body-parser and other HTTP-level failures, answered in the GraphQL error shape without
 * internals. A client's mistake (any 4xx) keeps its status, is BAD_USER_INPUT and is logged
 * at info, without the parser's message (it may quote the body); only the rest is an error.
 */
function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: { status?: unknown; statusCode?: unknown; type?: unknown }, _req, res, _next) => {
    const status = typeof error.status === 'number' ? error.status : typeof error.statusCode === 'number' ? error.statusCode : 500;
    const type = typeof error.type === 'string' ? error.type : undefined;
    if (status >= 400 && status < 500) {
      const message = (type && BODY_ERRORS[type]) ?? 'Malformed request body';
      logger.info({ requestId: res.locals.requestId, status, type: type ?? 'malformed' }, 'refused a malformed request');
      res.status(status).json(graphqlErrorBody(res, 'BAD_USER_INPUT', message));
      return;
    }
    logger.error({ err: error, requestId: res.locals.requestId }, 'unhandled HTTP error');
    res.status(500).json(graphqlErrorBody(res, 'INTERNAL_SERVER_ERROR', 'Internal server error'));
  };
}
