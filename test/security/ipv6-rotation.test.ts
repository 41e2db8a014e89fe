import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientBucket } from '../../src/modules/auth/client-bucket.js';
import { AUTH_FIELDS, expectCode, signUp } from '../support/auth.js';
import { postGraphql } from '../support/http.js';
import { startServer, type TestServer } from '../support/server.js';

/**
 * Attack (i11): an IPv6 client usually holds a whole /64 (2^64 addresses) and can give every
 * request a new source address. Budgets and lockouts keyed by the exact address then never
 * fill up. TRUST_PROXY=loopback: the test client chooses its address with X-Forwarded-For, as a
 * reverse proxy in front of Coffer would set it for IPv6 visitors.
 */
const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { ${AUTH_FIELDS} } }`;
const inSameSlash64 = (i: number) => `2001:db8:1234:5678:${(i + 1).toString(16)}::${(i * 7 + 3).toString(16)}`;

describe('client buckets', () => {
  it('an IPv6 address counts as its /64; IPv4 and IPv4-mapped addresses as themselves', () => {
    expect(clientBucket('2001:db8:1234:5678:1::3')).toBe(clientBucket('2001:db8:1234:5678:ffff:ffff:ffff:fffe'));
    expect(clientBucket('2001:db8:1234:5678::1')).not.toBe(clientBucket('2001:db8:1234:5679::1'));
    expect(clientBucket('::ffff:203.0.113.5')).toBe(clientBucket('203.0.113.5'));
    expect(clientBucket('203.0.113.5')).not.toBe(clientBucket('203.0.113.6'));
    expect(clientBucket(null)).toBe('unknown');
  });
});

describe('rotating IPv6 addresses inside one /64 does not reset a budget', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ TRUST_PROXY: 'loopback', AUTH_RATE_LIMIT_PER_MINUTE: '3', LOGIN_BACKOFF_MAX_SECONDS: '0' });
  });
  afterAll(() => server?.close());

  it('the login budget (AUTH_RATE_LIMIT_PER_MINUTE) is spent by the /64, not per address', async () => {
    const user = await signUp(server, 'Rotation');
    const codes: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await server.gql(LOGIN, { input: { email: user.email, password: `wrong-password-${i}-xyz` } }, undefined, { 'x-forwarded-for': inSameSlash64(i) });
      codes.push(res.errors?.[0]?.extensions.code);
    }
    expect(codes.slice(0, 3)).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED']);
    expect(codes.slice(3)).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
    // Another /64 has its own budget.
    expectCode(await server.gql(LOGIN, { input: { email: user.email, password: 'wrong-password-z-xyz' } }, undefined, { 'x-forwarded-for': '2001:db8:9999:1::1' }), 'UNAUTHENTICATED');
  });

  it('the whole-API request budget (RATE_LIMIT_PER_MINUTE) too', async () => {
    const limited = await startServer({ TRUST_PROXY: 'loopback', RATE_LIMIT_PER_MINUTE: '3' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await postGraphql(limited.url, { query: '{ __typename }' }, { 'x-forwarded-for': `2001:db8:aaaa:bbbb::${i + 1}` })).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
    } finally {
      await limited.close();
    }
  });
});

describe('held: X-Forwarded-For is ignored when TRUST_PROXY is false', () => {
  it('a new X-Forwarded-For (IPv4 or IPv6) on every login does not reset the login budget', async () => {
    const server = await startServer({ AUTH_RATE_LIMIT_PER_MINUTE: '3', LOGIN_BACKOFF_MAX_SECONDS: '0' });
    try {
      const user = await signUp(server, 'No Proxy');
      const codes: unknown[] = [];
      const spoofed = ['203.0.113.1', '2001:db8:1::1', '203.0.113.2, 198.51.100.1', '::ffff:203.0.113.3', ' 203.0.113.4 '];
      for (const [i, xff] of spoofed.entries()) {
        const res = await server.gql(LOGIN, { input: { email: user.email, password: `wrong-password-${i}-xyz` } }, undefined, { 'x-forwarded-for': xff });
        codes.push(res.errors?.[0]?.extensions.code);
      }
      expect(codes).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'RATE_LIMITED', 'RATE_LIMITED']);
    } finally {
      await server.close();
    }
  });
});
