import { createHash, createHmac } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import {
  getNamedType,
  isCompositeType,
  isNonNullType,
  isObjectType,
  type GraphQLField,
  type GraphQLSchema,
} from 'graphql';
import { HOSTILE_STRINGS, hostileObjects, ownProps, stringsIn, valueFor } from './values.js';

/** What a case runs as. `header` builds a raw Authorization value from the seeded context. */
export type FuzzAuth =
  | { kind: 'owner' }
  | { kind: 'anonymous' }
  | { kind: 'apiKey' }
  | { kind: 'header'; label: string; header: (ctx: FuzzContext) => string };

/** The seeded state some cases build their requests from. */
export interface FuzzContext {
  ownerToken: string;
  apiKey: string;
  /** The server's JWKS (public keys), for keys-confusion forgeries. */
  jwks: { keys: { kid?: string; x?: string }[] };
}

export interface FuzzCase {
  id: string;
  category: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  /** A string, raw bytes, or a value to send as JSON. */
  body?: { text: string } | { bytes: Uint8Array } | { json: unknown };
  auth: FuzzAuth;
  /** Values the client sent that no error message may contain. */
  hostile: string[];
}

const ROOTS = ['query', 'mutation'] as const;

function seedFor(seed: number, label: string): number {
  return createHash('sha256').update(`${seed}:${label}`).digest().readInt32LE(0);
}

/** The selection for a field's return type: `{ __typename }` is valid on every composite type. */
function selectionOf(field: GraphQLField<unknown, unknown>): string {
  return isCompositeType(getNamedType(field.type)) ? ' { __typename }' : '';
}

/** A GraphQL literal for a JSON value, written into the query text (keys printed as they are). */
export function literal(value: unknown, depth = 0): string {
  if (depth > 20) return 'null';
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '0';
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map((v) => literal(v, depth + 1)).join(', ')}]`;
  if (typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${k}: ${literal(v, depth + 1)}`).join(', ')}}`;
  }
  return 'null';
}

/** Operations whose valid call with no arguments changes the owner's state (logout would end the fuzz session). */
function argumentless(field: GraphQLField<unknown, unknown>): boolean {
  return field.args.length === 0;
}

interface Drawn {
  args: Record<string, unknown>;
  omit: string[];
  auth: 'owner' | 'anonymous' | 'apiKey';
  extraArg: boolean;
  inline: boolean;
}

/**
 * The schema-driven part: for every field of Query and Mutation, `perField` operations
 * with hostile arguments drawn by fast-check from the field's own argument types
 * (fields added later are covered without a change here).
 */
export function schemaCases(schema: GraphQLSchema, seed: number, perField: number): FuzzCase[] {
  const cases: FuzzCase[] = [];
  for (const root of ROOTS) {
    const type = root === 'query' ? schema.getQueryType() : schema.getMutationType();
    if (!type) continue;
    for (const field of Object.values(type.getFields()).sort((a, b) => a.name.localeCompare(b.name))) {
      const argModel: Record<string, fc.Arbitrary<unknown>> = {};
      for (const arg of field.args) argModel[arg.name] = valueFor(arg.type);
      const drawn = fc.record({
        args: fc.record(argModel, { requiredKeys: field.args.filter((a) => isNonNullType(a.type)).map((a) => a.name) }),
        omit: fc.subarray(field.args.map((a) => a.name), { maxLength: Math.min(1, field.args.length) }),
        auth: fc.constantFrom<Drawn['auth']>('owner', 'owner', 'owner', 'owner', 'owner', 'anonymous', 'apiKey'),
        extraArg: fc.boolean(),
        inline: fc.boolean(),
      });
      const samples = fc.sample(drawn, { seed: seedFor(seed, `${root}.${field.name}`), numRuns: perField });
      samples.forEach((sample, index) => {
        cases.push(operationCase(root, field, sample, `${root}.${field.name}#${index}`));
      });
    }
  }
  return cases;
}

function operationCase(root: (typeof ROOTS)[number], field: GraphQLField<unknown, unknown>, drawn: Drawn, id: string): FuzzCase {
  // Omitting an argument: only the first sample of each field keeps the drawn omission.
  const omitted = new Set(id.endsWith('#0') ? drawn.omit : []);
  const args = field.args.filter((a) => !omitted.has(a.name));
  const hostile: string[] = [];
  const variables: Record<string, unknown> = {};
  const params: string[] = [];
  const passed: string[] = [];
  for (const arg of args) {
    const value = drawn.args[arg.name];
    if (value === undefined) continue;
    hostile.push(...stringsIn(value));
    if (drawn.inline) {
      passed.push(`${arg.name}: ${literal(value)}`);
    } else {
      params.push(`$${arg.name}: ${String(arg.type)}`);
      passed.push(`${arg.name}: $${arg.name}`);
      variables[arg.name] = value;
    }
  }
  // A mutation without arguments (logout, rotateTenantKey, …) is only ever sent with a bogus
  // argument or without the owner's token, so the fuzz run cannot end its own session.
  const unsafeAsOwner = root === 'mutation' && argumentless(field);
  const extra = drawn.extraArg || (unsafeAsOwner && drawn.auth === 'owner');
  if (extra) passed.push('fuzzUnknownArgument: "$where"');
  const argText = passed.length ? `(${passed.join(', ')})` : '';
  const query = `${root} Fuzz${params.length ? `(${params.join(', ')})` : ''} { ${field.name}${argText}${selectionOf(field)} }`;
  return {
    id,
    category: `schema:${root}`,
    method: 'POST',
    path: '/graphql',
    headers: { 'content-type': 'application/json' },
    body: { json: { query, variables } },
    auth: { kind: drawn.auth },
    hostile,
  };
}

function post(id: string, category: string, body: FuzzCase['body'], headers: Record<string, string> = {}, auth: FuzzAuth = { kind: 'owner' }, hostile: string[] = []): FuzzCase {
  return { id, category, method: 'POST', path: '/graphql', headers: { 'content-type': 'application/json', ...headers }, body, auth, hostile };
}

/** The first Query field with no required argument and an object type, for bombs that need a real field. */
function openQueryField(schema: GraphQLSchema): GraphQLField<unknown, unknown> {
  const fields = Object.values(schema.getQueryType()!.getFields());
  const found = fields.find((f) => f.args.every((a) => !isNonNullType(a.type)) && isObjectType(getNamedType(f.type)));
  if (!found) throw new Error('no Query field without required arguments');
  return found;
}

/** Deep and alias bombs, directive and fragment abuse, token floods and batches, built on the schema's fields. */
export function bombCases(schema: GraphQLSchema): FuzzCase[] {
  const field = openQueryField(schema);
  const sel = `${field.name} { __typename }`;
  const cases: FuzzCase[] = [];
  const add = (name: string, body: FuzzCase['body'], auth: FuzzAuth = { kind: 'owner' }) => cases.push(post(`bomb:${name}`, 'bombs', body, {}, auth));
  const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${sel}`).join(' ')} }`;
  add('aliases-21', { json: { query: aliases(21) } });
  add('aliases-200', { json: { query: aliases(200) } });
  add('aliases-200-anonymous', { json: { query: aliases(200) } }, { kind: 'anonymous' });
  const nest = (n: number) => `{ __type(name: "Query") ${'{ fields { type '.repeat(n)}{ name }${' } }'.repeat(n)} }`;
  add('depth-12', { json: { query: nest(12) } });
  add('depth-100', { json: { query: nest(100) } });
  add('depth-5000-parse', { json: { query: `{ ${'a { '.repeat(5_000)}b${' }'.repeat(5_000)} }` } });
  add('duplicate-fields-1000', { json: { query: `{ ${Array.from({ length: 1_000 }, () => sel).join(' ')} }` } });
  add('directives-500', { json: { query: `{ ${field.name} ${'@include(if: true) '.repeat(500)}{ __typename } }` } });
  add('fragment-cycle', { json: { query: `{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }` } });
  add('fragment-fanout', {
    json: {
      query: `{ ...F0 } ${Array.from({ length: 12 }, (_, i) => `fragment F${i} on Query { ${i < 11 ? `...F${i + 1} ...F${i + 1}` : sel} }`).join(' ')}`,
    },
  });
  add('tokens-3000', { json: { query: `{ ${Array.from({ length: 3_000 }, (_, i) => `f${i}`).join(' ')} }` } });
  add('many-operations-no-name', { json: { query: `{ ${sel} } { ${sel} }` } });
  add('operation-name-unknown', { json: { query: `query A { ${sel} }`, operationName: 'B' } });
  add('operation-name-object', { json: { query: `query A { ${sel} }`, operationName: { $gt: '' } } });
  add('introspection-cost', { json: { query: '{ __schema { types { fields { args { type { ofType { ofType { name } } } } } } } }' } });
  add('subscription', { json: { query: `subscription { ${sel} }` } });
  // Written as text: nesting this deep is past what JSON.stringify can recurse through.
  const deep = (n: number) => `${'{"d":'.repeat(n)}1${'}'.repeat(n)}`;
  add('variables-deep-json', { text: `{"query": "query($v: String) { __typename }", "variables": {"v": ${deep(5_000)}}}` });
  add('metadata-deep-20000', {
    text: `{"query": "mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }", "variables": {"i": {"name": "fuzz/deep", "value": "v", "metadata": ${deep(20_000)}}}}`,
  });
  add('dotenv-deep-list', { text: `{"query": "mutation($i: [SetSecretInput!]!) { setSecrets(items: $i) { name } }", "variables": {"i": ${'['.repeat(10_000)}${']'.repeat(10_000)}}}` });
  add('batch-2', { json: [{ query: `{ ${sel} }` }, { query: `{ ${sel} }` }] });
  add('batch-100-mutations', { json: Array.from({ length: 100 }, () => ({ query: 'mutation { logout }' })) });
  add('batch-empty', { json: [] });
  add('batch-nested', { json: [[{ query: '{ __typename }' }]] });
  add('batch-anonymous', { json: [{ query: '{ __typename }' }, { query: 'mutation { logout }' }] }, { kind: 'anonymous' });
  return cases;
}

const TYPENAME = JSON.stringify({ query: '{ __typename }' });

/** Malformed bodies, wrong content types and charsets, invalid UTF-8, size limits and encodings. */
export function transportCases(): FuzzCase[] {
  const cases: FuzzCase[] = [];
  const raw = (name: string, category: string, body: FuzzCase['body'], headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    cases.push({ id: `${category}:${name}`, category, method: 'POST', path: '/graphql', headers, body, auth: { kind: 'owner' }, hostile: [] });
  const malformed: [string, string][] = [
    ['empty', ''],
    ['open-brace', '{'],
    ['unterminated-string', '{"query": "{ __typename }'],
    ['trailing-garbage', `${TYPENAME} trailing`],
    ['two-documents', `${TYPENAME}${TYPENAME}`],
    ['nan', '{"query": NaN}'],
    ['single-quotes', "{'query': '{ __typename }'}"],
    ['comment', '{"query": "{ __typename }" /* x */}'],
    ['bare-string', '"{ __typename }"'],
    ['bare-number', '123'],
    ['null', 'null'],
    ['true', 'true'],
    ['query-number', '{"query": 1}'],
    ['query-null', '{"query": null}'],
    ['query-object', '{"query": {"$gt": ""}}'],
    ['query-array', '{"query": ["{ __typename }"]}'],
    ['variables-string', '{"query": "{ __typename }", "variables": "{}"}'],
    ['variables-array', '{"query": "{ __typename }", "variables": [1]}'],
    ['extensions-string', '{"query": "{ __typename }", "extensions": "x"}'],
    ['persisted-query-unknown', '{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0000000000000000000000000000000000000000000000000000000000000000"}}}'],
    ['persisted-query-mismatch', '{"query": "{ __typename }", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "deadbeef"}}}'],
    ['duplicate-keys', '{"query": "{ __typename }", "query": "mutation { logout }"}'],
    ['proto-key', '{"__proto__": {"query": "mutation { logout }"}, "query": "{ __typename }"}'],
    ['constructor-key', '{"constructor": {"prototype": {"query": "x"}}, "query": "{ __typename }"}'],
    ['proto-in-variables', '{"query": "query($v: String) { __typename }", "variables": {"__proto__": {"v": "x"}}}'],
    ['deep-array', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
    ['deep-object', `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`],
    ['huge-number', `{"query": "{ __typename }", "variables": {"n": 1${'0'.repeat(5_000)}}}`],
    ['lone-surrogate-escape', '{"query": "{ __typename }", "variables": {"s": "\\ud800"}}'],
    ['bom', `\uFEFF${TYPENAME}`],
    ['whitespace-only', ' \n\t '],
  ];
  for (const [name, text] of malformed) raw(name, 'malformed-json', { text });

  const invalidUtf8: [string, number[]][] = [
    ['ff-fe', [0xff, 0xfe]],
    ['overlong-slash', [0xc0, 0xaf]],
    ['truncated-3-byte', [0xe2, 0x82]],
    ['encoded-surrogate', [0xed, 0xa0, 0x80]],
    ['beyond-10ffff', [0xf4, 0x90, 0x80, 0x80]],
    ['continuation-only', [0x80, 0x80]],
  ];
  for (const [name, bytes] of invalidUtf8) {
    const before = Buffer.from('{"query": "{ __typename }", "variables": {"s": "');
    const after = Buffer.from('"}}');
    raw(`in-string-${name}`, 'invalid-utf8', { bytes: Buffer.concat([before, Buffer.from(bytes), after]) });
    raw(`in-query-${name}`, 'invalid-utf8', {
      bytes: Buffer.concat([Buffer.from('{"query": "{ __typename '), Buffer.from(bytes), Buffer.from(' }"}')]),
    });
  }

  const types: [string, string][] = [
    ['text-plain', 'text/plain'],
    ['form', 'application/x-www-form-urlencoded'],
    ['multipart', 'multipart/form-data; boundary=fuzz'],
    ['application-graphql', 'application/graphql'],
    ['json-latin1', 'application/json; charset=latin1'],
    ['json-utf16', 'application/json; charset=utf-16'],
    ['json-utf16le', 'application/json; charset=utf-16le'],
    ['json-unknown-charset', 'application/json; charset=fuzz-8'],
    ['json-empty-charset', 'application/json; charset='],
    ['json-quoted-utf8', 'application/json; charset="utf-8"'],
    ['json-upper', 'APPLICATION/JSON'],
    ['json-suffix', 'application/vnd.fuzz+json'],
    ['json-garbage-params', 'application/json;;;; a=b=c'],
    ['xml', 'application/xml'],
    ['octet-stream', 'application/octet-stream'],
    ['invalid-media-type', '/////'],
  ];
  for (const [name, type] of types) raw(name, 'content-type', { text: TYPENAME }, { 'content-type': type });
  raw('none', 'content-type', { text: TYPENAME }, {});
  raw('utf16-body', 'content-type', { bytes: Buffer.from(TYPENAME, 'utf16le') }, { 'content-type': 'application/json; charset=utf-16le' });

  raw('over-limit-200kb', 'huge-body', { text: JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(200_000) } }) });
  raw('over-limit-2mb', 'huge-body', { text: JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(2_000_000) } }) });
  raw('query-99kb-whitespace', 'huge-body', { text: JSON.stringify({ query: `{ __typename ${' '.repeat(99_000)}}` }) });
  raw('gzip-corrupt', 'huge-body', { bytes: Buffer.from('1f8b0800000000000000deadbeef', 'hex') }, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
  raw('gzip-bomb', 'huge-body', { bytes: gzipSync(Buffer.from(`{"query": "{ __typename }", "variables": {"p": "${'0'.repeat(20_000_000)}"}}`)) }, {
    'content-type': 'application/json',
    'content-encoding': 'gzip',
  });
  raw('unknown-encoding', 'huge-body', { text: TYPENAME }, { 'content-type': 'application/json', 'content-encoding': 'fuzz' });
  raw('stacked-encodings', 'huge-body', { text: TYPENAME }, { 'content-type': 'application/json', 'content-encoding': 'gzip, gzip, br' });

  // GET is for queries only (Apollo refuses mutations over GET) and needs a CSRF-safe header.
  const get = (name: string, search: string, headers: Record<string, string> = { 'apollo-require-preflight': 'true' }) =>
    cases.push({ id: `get:${name}`, category: 'get', method: 'GET', path: `/graphql?${search}`, headers, auth: { kind: 'owner' }, hostile: [] });
  get('mutation', `query=${encodeURIComponent('mutation { logout }')}`);
  get('no-preflight', `query=${encodeURIComponent('{ __typename }')}`, {});
  get('variables-not-json', `query=${encodeURIComponent('{ __typename }')}&variables=%7B`);
  get('variables-operator', `query=${encodeURIComponent('query($v: String) { __typename }')}&variables=${encodeURIComponent('{"v":{"$gt":""}}')}`);
  get('repeated-query', `query=a&query=b`);
  get('bracket-query', `query[$gt]=&query[a]=b`);
  get('proto-query', `__proto__[query]=x&query=${encodeURIComponent('{ __typename }')}`);
  get('bad-percent', 'query=%E0%A4%A');
  get('huge-url', `query=${'x'.repeat(60_000)}`);

  for (const method of ['PUT', 'DELETE', 'PATCH']) {
    cases.push({ id: `method:${method}`, category: 'method', method, path: '/graphql', headers: { 'content-type': 'application/json' }, body: { text: TYPENAME }, auth: { kind: 'owner' }, hostile: [] });
  }
  return cases;
}

function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

function unsignedJwt(header: unknown, payload: unknown, signature = ''): string {
  return `${b64url(header)}.${b64url(payload)}.${signature}`;
}

function payloadOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Authorization headers of every wrong shape, each against a read that needs a caller. */
export function tokenCases(schema: GraphQLSchema): FuzzCase[] {
  const field = openQueryField(schema);
  const body = { json: { query: `{ ${field.name} { __typename } }` } };
  const headers: [string, (ctx: FuzzContext) => string][] = [
    ['empty', () => ''],
    ['bearer-only', () => 'Bearer'],
    ['bearer-space', () => 'Bearer '],
    ['lowercase-scheme-garbage', () => 'bearer garbage'],
    ['basic', () => `Basic ${Buffer.from('owner:password').toString('base64')}`],
    ['two-tokens', (ctx) => `Bearer ${ctx.ownerToken} Bearer ${ctx.ownerToken}`],
    ['tab-separated', (ctx) => `Bearer\t${ctx.ownerToken}x`],
    ['token-without-scheme', (ctx) => ctx.ownerToken],
    ['garbage-latin1', () => `Bearer \xff\xfe\xe9garbage`],
    ['three-dots', () => 'Bearer ...'],
    ['one-segment', () => 'Bearer abc'],
    ['huge', () => `Bearer ${'A'.repeat(7_000)}`],
    ['operator-json', () => 'Bearer {"$gt":""}'],
    ['alg-none', (ctx) => `Bearer ${unsignedJwt({ alg: 'none', typ: 'at+jwt' }, payloadOf(ctx.ownerToken))}`],
    ['alg-none-upper', (ctx) => `Bearer ${unsignedJwt({ alg: 'NONE', typ: 'at+jwt', kid: ctx.jwks.keys[0]?.kid }, payloadOf(ctx.ownerToken))}`],
    [
      'hs256-with-public-key',
      (ctx) => {
        const header = { alg: 'HS256', typ: 'at+jwt', kid: ctx.jwks.keys[0]?.kid };
        const signingInput = `${b64url(header)}.${b64url(payloadOf(ctx.ownerToken))}`;
        const signature = createHmac('sha256', Buffer.from(ctx.jwks.keys[0]?.x ?? '', 'base64url')).update(signingInput).digest('base64url');
        return `Bearer ${signingInput}.${signature}`;
      },
    ],
    ['kid-traversal', (ctx) => `Bearer ${unsignedJwt({ alg: 'EdDSA', typ: 'at+jwt', kid: '../../../../dev/null' }, payloadOf(ctx.ownerToken), 'AAAA')}`],
    ['kid-operator', (ctx) => `Bearer ${unsignedJwt({ alg: 'EdDSA', typ: 'at+jwt', kid: { $gt: '' } }, payloadOf(ctx.ownerToken), 'AAAA')}`],
    ['jku-header', (ctx) => `Bearer ${unsignedJwt({ alg: 'EdDSA', typ: 'at+jwt', jku: 'http://127.0.0.1:1/jwks.json', kid: 'x' }, payloadOf(ctx.ownerToken), 'AAAA')}`],
    ['embedded-jwk', (ctx) => `Bearer ${unsignedJwt({ alg: 'EdDSA', typ: 'at+jwt', jwk: ctx.jwks.keys[0] }, payloadOf(ctx.ownerToken), 'AAAA')}`],
    ['header-not-json', () => `Bearer ${b64url('not json')}.${b64url({ sub: 'x' })}.AAAA`],
    ['payload-not-json', (ctx) => `Bearer ${ctx.ownerToken.split('.')[0]}.${b64url('{')}.AAAA`],
    ['claims-operators', (ctx) => `Bearer ${ctx.ownerToken.split('.')[0]}.${b64url({ ...payloadOf(ctx.ownerToken), sub: { $gt: '' }, tid: { $ne: null }, role: 'OWNER' })}.${ctx.ownerToken.split('.')[2]}`],
    ['claims-proto', (ctx) => `Bearer ${ctx.ownerToken.split('.')[0]}.${b64url(`{"__proto__":{"role":"OWNER"},"sub":"x"}`)}.${ctx.ownerToken.split('.')[2]}`],
    ['tampered-signature', (ctx) => `Bearer ${ctx.ownerToken.slice(0, -4)}${ctx.ownerToken.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`],
    ['signature-stripped', (ctx) => `Bearer ${ctx.ownerToken.split('.').slice(0, 2).join('.')}.`],
    ['expired-forged', (ctx) => `Bearer ${ctx.ownerToken.split('.')[0]}.${b64url({ ...payloadOf(ctx.ownerToken), exp: 1, iat: 0, nbf: 0 })}.${ctx.ownerToken.split('.')[2]}`],
    ['far-future-forged', (ctx) => `Bearer ${ctx.ownerToken.split('.')[0]}.${b64url({ ...payloadOf(ctx.ownerToken), exp: 8.64e15, nbf: -8.64e15 })}.${ctx.ownerToken.split('.')[2]}`],
    ['refresh-token-as-access', () => `Bearer ${'a'.repeat(43)}`],
    ['cof-only', () => 'Bearer cof_'],
    ['cof-garbage', () => 'Bearer cof_garbage'],
    ['cof-operator', () => 'Bearer cof_{"$gt":""}'],
    ['cof-huge', () => `Bearer cof_${'z'.repeat(5_000)}`],
    ['cof-truncated', (ctx) => `Bearer ${ctx.apiKey.slice(0, -1)}`],
    ['cof-extended', (ctx) => `Bearer ${ctx.apiKey}x`],
    ['cof-wrong-secret', (ctx) => `Bearer ${ctx.apiKey.slice(0, -6)}AAAAAA`],
    ['cof-upper', (ctx) => `Bearer ${ctx.apiKey.toUpperCase()}`],
    ['cof-dots', () => 'Bearer cof_../../../etc'],
    ['cof-proto', () => 'Bearer cof___proto__'],
  ];
  return headers.map(([label, header]) => ({
    id: `token:${label}`,
    category: 'tokens',
    method: 'POST',
    path: '/graphql',
    headers: { 'content-type': 'application/json' },
    body,
    auth: { kind: 'header', label, header },
    hostile: [],
  }));
}

/** Each public GET route the app serves (found on the running app), with hostile queries, headers and methods. */
export function publicRouteCases(paths: readonly string[]): FuzzCase[] {
  const cases: FuzzCase[] = [];
  for (const path of paths) {
    const add = (name: string, partial: Partial<FuzzCase>) =>
      cases.push({ id: `public:${path}:${name}`, category: 'public', method: 'GET', path, headers: {}, auth: { kind: 'anonymous' }, hostile: [], ...partial });
    add('plain', {});
    add('operator-query', { path: `${path}?$where=sleep(5000)&a[$gt]=&__proto__[x]=1` });
    add('huge-query', { path: `${path}?q=${'x'.repeat(30_000)}` });
    add('bad-percent', { path: `${path}?%E0%A4%A=%` });
    add('garbage-token', { auth: { kind: 'header', label: 'garbage', header: () => 'Bearer garbage.garbage.garbage' } });
    add('owner-token', { auth: { kind: 'owner' } });
    add('post-json', { method: 'POST', headers: { 'content-type': 'application/json' }, body: { text: '{"$where": "1"}' } });
    add('post-malformed', { method: 'POST', headers: { 'content-type': 'application/json' }, body: { text: '{' } });
    add('delete', { method: 'DELETE' });
    add('head', { method: 'HEAD' });
    add('accept-weird', { headers: { accept: 'text/html;q=0, */*;q=0' } });
    add('path-traversal', { path: `${path}/../../etc/passwd` });
    add('trailing-encoded-null', { path: `${path}%00` });
  }
  return cases;
}

/** A handful of hand-written operations where a hostile value sits in an otherwise valid, known-good shape. */
export function handCases(): FuzzCase[] {
  const cases: FuzzCase[] = [];
  const op = (name: string, query: string, variables: Record<string, unknown>, auth: FuzzAuth = { kind: 'owner' }) =>
    cases.push(post(`hand:${name}`, 'hand', { json: { query, variables } }, {}, auth, stringsIn(variables)));
  const CREATE = 'mutation($input: CreateSecretInput!) { createSecret(input: $input) { id } }';
  op('createSecret-metadata-where', CREATE, { input: { name: 'fuzz/bad-metadata', value: 'v', metadata: { $where: 'sleep(100)' } } });
  op('createSecret-metadata-proto', CREATE, { input: { name: 'fuzz/bad-proto', value: 'v', metadata: ownProps([['__proto__', { admin: true }]]) } });
  op('createSecret-metadata-deep', CREATE, { input: { name: 'fuzz/deep', value: 'v', metadata: hostileObjects()[9] } });
  op('createSecret-name-10k', CREATE, { input: { name: 'x'.repeat(10_000), value: 'v' } });
  op('createSecret-name-rtl', CREATE, { input: { name: 'fuzz/\u202Etxt.exe', value: 'v' } });
  op('createSecret-name-zero-width', CREATE, { input: { name: 'fuzz/a\u200Bb', value: 'v' } });
  op('createSecret-name-operator', CREATE, { input: { name: { $gt: '' }, value: 'v' } });
  op('createSecret-maxVersions-negative', CREATE, { input: { name: 'fuzz/neg', value: 'v', maxVersions: -5 } });
  op('createSecret-maxVersions-fraction', CREATE, { input: { name: 'fuzz/frac', value: 'v', maxVersions: 2.5 } });
  op('createSecret-maxVersions-huge', CREATE, { input: { name: 'fuzz/huge', value: 'v', maxVersions: 2_147_483_647 } });
  op('createSecret-expires-out-of-range', CREATE, { input: { name: 'fuzz/date', value: 'v', expiresAt: '+275760-09-13T00:00:00.001Z' } });
  op('createSecret-expires-past', CREATE, { input: { name: 'fuzz/past', value: 'v', expiresAt: '1969-12-31T23:59:59.999Z' } });
  op('secret-name-operator', 'query($n: String!) { secret(name: $n) { id } }', { n: { $ne: null } });
  op('secret-name-regex', 'query($n: String!) { secret(name: $n) { id } }', { n: '.*' });
  op('secrets-prefix-regex', 'query($f: SecretFilter) { secrets(filter: $f) { totalCount } }', { f: { prefix: '.*' } });
  op('secrets-first-negative', 'query { secrets(first: -1) { totalCount } }', {});
  op('secrets-first-huge', 'query { secrets(first: 2147483647) { totalCount } }', {});
  op('secrets-after-garbage', 'query($a: String) { secrets(after: $a) { totalCount } }', { a: '{"$gt":""}' });
  op('secrets-after-base64-operator', 'query($a: String) { secrets(after: $a) { totalCount } }', { a: Buffer.from('{"name":{"$gt":""}}').toString('base64url') });
  op('auditEvents-after-base64-operator', 'query($a: String) { auditEvents(after: $a) { totalCount } }', { a: Buffer.from('{"seq":{"$gt":0}}').toString('base64url') });
  op('auditEvents-from-out-of-range', 'query($f: AuditEventFilter) { auditEvents(filter: $f) { totalCount } }', { f: { from: '-271821-04-20T00:00:00Z' } });
  op('verifyAuditLog-negative', 'query { verifyAuditLog(from: -5, to: -1) { valid } }', {});
  op('verifyAuditLog-huge', 'query { verifyAuditLog(from: 1, to: 2147483647) { valid } }', {});
  op('secretsDueForRotation-negative', 'query { secretsDueForRotation(withinDays: -2147483648) { id } }', {});
  op('importSecrets-hostile', 'mutation($d: String!) { importSecrets(dotenv: $d, prefix: "fuzz/") { name } }', { d: `\uD800=1\n$where=1\n__proto__=x\n${'K'.repeat(10_000)}=v` });
  op('setSecrets-empty', 'mutation { setSecrets(items: []) { name } }', {});
  op('setSecrets-1000', 'mutation($i: [SetSecretInput!]!) { setSecrets(items: $i) { name } }', { i: Array.from({ length: 1_000 }, (_, k) => ({ name: `fuzz/$gt${k}`, value: 'v' })) });
  op('destroySecretVersions-huge', 'mutation { destroySecretVersions(name: "seed/alpha", versions: [-1, 0, 2147483647]) { id } }', {});
  op('inviteMember-role-platform', 'mutation($i: InviteMemberInput!) { inviteMember(input: $i) { id } }', { i: { email: 'fuzz@example.com', role: 'PLATFORM_ADMIN' } });
  op('createApiKey-prefix-operator', 'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey } }', { i: { name: 'fuzz', role: 'USER', prefixes: [{ $gt: '' }] } });
  op('createApiKey-expired', 'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey } }', { i: { name: 'fuzz', role: 'USER', prefixes: ['*'], expiresAt: '2000-01-01T00:00:00Z' } });
  op('login-operator-email', 'mutation($i: LoginInput!) { login(input: $i) { accessToken } }', { i: { email: { $gt: '' }, password: { $gt: '' } } }, { kind: 'anonymous' });
  op('login-10k-email', 'mutation($i: LoginInput!) { login(input: $i) { accessToken } }', { i: { email: `${'a'.repeat(10_000)}@example.com`, password: 'x'.repeat(10_000) } }, { kind: 'anonymous' });
  op('signUp-rtl-tenant', 'mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }', { i: { email: 'fuzz-rtl@example.com', password: 'short', tenantName: '\u202Eevil' } }, { kind: 'anonymous' });
  op('refreshToken-operator', 'mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }', { t: { $ne: '' } }, { kind: 'anonymous' });
  op('switchTenant-operator', 'mutation($t: ID!) { switchTenant(tenantId: $t) { accessToken } }', { t: '{"$ne": null}' });
  return cases;
}

export const HOSTILE_STRING_COUNT = HOSTILE_STRINGS.length;
