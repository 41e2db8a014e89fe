import { createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import {
  calculateJwkThumbprint,
  exportJWK,
  jwtVerify,
  SignJWT,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
} from 'jose';
import { isRole, type Role } from '../../identity/roles.js';

export interface AccessTokenSubject {
  userId: string;
  tenantId: string | null;
  role: Role | null;
  sessionId: string;
  platformAdmin: boolean;
  /**
   * The session's tenant-switch counter when the token was issued (claim `sw`).
   * A token is only honoured while it equals the session's current counter, so a
   * token for tenant A does not come back to life after switching A → B → A.
   */
  switchCount: number;
  /** How the session's user authenticated (claim `amr`, RFC 8176 names: ["pwd"] or ["pwd", "otp"]). Informational for clients: the server decides from the session. */
  amr?: readonly string[];
}

export interface AccessTokenClaims extends AccessTokenSubject {
  tokenId: string;
  expiresAt: Date;
}

export interface TokenSettings {
  privateKey: KeyObject;
  previousPublicKeys: KeyObject[];
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
}

const ALGORITHM = 'EdDSA';

interface VerificationKey {
  kid: string;
  key: KeyObject;
  jwk: JWK;
}

async function describeKey(publicKey: KeyObject): Promise<VerificationKey> {
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, key: publicKey, jwk: { ...jwk, kid, alg: ALGORITHM, use: 'sig' } };
}

/**
 * Issues and verifies access tokens: EdDSA (Ed25519) JWTs with a `kid`.
 * Verification pins the algorithm, issuer, audience and the key (by kid), so
 * `alg: none`, HS256 signed with the public key, and foreign keys are refused.
 */
export class TokenService {
  private constructor(
    private readonly settings: TokenSettings,
    private readonly active: VerificationKey,
    private readonly keys: Map<string, VerificationKey>,
  ) {}

  static async create(settings: TokenSettings): Promise<TokenService> {
    const active = await describeKey(createPublicKey(settings.privateKey));
    const keys = new Map<string, VerificationKey>([[active.kid, active]]);
    for (const previous of settings.previousPublicKeys) {
      const described = await describeKey(previous);
      keys.set(described.kid, described);
    }
    return new TokenService(settings, active, keys);
  }


  async sign(subject: AccessTokenSubject): Promise<{ token: string; expiresAt: Date }> {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + this.settings.accessTokenTtlSeconds;
    const claims: JWTPayload = { sid: subject.sessionId, sw: subject.switchCount };
    if (subject.tenantId) claims.tid = subject.tenantId;
    if (subject.role) claims.role = subject.role;
    if (subject.platformAdmin) claims.padm = true;
    if (subject.amr?.length) claims.amr = [...subject.amr];
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: ALGORITHM, kid: this.active.kid, typ: 'at+jwt' })
      .setSubject(subject.userId)
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(exp)
      .sign(this.settings.privateKey);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /** Throws on any defect; callers turn that into UNAUTHENTICATED. */
  async verify(token: string): Promise<AccessTokenClaims> {
    const { payload } = await jwtVerify(
      token,
      (header: JWTHeaderParameters) => {
        const known = header.kid ? this.keys.get(header.kid) : undefined;
        if (!known) throw new Error('unknown signing key');
        return known.key;
      },
      {
        algorithms: [ALGORITHM],
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        typ: 'at+jwt',
        requiredClaims: ['sub', 'sid', 'jti', 'iat', 'exp', 'nbf'],
        clockTolerance: 5,
      },
    );
    const { sub, sid, jti, tid, role, padm, sw, exp } = payload;
    if (typeof sub !== 'string' || typeof sid !== 'string' || typeof jti !== 'string') {
      throw new Error('malformed claims');
    }
    if (tid !== undefined && typeof tid !== 'string') throw new Error('malformed tid');
    if (role !== undefined && !isRole(role)) throw new Error('malformed role');
    // Tokens issued before the claim existed carry none: 0, like sessions stored before the counter existed.
    if (sw !== undefined && !(typeof sw === 'number' && Number.isSafeInteger(sw) && sw >= 0)) throw new Error('malformed sw');
    return {
      userId: sub,
      sessionId: sid,
      tokenId: jti,
      tenantId: tid ?? null,
      role: role ?? null,
      platformAdmin: padm === true,
      switchCount: sw ?? 0,
      expiresAt: new Date((exp ?? 0) * 1000),
    };
  }

  /** The active signing key and its kid, for other artefacts verified with the same JWKS (erasure receipts; their own `typ`). */
  signingKey(): { privateKey: KeyObject; kid: string } {
    return { privateKey: this.settings.privateKey, kid: this.active.kid };
  }

  /** The public keys for /.well-known/jwks.json. */
  jwks(): { keys: JWK[] } {
    return { keys: [...this.keys.values()].map((k) => k.jwk) };
  }
}
