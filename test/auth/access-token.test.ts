import { createPublicKey, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, signUp, type Signed } from '../support/auth.js';
import { b64url, decodeSegment, expectRefused, ME_QUERY, request } from '../support/http.js';
import { newJwtKeyPem, startServer, type TestServer } from '../support/server.js';

/**
 * Access tokens are attacked from outside: every forged token goes over HTTP to
 * `me`, and every one must be refused with UNAUTHENTICATED and no data. The
 * forgeries reuse the claims of a real, live session, so a refusal can only come
 * from the defect under test; a control forgery with nothing wrong is accepted.
 */

let server: TestServer;
let owner: Signed;
let claims: JWTPayload;
let kid: string;
let serverKey: KeyObject;

beforeAll(async () => {
  server = await startServer();
  owner = await signUp(server, 'Token Test Co');
  claims = decodeJwt(owner.accessToken);
  kid = decodeProtectedHeader(owner.accessToken).kid!;
  serverKey = server.config.jwt.privateKey;
});
afterAll(async () => server?.close());

const now = () => Math.floor(Date.now() / 1000);

interface ForgeOptions {
  header?: Record<string, unknown>;
  /** Claims merged over the real token's claims; `undefined` values remove a claim. */
  claims?: Record<string, unknown>;
  key?: KeyObject | Uint8Array;
}

/** Signs the real session's claims (fresh iat/nbf/exp/jti) with the given header and key. */
async function forge(options: ForgeOptions = {}): Promise<string> {
  const t = now();
  const payload: Record<string, unknown> = { ...claims, jti: randomUUID(), iat: t, nbf: t, exp: t + 900, ...options.claims };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  const header = options.header ?? { alg: 'EdDSA', kid, typ: 'at+jwt' };
  return new SignJWT(payload as JWTPayload).setProtectedHeader(header as never).sign(options.key ?? serverKey);
}

function me(token: string, headers?: Record<string, string>) {
  return server.gql<{ me: { user: { id: string } } }>(ME_QUERY, {}, token, headers);
}

describe('a real access token', () => {
  it('is accepted by me', async () => {
    const res = await me(owner.accessToken);
    expect(expectOk(res).me.user.id).toBe(owner.userId);
  });

  it('carries sub, tid, role, sid, jti, iss, aud and a 900 s lifetime', () => {
    expect(claims.sub).toBe(owner.userId);
    expect(claims.tid).toBe(owner.tenantId);
    expect(claims.role).toBe('OWNER');
    expect(claims.sid).toMatch(/^[0-9a-f-]{36}$/);
    // The refresh token is `<session id>.<secret>`: both belong to the same session.
    expect(owner.refreshToken.split('.')[0]).toBe(claims.sid);
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(claims.iss).toBe('coffer');
    expect(claims.aud).toBe('coffer-api');
    expect(typeof claims.iat).toBe('number');
    expect(claims.exp! - claims.iat!).toBe(900);
    expect(claims.padm).toBeUndefined();
  });

  it('has an EdDSA at+jwt header whose kid is published in the JWKS without private material', async () => {
    const header = decodeProtectedHeader(owner.accessToken);
    expect(header.alg).toBe('EdDSA');
    expect(header.typ).toBe('at+jwt');
    const jwks = (await request(`${server.url}/.well-known/jwks.json`)).json as { keys: JWK[] };
    const published = jwks.keys.find((k) => k.kid === header.kid);
    expect(published).toBeDefined();
    expect(published).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    for (const key of jwks.keys) {
      expect(key.d).toBeUndefined();
      expect(Object.keys(key).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x']);
    }
    // The kid is the RFC 7638 thumbprint of the key the server really signs with.
    expect(await calculateJwkThumbprint(await exportJWK(createPublicKey(serverKey)))).toBe(header.kid);
  });

  it('control: a token forged with the server key and nothing wrong is accepted (so the refusals below are meaningful)', async () => {
    const res = await me(await forge());
    expect(expectOk(res).me.user.id).toBe(owner.userId);
  });
});

describe('forged or defective access tokens are refused with UNAUTHENTICATED', () => {
  it('refuses an unsecured alg:none token', async () => {
    const t = now();
    const payload = { ...claims, jti: randomUUID(), iat: t, nbf: t, exp: t + 900 };
    for (const header of [
      { alg: 'none', typ: 'at+jwt', kid },
      { alg: 'none', typ: 'at+jwt' },
      { alg: 'None', typ: 'at+jwt', kid },
    ]) {
      const unsecured = `${b64url(header)}.${b64url(payload)}.`;
      expectRefused(await me(unsecured));
    }
    // The real signature appended to an alg:none header does not help either.
    const [, realPayload, realSignature] = owner.accessToken.split('.');
    expectRefused(await me(`${b64url({ alg: 'none', typ: 'at+jwt', kid })}.${realPayload}.${realSignature}`));
  });

  it('refuses HS256 tokens keyed with the public key (raw x bytes and PEM/SPKI text)', async () => {
    const jwks = (await request(`${server.url}/.well-known/jwks.json`)).json as { keys: JWK[] };
    const published = jwks.keys.find((k) => k.kid === kid)!;
    const rawX = new Uint8Array(Buffer.from(published.x!, 'base64url'));
    expect(rawX.length).toBe(32);
    const publicKey = createPublicKey({ key: published as never, format: 'jwk' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const der = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
    for (const secret of [rawX, new TextEncoder().encode(pem), new TextEncoder().encode(pem.trim()), der]) {
      for (const header of [
        { alg: 'HS256', kid, typ: 'at+jwt' },
        { alg: 'HS256', typ: 'at+jwt' },
      ]) {
        expectRefused(await me(await forge({ header, key: secret })));
      }
    }
  });

  it('refuses an expired token (exp beyond the 5 s clock tolerance)', async () => {
    const t = now();
    expectRefused(await me(await forge({ claims: { iat: t - 960, nbf: t - 960, exp: t - 60 } })));
    expectRefused(await me(await forge({ claims: { iat: t - 915, nbf: t - 915, exp: t - 15 } })));
  });

  it('refuses a token that is not yet valid (nbf a minute ahead)', async () => {
    const t = now();
    expectRefused(await me(await forge({ claims: { nbf: t + 60 } })));
    expectRefused(await me(await forge({ claims: { iat: t + 60, nbf: t + 60, exp: t + 960 } })));
  });

  it('refuses a wrong issuer or a missing one', async () => {
    expectRefused(await me(await forge({ claims: { iss: 'evil-issuer' } })));
    expectRefused(await me(await forge({ claims: { iss: 'Coffer' } })));
    expectRefused(await me(await forge({ claims: { iss: undefined } })));
  });

  it('refuses a wrong audience or a missing one', async () => {
    expectRefused(await me(await forge({ claims: { aud: 'another-api' } })));
    expectRefused(await me(await forge({ claims: { aud: ['another-api'] } })));
    expectRefused(await me(await forge({ claims: { aud: undefined } })));
  });

  it('refuses a token missing a required claim (sid, jti, exp, nbf)', async () => {
    for (const missing of ['sid', 'jti', 'exp', 'nbf', 'sub']) {
      expectRefused(await me(await forge({ claims: { [missing]: undefined } })));
    }
  });

  it('refuses a real token whose payload was tampered with (role changed, signature kept)', async () => {
    const [header, payload, signature] = owner.accessToken.split('.');
    const decoded = decodeSegment(payload!);
    expect(decoded.role).toBe('OWNER');
    for (const role of ['ADMIN', 'USER']) {
      const tampered = `${header}.${b64url({ ...decoded, role })}.${signature}`;
      expectRefused(await me(tampered));
    }
    // Also: extending its lifetime, or claiming platform admin.
    expectRefused(await me(`${header}.${b64url({ ...decoded, exp: decoded.exp as number + 86_400 })}.${signature}`));
    expectRefused(await me(`${header}.${b64url({ ...decoded, padm: true })}.${signature}`));
    // A flipped signature bit.
    const sig = Buffer.from(signature!, 'base64url');
    sig[0] = sig[0]! ^ 1;
    expectRefused(await me(`${header}.${payload}.${sig.toString('base64url')}`));
    // The untouched token still works.
    expectOk(await me(owner.accessToken));
  });

  it('refuses an unknown kid, even with a valid signature by the server key', async () => {
    expectRefused(await me(await forge({ header: { alg: 'EdDSA', kid: 'unknown-key-id', typ: 'at+jwt' } })));
    expectRefused(await me(await forge({ header: { alg: 'EdDSA', typ: 'at+jwt' } })));
  });

  it('refuses the right kid on a token signed with a different Ed25519 key', async () => {
    const { privateKey: other } = generateKeyPairSync('ed25519');
    expectRefused(await me(await forge({ key: other })));
    const otherKid = await calculateJwkThumbprint(await exportJWK(createPublicKey(other)));
    expectRefused(await me(await forge({ key: other, header: { alg: 'EdDSA', kid: otherKid, typ: 'at+jwt' } })));
  });

  it('refuses a refresh token presented as an access token', async () => {
    expectRefused(await me(owner.refreshToken));
  });

  it('refuses an Authorization header that is not Bearer', async () => {
    const basic = `Basic ${Buffer.from(`${owner.email}:${owner.password}`).toString('base64')}`;
    expectRefused(await server.gql(ME_QUERY, {}, undefined, { authorization: basic }));
    expectRefused(await server.gql(ME_QUERY, {}, undefined, { authorization: owner.accessToken }));
    expectRefused(await server.gql(ME_QUERY, {}, undefined, { authorization: `Token ${owner.accessToken}` }));
    expectRefused(await server.gql(ME_QUERY, {}, undefined, { authorization: `Bearer ${owner.accessToken} extra` }));
  });

  it('refuses a missing or wrong typ header', async () => {
    expectRefused(await me(await forge({ header: { alg: 'EdDSA', kid } })));
    expectRefused(await me(await forge({ header: { alg: 'EdDSA', kid, typ: 'JWT' } })));
    expectRefused(await me(await forge({ header: { alg: 'EdDSA', kid, typ: 'refresh+jwt' } })));
  });

  it('refuses garbage and a bare anonymous call alike', async () => {
    expectRefused(await me('not-a-jwt'));
    expectRefused(await me('a.b.c'));
    expectRefused(await server.gql(ME_QUERY));
  });
});

describe('key rotation through JWT_PREVIOUS_PUBLIC_KEYS', () => {
  const dbName = `t_rot_${randomUUID().slice(0, 8)}`;
  const k1 = newJwtKeyPem();
  const k2 = newJwtKeyPem();
  const k1PublicPem = createPublicKey(k1).export({ type: 'spki', format: 'pem' }).toString();
  let a: TestServer;
  let b: TestServer;
  let c: TestServer;
  let user: Signed;

  beforeAll(async () => {
    // B and C share A's database and vault keyring: same users and sessions, different signing keys.
    const vault = { VAULT_MASTER_KEYS: `t1:${randomBytes(32).toString('base64')}`, VAULT_ACTIVE_MASTER_KEY: 't1' };
    a = await startServer({ ...vault, JWT_PRIVATE_KEY: k1 }, dbName);
    user = await signUp(a, 'Rotation Co');
    b = await startServer({ ...vault, JWT_PRIVATE_KEY: k2, JWT_PREVIOUS_PUBLIC_KEYS: k1PublicPem }, dbName);
    c = await startServer({ ...vault, JWT_PRIVATE_KEY: k2 }, dbName);
  });
  afterAll(async () => {
    await c?.close();
    await b?.close();
    await a?.close();
  });

  it('accepts a token signed with a previous key listed in JWT_PREVIOUS_PUBLIC_KEYS', async () => {
    const res = await b.gql<{ me: { user: { id: string } } }>(ME_QUERY, {}, user.accessToken);
    expect(expectOk(res).me.user.id).toBe(user.userId);
  });

  it('publishes both the active and the previous key in the JWKS, and signs new tokens with the active one', async () => {
    const jwks = (await request(`${b.url}/.well-known/jwks.json`)).json as { keys: JWK[] };
    const kidK1 = await calculateJwkThumbprint(await exportJWK(createPublicKey(k1)));
    const kidK2 = await calculateJwkThumbprint(await exportJWK(createPublicKey(k2)));
    expect(jwks.keys.map((k) => k.kid).sort()).toEqual([kidK1, kidK2].sort());
    const fresh = await b.gql<{ login: { accessToken: string } }>(
      'mutation($input: LoginInput!) { login(input: $input) { accessToken } }',
      { input: { email: user.email, password: user.password } },
    );
    expect(decodeProtectedHeader(expectOk(fresh).login.accessToken).kid).toBe(kidK2);
    expect(decodeProtectedHeader(user.accessToken).kid).toBe(kidK1);
  });

  it('refuses the old key once it is no longer listed', async () => {
    expectRefused(await c.gql(ME_QUERY, {}, user.accessToken));
    // Same user and session data on C: only the key makes the difference.
    const fresh = await c.gql<{ login: { accessToken: string } }>(
      'mutation($input: LoginInput!) { login(input: $input) { accessToken } }',
      { input: { email: user.email, password: user.password } },
    );
    const token = expectOk(fresh).login.accessToken;
    expect(expectOk(await c.gql<{ me: { user: { id: string } } }>(ME_QUERY, {}, token)).me.user.id).toBe(user.userId);
    const jwks = (await request(`${c.url}/.well-known/jwks.json`)).json as { keys: JWK[] };
    expect(jwks.keys).toHaveLength(1);
  });

  it('the public key of a previous key does not let anyone sign: an HS256 token keyed with it is refused', async () => {
    const t = now();
    const forged = await new SignJWT({ ...decodeJwt(user.accessToken), jti: randomUUID(), iat: t, nbf: t, exp: t + 900 })
      .setProtectedHeader({ alg: 'HS256', kid: decodeProtectedHeader(user.accessToken).kid!, typ: 'at+jwt' })
      .sign(new TextEncoder().encode(k1PublicPem));
    expectRefused(await b.gql(ME_QUERY, {}, forged));
  });
});
