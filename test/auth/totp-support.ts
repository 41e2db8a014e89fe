import { Secret, TOTP } from 'otpauth';
import { expect } from 'vitest';
import { AUTH_FIELDS, expectOk, type Signed } from '../support/auth.js';
import type { GraphQLResponse, TestServer } from '../support/server.js';

/** A clock the server's second factor reads; tests move it a time step on between codes. */
export class TestClock {
  constructor(public ms = Date.now()) {}
  now = () => new Date(this.ms);
  /** Moves to the next 30-second step. */
  nextStep(): void {
    this.ms += 30_000;
  }
}

/** A real RFC 6238 generator, independent of the server's copy of the secret. */
export function codeAt(secret: string, ms: number): string {
  return new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate({ timestamp: ms });
}

/** `n` six-digit codes that are none of the codes the window (previous, current, next step) accepts at `clock`. */
export function wrongCodes(clock: TestClock, secret: string, n: number): string[] {
  const accepted = new Set([-1, 0, 1].map((d) => codeAt(secret, clock.ms + d * 30_000)));
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    const candidate = String(100_000 + i * 7_919).padStart(6, '0');
    if (!accepted.has(candidate)) out.push(candidate);
  }
  return out;
}

export const ENROLL = 'mutation { enrollTotp { secret uri qrCodeDataUrl } }';
export const CONFIRM = 'mutation($code: String!, $password: String!) { confirmTotp(code: $code, password: $password) { recoveryCodes } }';
export const DISABLE = 'mutation($password: String!, $code: String!) { disableTotp(password: $password, code: $code) }';
export const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { ${AUTH_FIELDS} twoFactorChallenge { token expiresAt } } }`;
export const COMPLETE = `mutation($input: CompleteLoginInput!) { completeLogin(input: $input) { ${AUTH_FIELDS} twoFactorChallenge { token } } }`;

export interface LoginShape {
  accessToken: string | null;
  refreshToken: string | null;
  role: string | null;
  twoFactorChallenge: { token: string; expiresAt: string } | null;
}

/** Enrols and confirms a second factor for `user`; returns the secret and the recovery codes. */
export async function enrol(server: TestServer, clock: TestClock, user: Signed): Promise<{ secret: string; recoveryCodes: string[] }> {
  const { enrollTotp } = expectOk(await server.gql<{ enrollTotp: { secret: string } }>(ENROLL, {}, user.accessToken));
  const { confirmTotp } = expectOk(
    await server.gql<{ confirmTotp: { recoveryCodes: string[] } }>(CONFIRM, { code: codeAt(enrollTotp.secret, clock.ms), password: user.password }, user.accessToken),
  );
  clock.nextStep();
  return { secret: enrollTotp.secret, recoveryCodes: confirmTotp.recoveryCodes };
}

export function loginAs(server: TestServer, user: Pick<Signed, 'email' | 'password'>, headers: Record<string, string> = {}) {
  return server.gql<{ login: LoginShape }>(LOGIN, { input: { email: user.email, password: user.password } }, undefined, headers);
}

export function complete(server: TestServer, challenge: string, code: string, headers: Record<string, string> = {}): Promise<GraphQLResponse<{ completeLogin: LoginShape }>> {
  return server.gql<{ completeLogin: LoginShape }>(COMPLETE, { input: { challenge, code } }, undefined, headers);
}

/** Logs in with the password and returns the challenge token (asserting no tokens came with it). */
export async function challengeFor(server: TestServer, user: Pick<Signed, 'email' | 'password'>, headers: Record<string, string> = {}): Promise<string> {
  const { login } = expectOk(await loginAs(server, user, headers));
  expect(login.accessToken).toBeNull();
  expect(login.refreshToken).toBeNull();
  expect(login.twoFactorChallenge?.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  return login.twoFactorChallenge!.token;
}
