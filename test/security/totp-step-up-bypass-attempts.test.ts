import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, expectCode, expectOk, signUp, STRONG_PASSWORD, type Signed } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { challengeFor, codeAt, COMPLETE, enrol, loginAs, TestClock, wrongCodes } from '../auth/totp-support.js';

/**
 * Attacks (i12, outsider review) on the step-up and the challenge cap by other routes: GraphQL
 * aliases in one document, HTTP batches, GET, API keys, one recovery code spent concurrently by
 * three operations, and look-alike (full-width) digits. Each is refused; these tests keep it so.
 */
const clock = new TestClock();
let server: TestServer;
beforeAll(async () => {
  server = await startServer({ TRUST_PROXY: 'loopback', LOGIN_BACKOFF_MAX_SECONDS: '0', LOGIN_MAX_FAILURES: '20' }, undefined, { twoFactor: { now: clock.now } });
});
afterAll(() => server?.close());

let addressCount = 0;
const fromNewAddress = () => ({ 'x-forwarded-for': `198.18.0.${++addressCount}` });
const CHANGE = 'mutation($input: ChangePasswordInput!) { changePassword(input: $input) }';
const NEW_PASSWORD = 'amber-Tundra-compass-71';
const audits = (action: string, userId: string) => server.db.collection('audit_events').find({ action, 'resource.id': userId }).toArray();
const passwordIs = async (user: Signed, password: string) => !(await loginAs(server, { email: user.email, password }, fromNewAddress())).errors;


async function raw(body: unknown, token: string, headers: Record<string, string> = {}, method = 'POST'): Promise<{ status: number; text: string }> {
  const init: RequestInit = { method, headers: { 'content-type': 'application/json', 'apollo-require-preflight': 'true', authorization: `Bearer ${token}`, ...headers } };
  if (method === 'POST') init.body = JSON.stringify(body);
  const res = await fetch(`${server.url}/graphql${method === 'GET' ? `?query=${encodeURIComponent(String(body))}` : ''}`, init);
  return { status: res.status, text: await res.text() };
}

describe('step-up and challenge cap by other routes', () => {
  it('seven aliased completeLogin fields in one document judge at most 5 codes and open no session', async () => {
    const user = await signUp(server);
    const { secret } = await enrol(server, clock, user);
    const headers = fromNewAddress();
    const challenge = await challengeFor(server, user, headers);
    const codes = [...wrongCodes(clock, secret, 6), codeAt(secret, clock.ms)];
    const fields = codes.map((code, i) => `a${i}: completeLogin(input: { challenge: "${challenge}", code: "${code}" }) { accessToken }`).join('\n');
    const res = await server.gql<Record<string, { accessToken: string | null } | null>>(`mutation { ${fields} }`, {}, undefined, headers);
    expect(Object.values(res.data ?? {}).filter((v) => v?.accessToken)).toHaveLength(0);
    // A wrong code fails a non-null root field, so graphql-js stops the serial mutation there: one judged.
    expect((await audits('auth.second_factor.failed', user.userId)).length).toBeLessThanOrEqual(5);
    clock.nextStep();
  });

  it('an HTTP batch or a GET cannot run changePassword; the password stays', async () => {
    const user = await signUp(server);
    const { secret } = await enrol(server, clock, user);
    const op = { query: CHANGE, variables: { input: { currentPassword: user.password, newPassword: NEW_PASSWORD, totpCode: codeAt(secret, clock.ms) } } };
    const batch = await raw([op, op], user.accessToken);
    expect(batch.status).toBeGreaterThanOrEqual(400);
    const get = await raw(`mutation { changePassword(input: { currentPassword: "${user.password}", newPassword: "${NEW_PASSWORD}" }) }`, user.accessToken, {}, 'GET');
    expect(get.status).toBeGreaterThanOrEqual(400);
    expect(await passwordIs(user, STRONG_PASSWORD)).toBe(true);
    // Neither spent the code: it still works once.
    expectOk(await server.gql(CHANGE, op.variables, user.accessToken));
    clock.nextStep();
  });

  it('API keys of every scope cannot change the password, delete the account or disable the second factor', async () => {
    const owner = await signUp(server);
    await enrol(server, clock, owner);
    const key = expectOk(
      await server.gql<{ createApiKey: { apiKey: string } }>(
        'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey } }',
        { i: { name: 'all', role: 'OWNER', prefixes: ['*'] } },
        owner.accessToken,
      ),
    ).createApiKey.apiKey;
    expectCode(await server.gql(CHANGE, { input: { currentPassword: owner.password, newPassword: NEW_PASSWORD, totpCode: '000000' } }, key), 'FORBIDDEN');
    expectCode(await server.gql('mutation { deleteMyAccount(password: "x", totpCode: "000000") }', {}, key), 'FORBIDDEN');
    expectCode(await server.gql('mutation { disableTotp(password: "x", code: "000000") }', {}, key), 'FORBIDDEN');
    expect(await audits('auth.second_factor.failed', owner.userId)).toHaveLength(0);
  });

  it('one recovery code raced through changePassword, deleteMyAccount and completeLogin is accepted by exactly one', async () => {
    const owner = await signUp(server);
    const member = await addMember(server, owner, 'USER');
    const { recoveryCodes } = await enrol(server, clock, member);
    const headers = fromNewAddress();
    const challenge = await challengeFor(server, member, headers);
    const code = recoveryCodes[3]!;
    const results = await Promise.all([
      server.gql(CHANGE, { input: { currentPassword: member.password, newPassword: NEW_PASSWORD, totpCode: code } }, member.accessToken, headers),
      server.gql('mutation($p: String!, $c: String) { deleteMyAccount(password: $p, totpCode: $c) }', { p: member.password, c: code }, member.accessToken, headers),
      server.gql(COMPLETE, { input: { challenge, code } }, undefined, headers),
    ]);
    expect(results.filter((r) => !r.errors)).toHaveLength(1);
    expect(await audits('auth.recovery_code.used', member.userId)).toHaveLength(1);
  });

  it('full-width digits of the right code are refused and do not spend it', async () => {
    const user = await signUp(server);
    const { secret } = await enrol(server, clock, user);
    const code = codeAt(secret, clock.ms);
    const fullWidth = [...code].map((d) => String.fromCharCode(0xff10 + Number(d))).join('');
    expectCode(await server.gql(CHANGE, { input: { currentPassword: user.password, newPassword: NEW_PASSWORD, totpCode: fullWidth } }, user.accessToken), 'UNAUTHENTICATED');
    expect(await passwordIs(user, STRONG_PASSWORD)).toBe(true);
    expectOk(await server.gql(CHANGE, { input: { currentPassword: user.password, newPassword: NEW_PASSWORD, totpCode: code } }, user.accessToken));
    clock.nextStep();
  });
});
