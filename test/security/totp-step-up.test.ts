import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, expectCode, expectOk, signUp, STRONG_PASSWORD, type Signed } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';
import { challengeFor, codeAt, complete, enrol, loginAs, TestClock } from '../auth/totp-support.js';

/**
 * Attack (i12): a stolen password and a stolen access token of a user with a second factor are
 * used to change the password (taking the account over) or to delete the account. Both now need
 * a current TOTP code or an unused recovery code too; codes are accepted once across login and
 * these operations, wrong ones count toward the login lockout. Users without TOTP are unchanged.
 */
const clock = new TestClock();
let server: TestServer;
beforeAll(async () => {
  server = await startServer({ TRUST_PROXY: 'loopback', LOGIN_BACKOFF_MAX_SECONDS: '0' }, undefined, { twoFactor: { now: clock.now } });
});
afterAll(() => server?.close());

let addressCount = 0;
const fromNewAddress = () => ({ 'x-forwarded-for': `192.0.2.${++addressCount}` });

const CHANGE = 'mutation($input: ChangePasswordInput!) { changePassword(input: $input) }';
const DELETE = 'mutation($password: String!, $totpCode: String) { deleteMyAccount(password: $password, totpCode: $totpCode) }';
const NEW_PASSWORD = 'amber-Tundra-compass-71';

function wrongCode(secret: string): string {
  const accepted = new Set([-1, 0, 1].map((d) => codeAt(secret, clock.ms + d * 30_000)));
  return ['000000', '111111', '222222', '333333'].find((c) => !accepted.has(c))!;
}

const change = (user: Signed, input: Record<string, unknown>, headers: Record<string, string> = {}) =>
  server.gql<{ changePassword: boolean }>(CHANGE, { input: { currentPassword: user.password, newPassword: NEW_PASSWORD, ...input } }, user.accessToken, headers);
const remove = (user: Signed, totpCode: unknown, headers: Record<string, string> = {}) =>
  server.gql<{ deleteMyAccount: boolean }>(DELETE, { password: user.password, ...(totpCode === undefined ? {} : { totpCode }) }, user.accessToken, headers);
const audits = (action: string, userId: string) => server.db.collection('audit_events').find({ action, 'resource.id': userId }).toArray();
const userExists = async (userId: string) => (await server.db.collection('users').countDocuments({ _id: userId as never })) === 1;
/** Whether `password` is the account's password now (login answers with a challenge or tokens, not an error). */
const passwordIs = async (user: Signed, password: string) => !(await loginAs(server, { email: user.email, password }, fromNewAddress())).errors;

describe('changePassword with a second factor', () => {
  it('without totpCode is BAD_USER_INPUT on totpCode, nothing changed or counted', async () => {
    const user = await signUp(server);
    await enrol(server, clock, user);
    for (const totpCode of [undefined, null, '']) {
      const res = await change(user, totpCode === undefined ? {} : { totpCode });
      expectCode(res, 'BAD_USER_INPUT');
      expect(res.errors![0]!.extensions.field).toBe('totpCode');
      expect(res.errors![0]!.message).toMatch(/second factor/);
    }
    expect(await passwordIs(user, STRONG_PASSWORD)).toBe(true);
    expect(await audits('auth.second_factor.failed', user.userId)).toHaveLength(0);
    expect(await audits('auth.login.failed', user.userId)).toHaveLength(0);
  });

  it('a wrong code is UNAUTHENTICATED and audited; the right one changes the password; replaying it is refused', async () => {
    const user = await signUp(server);
    const { secret } = await enrol(server, clock, user);
    const headers = fromNewAddress();
    expectCode(await change(user, { totpCode: wrongCode(secret) }, headers), 'UNAUTHENTICATED');
    expect(await passwordIs(user, STRONG_PASSWORD)).toBe(true);
    const failed = await audits('auth.second_factor.failed', user.userId);
    expect(failed.map((e) => e.details)).toEqual([{ reason: 'wrong_code', purpose: 'change_password', failures: 1 }]);

    const code = codeAt(secret, clock.ms);
    expect(expectOk(await change(user, { totpCode: code }, headers)).changePassword).toBe(true);
    expect(await passwordIs(user, NEW_PASSWORD)).toBe(true);
    expect(await passwordIs(user, STRONG_PASSWORD)).toBe(false);
    // The same code again (changing back) is a replay.
    const back = await server.gql(CHANGE, { input: { currentPassword: NEW_PASSWORD, newPassword: STRONG_PASSWORD, totpCode: code } }, user.accessToken, headers);
    expectCode(back, 'UNAUTHENTICATED');
    expect(await passwordIs(user, NEW_PASSWORD)).toBe(true);
    clock.nextStep();
  });

  it('a code used to complete a login cannot be used again for changePassword, nor another user\'s code', async () => {
    const user = await signUp(server);
    const other = await signUp(server);
    const { secret } = await enrol(server, clock, user);
    const theirs = await enrol(server, clock, other);
    const headers = fromNewAddress();
    const code = codeAt(secret, clock.ms);
    const session = expectOk(await complete(server, await challengeFor(server, user, headers), code, headers)).completeLogin;
    const signedIn = { ...user, accessToken: session.accessToken! };
    expectCode(await change(signedIn, { totpCode: code }, headers), 'UNAUTHENTICATED');
    expectCode(await change(signedIn, { totpCode: codeAt(theirs.secret, clock.ms + 30_000) }, headers), 'UNAUTHENTICATED');
    expectCode(await change(signedIn, { totpCode: theirs.recoveryCodes[0] }, headers), 'UNAUTHENTICATED');
    expect(await passwordIs(user, STRONG_PASSWORD)).toBe(true);
    // The other user's recovery code was not spent.
    expectOk(await complete(server, await challengeFor(server, other, headers), theirs.recoveryCodes[0]!, headers));
    clock.nextStep();
  });

  it('an unused recovery code works once and is used up', async () => {
    const user = await signUp(server);
    const { recoveryCodes } = await enrol(server, clock, user);
    const headers = fromNewAddress();
    expectOk(await change(user, { totpCode: recoveryCodes[2] }, headers));
    const status = expectOk(await server.gql<{ twoFactorStatus: { recoveryCodesLeft: number } }>('{ twoFactorStatus { recoveryCodesLeft } }', {}, user.accessToken));
    expect(status.twoFactorStatus.recoveryCodesLeft).toBe(9);
    const used = await audits('auth.recovery_code.used', user.userId);
    expect(used.map((e) => e.details)).toEqual([{ remaining: 9, purpose: 'change_password' }]);
    const again = await server.gql(CHANGE, { input: { currentPassword: NEW_PASSWORD, newPassword: STRONG_PASSWORD, totpCode: recoveryCodes[2] } }, user.accessToken, headers);
    expectCode(again, 'UNAUTHENTICATED');
    expect(await passwordIs(user, NEW_PASSWORD)).toBe(true);
  });

  it('wrong codes count toward the login lockout like wrong passwords: the fifth locks the address (ACCOUNT_LOCKED), even with the right code', async () => {
    const user = await signUp(server);
    const { secret } = await enrol(server, clock, user);
    const attacker = fromNewAddress();
    // A wrong password there counts too (it is BAD_USER_INPUT on currentPassword, as before).
    expectCode(await server.gql(CHANGE, { input: { currentPassword: 'not-the-password-1', newPassword: NEW_PASSWORD, totpCode: codeAt(secret, clock.ms) } }, user.accessToken, attacker), 'BAD_USER_INPUT');
    for (let i = 0; i < 4; i++) expectCode(await change(user, { totpCode: wrongCode(secret) }, attacker), 'UNAUTHENTICATED');
    expectCode(await change(user, { totpCode: codeAt(secret, clock.ms) }, attacker), 'ACCOUNT_LOCKED');
    expectCode(await loginAs(server, user, attacker), 'ACCOUNT_LOCKED');
    expect(await passwordIs(user, STRONG_PASSWORD)).toBe(true);
    // From another address the right code works.
    expectOk(await change(user, { totpCode: codeAt(secret, clock.ms) }, fromNewAddress()));
    clock.nextStep();
  });

  it('refuses a totpCode of the wrong type or too long, with a code', async () => {
    const user = await signUp(server);
    await enrol(server, clock, user);
    const asNumber = await server.gql(CHANGE, { input: { currentPassword: user.password, newPassword: NEW_PASSWORD, totpCode: 123456 } }, user.accessToken);
    expectCode(asNumber, 'BAD_USER_INPUT');
    expect(asNumber.data ?? null).toBeNull();
    const inline = await server.gql(`mutation { changePassword(input: { currentPassword: "${user.password}", newPassword: "${NEW_PASSWORD}", totpCode: 123456 }) }`, {}, user.accessToken);
    expectCode(inline, 'BAD_USER_INPUT');
    const long = await change(user, { totpCode: '1'.repeat(65) });
    expectCode(long, 'BAD_USER_INPUT');
    expect(await passwordIs(user, STRONG_PASSWORD)).toBe(true);
  });

  it('no step-up code reaches the logs, the audit trail or an error message', async () => {
    const user = await signUp(server);
    const { secret, recoveryCodes } = await enrol(server, clock, user);
    const headers = fromNewAddress();
    const wrong = wrongCode(secret);
    const responses = [await change(user, { totpCode: wrong }, headers), await change(user, { totpCode: 'zzzz-zzzz-zzzz-zzzz' }, headers)];
    const right = codeAt(secret, clock.ms);
    responses.push(await change(user, { totpCode: right }, headers));
    responses.push(await server.gql(CHANGE, { input: { currentPassword: NEW_PASSWORD, newPassword: STRONG_PASSWORD, totpCode: recoveryCodes[4] } }, user.accessToken, headers));
    const auditText = JSON.stringify(await server.db.collection('audit_events').find({ 'resource.id': user.userId }).toArray());
    const logText = server.logs.join('');
    const errorText = JSON.stringify(responses.map((r) => r.errors ?? null));
    // Six-digit codes are looked for as JSON strings (bare digits could occur in any number).
    for (const needle of [JSON.stringify(wrong), JSON.stringify(right), 'zzzz-zzzz-zzzz-zzzz', recoveryCodes[4]!, recoveryCodes[4]!.replace(/-/g, '').toUpperCase()]) {
      expect(auditText.includes(needle), needle).toBe(false);
      expect(logText.includes(needle), needle).toBe(false);
      expect(errorText.includes(needle), needle).toBe(false);
    }
    clock.nextStep();
  });
});

describe('deleteMyAccount with a second factor', () => {
  it('missing code: BAD_USER_INPUT; wrong: UNAUTHENTICATED; the account stays; the right code deletes it', async () => {
    const owner = await signUp(server);
    const member = await addMember(server, owner, 'USER');
    const { secret } = await enrol(server, clock, member);
    const headers = fromNewAddress();
    const missing = await remove(member, undefined, headers);
    expectCode(missing, 'BAD_USER_INPUT');
    expect(missing.errors![0]!.extensions.field).toBe('totpCode');
    expectCode(await remove(member, wrongCode(secret), headers), 'UNAUTHENTICATED');
    expect(await userExists(member.userId)).toBe(true);
    expect((await audits('auth.second_factor.failed', member.userId)).map((e) => (e.details as { purpose: string }).purpose)).toEqual(['delete_account']);
    expect(expectOk(await remove(member, codeAt(secret, clock.ms), headers)).deleteMyAccount).toBe(true);
    expect(await userExists(member.userId)).toBe(false);
    expect(await server.db.collection('user_totp').countDocuments({ _id: member.userId as never })).toBe(0);
    clock.nextStep();
  });

  it('a wrong password is refused before the code is looked at; a sole OWNER\'s CONFLICT does not spend a recovery code', async () => {
    const owner = await signUp(server);
    const { recoveryCodes } = await enrol(server, clock, owner);
    const headers = fromNewAddress();
    expectCode(await server.gql(DELETE, { password: 'not-the-password-1', totpCode: recoveryCodes[0] }, owner.accessToken, headers), 'UNAUTHENTICATED');
    expectCode(await remove(owner, recoveryCodes[0], headers), 'CONFLICT');
    const status = expectOk(await server.gql<{ twoFactorStatus: { recoveryCodesLeft: number } }>('{ twoFactorStatus { recoveryCodesLeft } }', {}, owner.accessToken));
    expect(status.twoFactorStatus.recoveryCodesLeft).toBe(10);
    expect(await userExists(owner.userId)).toBe(true);
  });

  it('a recovery code deletes the account (used up with it)', async () => {
    const owner = await signUp(server);
    const member = await addMember(server, owner, 'USER');
    const { recoveryCodes } = await enrol(server, clock, member);
    expectOk(await remove(member, recoveryCodes[9], fromNewAddress()));
    expect(await userExists(member.userId)).toBe(false);
    expect((await audits('auth.recovery_code.used', member.userId)).map((e) => e.details)).toEqual([{ remaining: 9, purpose: 'delete_account' }]);
  });

  it('refuses a totpCode of the wrong type or too long, and keeps the account', async () => {
    const owner = await signUp(server);
    const member = await addMember(server, owner, 'USER');
    await enrol(server, clock, member);
    const asNumber = await remove(member, 123456);
    expectCode(asNumber, 'BAD_USER_INPUT');
    expectCode(await remove(member, 'x'.repeat(65)), 'BAD_USER_INPUT');
    expect(await userExists(member.userId)).toBe(true);
  });
});

describe('users without a second factor are unchanged', () => {
  it('changePassword works without totpCode, and ignores one sent anyway', async () => {
    const user = await signUp(server);
    expectOk(await change(user, {}));
    expect(await passwordIs(user, NEW_PASSWORD)).toBe(true);
    expectOk(await server.gql(CHANGE, { input: { currentPassword: NEW_PASSWORD, newPassword: STRONG_PASSWORD, totpCode: '123456' } }, user.accessToken));
    expect(await passwordIs(user, STRONG_PASSWORD)).toBe(true);
  });

  it('deleteMyAccount works with the password alone', async () => {
    const owner = await signUp(server);
    const member = await addMember(server, owner, 'USER');
    expectOk(await remove(member, undefined));
    expect(await userExists(member.userId)).toBe(false);
  });

  it('a pending (unconfirmed) enrolment does not require a code', async () => {
    const user = await signUp(server);
    expectOk(await server.gql('mutation { enrollTotp { secret } }', {}, user.accessToken));
    expectOk(await change(user, {}));
    expect(await passwordIs(user, NEW_PASSWORD)).toBe(true);
  });
});
