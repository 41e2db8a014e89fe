import { printSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServedSchema } from '../../src/graphql/schema.js';
import { addMember, expectOk, signUp } from '../support/auth.js';
import { startServer } from '../support/server.js';
import { bombCases, handCases, publicRouteCases, schemaCases, tokenCases, transportCases, type FuzzCase, type FuzzContext } from './corpus.js';
import { diff, snapshot, type Snapshot } from './snapshot.js';

/**
 * The fuzz corpus (`npm run test:fuzz`): every Query and Mutation field with hostile
 * arguments drawn from its own types, plus transport, bomb, token and public-route cases.
 * Each case must get no 5xx, no INTERNAL_SERVER_ERROR, a code on every error, no echo of
 * what was sent, no error logged, and, when refused, no change to the database.
 *
 * Reproduce: FUZZ_SEED=<seed> npm run test:fuzz -- -t '<case id>'.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20_240_601);
const PER_FIELD = Number(process.env.FUZZ_PER_FIELD ?? 7);

const schema = await buildServedSchema();
const sdl = printSchema(schema);
const server = await startServer();

/** The GET routes the app serves besides /graphql, read from the running Express app, so new public endpoints are covered. */
function publicGetRoutes(): string[] {
  interface Layer {
    route?: { path?: unknown; methods?: Record<string, boolean> };
  }
  const handler = server.app!.server.listeners('request')[0] as unknown as { router?: { stack?: Layer[] } };
  return (handler.router?.stack ?? [])
    .flatMap((layer) => (layer.route && typeof layer.route.path === 'string' && layer.route.methods?.get ? [layer.route.path] : []))
    .filter((path) => path !== '/graphql');
}

const routes = publicGetRoutes();
const corpus: FuzzCase[] = [
  ...schemaCases(schema, SEED, PER_FIELD),
  ...handCases(),
  ...bombCases(schema),
  ...transportCases(),
  ...tokenCases(schema),
  ...publicRouteCases(routes),
];

const ctx: FuzzContext = { ownerToken: '', apiKey: '', jwks: { keys: [] } };
let baseline: Snapshot;

beforeAll(async () => {
  const counts = new Map<string, number>();
  for (const c of corpus) counts.set(c.category, (counts.get(c.category) ?? 0) + 1);
  console.log(`fuzz seed ${SEED} (FUZZ_SEED), ${PER_FIELD} per field (FUZZ_PER_FIELD): ${corpus.length} cases; ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}; public routes ${routes.join(' ')}`);

  // An OWNER of a tenant with a little data: secrets, a member, an invitation, an API key.
  const owner = await signUp(server, 'Fuzz Co');
  ctx.ownerToken = owner.accessToken;
  for (const name of ['seed/alpha', 'seed/beta', 'prod/api/token']) {
    expectOk(await server.gql('mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }', { i: { name, value: `value-of-${name}`, metadata: { team: 'fuzz' } } }, owner.accessToken));
  }
  await addMember(server, owner, 'USER');
  expectOk(await server.gql('mutation { inviteMember(input: { email: "pending@example.com", role: MANAGER }) { id } }', {}, owner.accessToken));
  const key = expectOk(
    await server.gql<{ createApiKey: { apiKey: string } }>(
      'mutation { createApiKey(input: { name: "fuzz-service", role: MANAGER, prefixes: ["*"] }) { apiKey } }',
      {},
      owner.accessToken,
    ),
  );
  ctx.apiKey = key.createApiKey.apiKey;
  // One failed password check first: it provisions, once, the platform keys that count failures
  // (platform_keys) and sign the platform audit chain (tenant_keys), so later refusals are compared
  // against a database where they already exist.
  await server.gql('mutation { login(input: { email: "warm-up@example.com", password: "not-the-password-1" }) { accessToken } }');
  const jwks = await fetch(`${server.url}/.well-known/jwks.json`);
  ctx.jwks = (await jwks.json()) as FuzzContext['jwks'];
  baseline = await snapshot(server.db);
});

afterAll(async () => server.close());

function authorizationFor(c: FuzzCase): string | undefined {
  switch (c.auth.kind) {
    case 'owner':
      return `Bearer ${ctx.ownerToken}`;
    case 'apiKey':
      return `Bearer ${ctx.apiKey}`;
    case 'anonymous':
      return undefined;
    case 'header':
      return c.auth.header(ctx);
  }
}

interface Answer {
  status: number;
  /** The X-Request-Id the app sets on every response it makes; absent when Node's HTTP parser refused the request itself. */
  requestId: string | null;
  text: string;
  json: unknown;
}

async function send(c: FuzzCase, authorization: string | undefined): Promise<Answer> {
  const headers: Record<string, string> = { ...c.headers };
  if (authorization !== undefined) headers.authorization = authorization;
  let body: string | Buffer | undefined;
  if (c.body && c.method !== 'GET' && c.method !== 'HEAD') {
    if ('text' in c.body) body = c.body.text;
    else if ('bytes' in c.body) body = Buffer.from(c.body.bytes);
    else body = JSON.stringify(c.body.json);
  }
  const response = await fetch(`${server.url}${c.path}`, { method: c.method, headers, body, redirect: 'manual' });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, requestId: response.headers.get('x-request-id'), text, json };
}

interface WireError {
  message?: unknown;
  extensions?: { code?: unknown };
}

function errorsOf(json: unknown): WireError[] | undefined {
  if (!json || typeof json !== 'object' || !('errors' in json)) return undefined;
  const errors = (json as { errors: unknown }).errors;
  return Array.isArray(errors) ? (errors as WireError[]) : [{ message: 'errors is not an array' }];
}

/** Refused: a 4xx, or errors with no root field answered. */
function refused(answer: Answer): boolean {
  if (answer.status >= 400) return true;
  const errors = errorsOf(answer.json);
  if (!errors?.length) return false;
  const data = (answer.json as { data?: unknown }).data;
  if (data === null || data === undefined) return true;
  return typeof data === 'object' && Object.values(data).every((v) => v === null);
}

/**
 * Hostile strings worth looking for: long enough to mean something, not a word of the schema
 * itself, and hostile: a character outside plain names (so a valid secret name such as
 * `name/name`, which NOT_FOUND names back by design, is not counted), or longer than any name.
 */
function watched(c: FuzzCase, authorization: string | undefined): string[] {
  const values = [...c.hostile];
  if (c.auth.kind === 'header' && authorization) values.push(authorization.replace(/^Bearer\s*/i, ''));
  return [...new Set(values)]
    .map((v) => (v.length > 64 ? v.slice(0, 64) : v))
    .filter((v) => v.trim().length >= 8 && !sdl.includes(v) && (/[^A-Za-z0-9_./@+\- ]/.test(v) || v.length >= 64));
}

function describeCase(c: FuzzCase, authorization: string | undefined): string {
  let body = '';
  if (c.body) body = 'text' in c.body ? c.body.text : 'bytes' in c.body ? `<${c.body.bytes.length} bytes> ${Buffer.from(c.body.bytes).toString('hex').slice(0, 400)}` : JSON.stringify(c.body.json);
  const auth = c.auth.kind === 'header' ? `header ${c.auth.label}: ${(authorization ?? '').slice(0, 300)}` : c.auth.kind;
  return `seed ${SEED}, case ${c.id} (${c.category})\n${c.method} ${c.path.slice(0, 300)}\nheaders ${JSON.stringify(c.headers)}\nauth ${auth}\nbody ${body.slice(0, 2_000)}`;
}

/** Log lines at error level or above (pino's numeric levels: 50 error, 60 fatal). */
function errorLogs(from: number): string[] {
  return server.logs.slice(from).filter((line) => /"level":(5|6)\d/.test(line));
}

function problems(c: FuzzCase, authorization: string | undefined, answer: Answer, logsFrom: number): string[] {
  const found: string[] = [];
  if (answer.status >= 500) found.push(`HTTP ${answer.status}`);
  const errors = errorsOf(answer.json);
  // Node's HTTP parser refuses some requests before the app sees them (431 for headers or a URL
  // over its 16 KiB limit, 400 for a malformed request line): the JSON error shape with a code,
  // but no request id (there was no request).
  const expectsJson = c.method !== 'HEAD' && (c.path.startsWith('/graphql') || answer.status >= 400);
  if (expectsJson && answer.json === undefined) found.push(`body is not JSON: ${answer.text.slice(0, 200)}`);
  if (answer.status >= 400 && c.method !== 'HEAD' && !errors?.length) found.push(`HTTP ${answer.status} without GraphQL errors`);
  const hostile = watched(c, authorization);
  for (const error of errors ?? []) {
    const code = error.extensions?.code;
    if (typeof code !== 'string' || !code) found.push(`error without extensions.code: ${JSON.stringify(error).slice(0, 300)}`);
    if (code === 'INTERNAL_SERVER_ERROR') found.push(`INTERNAL_SERVER_ERROR: ${String(error.message)}`);
    const message = typeof error.message === 'string' ? error.message : '';
    const echoed = hostile.find((value) => message.includes(value));
    if (echoed !== undefined) found.push(`error message echoes a submitted value ${JSON.stringify(echoed)}: ${message.slice(0, 300)}`);
  }
  for (const line of errorLogs(logsFrom)) found.push(`error logged: ${line.slice(0, 500)}`);
  return found;
}

describe(`fuzz corpus (seed ${SEED})`, () => {
  it('covers every Query and Mutation field and at least 300 cases', () => {
    const fields = [schema.getQueryType(), schema.getMutationType()].flatMap((t) => Object.keys(t?.getFields() ?? {}));
    for (const field of fields) expect(corpus.some((c) => c.id.includes(`.${field}#`)), field).toBe(true);
    expect(routes.length).toBeGreaterThan(0);
    expect(corpus.length).toBeGreaterThanOrEqual(300);
  });

  it('the snapshot sees a planted write (so an empty diff means nothing was written)', async () => {
    const probe = server.db.collection('fuzz_probe');
    await probe.insertOne({ planted: true });
    expect(diff(baseline, await snapshot(server.db)).join('\n')).toContain('fuzz_probe');
    await probe.drop();
    expect(diff(baseline, await snapshot(server.db))).toEqual([]);
  });

  for (const c of corpus) {
    it(c.id, async () => {
      const authorization = authorizationFor(c);
      const logsFrom = server.logs.length;
      const answer = await send(c, authorization);
      const found = problems(c, authorization, answer, logsFrom);
      const after = await snapshot(server.db);
      if (refused(answer)) {
        const changes = diff(baseline, after);
        if (changes.length) found.push(`a refused request changed the database:\n  ${changes.join('\n  ')}`);
      }
      baseline = after;
      if (found.length) {
        throw new Error(`${found.join('\n')}\n--- reproduce with FUZZ_SEED=${SEED} -t '${c.id}'\n${describeCase(c, authorization)}\n--- answer HTTP ${answer.status}: ${answer.text.slice(0, 1_000)}`);
      }
    });
  }
});
