import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, SignJWT, type JSONWebKeySet } from 'jose';
import { CHANNELS, type Channel } from './consent-vocab.js';
import type { ReceiptKey } from './consent-receipt.js';

/**
 * Signed tokens of the public pages: unsubscribe links (`typ: coffer-unsubscribe+jwt`) and
 * double opt-in confirmations (`typ: coffer-consent-confirmation+jwt`). EdDSA with the
 * published signing key, `typ` pinned on verification (so neither is an access token, an
 * erasure or consent receipt, or the other kind), bound to tenant, subject, channel and purpose,
 * and expiring. The token names the subject by id only.
 */

export const UNSUBSCRIBE_TYP = 'coffer-unsubscribe+jwt';
export const CONFIRMATION_TYP = 'coffer-consent-confirmation+jwt';
export const LINK_AUDIENCE = 'coffer-public-pages';

export const UNSUBSCRIBE_DAYS = { default: 90, min: 30, max: 365 } as const;
export const CONFIRMATION_DAYS = 7;

export interface LinkClaims {
  tenantId: string;
  subjectId: string;
  channel: Channel;
  purposeKey: string;
  /** Confirmation tokens: the notice version the subject was shown. */
  noticeVersion: number | null;
  tokenId: string;
  issuedAt: Date;
  expiresAt: Date;
}

export type LinkKind = 'unsubscribe' | 'confirmation';
const TYP: Record<LinkKind, string> = { unsubscribe: UNSUBSCRIBE_TYP, confirmation: CONFIRMATION_TYP };

export async function signLink(
  kind: LinkKind,
  claims: Omit<LinkClaims, 'tokenId' | 'issuedAt' | 'expiresAt'>,
  days: number,
  signer: { privateKey: ReceiptKey; kid: string },
  issuer: string,
): Promise<{ token: string; expiresAt: Date }> {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + Math.round(days * 86_400);
  const body: Record<string, unknown> = { tid: claims.tenantId, ch: claims.channel, pur: claims.purposeKey };
  if (claims.noticeVersion !== null) body.nv = claims.noticeVersion;
  const token = await new SignJWT(body)
    .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid, typ: TYP[kind] })
    .setSubject(claims.subjectId)
    .setIssuer(issuer)
    .setAudience(LINK_AUDIENCE)
    .setJti(randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(exp)
    .sign(signer.privateKey);
  return { token, expiresAt: new Date(exp * 1000) };
}

/** The claims of a valid token of `kind`; null for anything tampered, expired, malformed or of the other kind. */
export async function verifyLink(kind: LinkKind, token: string, jwks: JSONWebKeySet, issuer: string): Promise<LinkClaims | null> {
  if (typeof token !== 'string' || token.length > 4096) return null;
  try {
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
      algorithms: ['EdDSA'],
      typ: TYP[kind],
      issuer,
      audience: LINK_AUDIENCE,
      requiredClaims: ['sub', 'tid', 'ch', 'pur', 'jti', 'iat', 'exp'],
    });
    const { sub, tid, ch, pur, nv, jti, iat, exp } = payload;
    if (typeof sub !== 'string' || typeof tid !== 'string' || typeof pur !== 'string' || typeof jti !== 'string') return null;
    if (typeof ch !== 'string' || !(CHANNELS as readonly string[]).includes(ch)) return null;
    if (nv !== undefined && !(typeof nv === 'number' && Number.isSafeInteger(nv) && nv > 0)) return null;
    if (kind === 'confirmation' && nv === undefined) return null;
    return {
      tenantId: tid,
      subjectId: sub,
      channel: ch as Channel,
      purposeKey: pur,
      noticeVersion: (nv as number | undefined) ?? null,
      tokenId: jti,
      issuedAt: new Date((iat ?? 0) * 1000),
      expiresAt: new Date((exp ?? 0) * 1000),
    };
  } catch {
    return null;
  }
}
