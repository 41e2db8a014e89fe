import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, type Signed } from '../support/auth.js';
import { startServer, testEnv, type TestServer } from '../support/server.js';
import { codeAt, enrol, TestClock } from '../auth/totp-support.js';
import { coffer, killCoffers, removeTempDirs, tempDir } from './support.js';

/**
 * `coffer login` for an account with a second factor: the code is asked after the password (the
 * next line of piped standard input, or a prompt without echo on a terminal) and completeLogin
 * issues the session. Before, the CLI stored a session without tokens and said "logged in".
 */
const clock = new TestClock();
let server: TestServer;
let user: Signed;
let secret: string;
let recoveryCodes: string[];

beforeAll(async () => {
  server = await startServer(testEnv({ LOGIN_BACKOFF_MAX_SECONDS: '0' }), undefined, { twoFactor: { now: clock.now } });
  user = await signUp(server, 'CLI Two Factor');
  ({ secret, recoveryCodes } = await enrol(server, clock, user));
});
afterAll(async () => {
  killCoffers();
  removeTempDirs();
  await server?.close();
});

const login = (home: string, stdin: string) => coffer(['login', '--url', server.url, '--email', user.email], { env: { XDG_CONFIG_HOME: home }, stdin });
const sessionFile = (home: string) => path.join(home, 'coffer', 'session.json');

describe('coffer login with a second factor', () => {
  it('asks for the code after the password and stores a working session', async () => {
    const home = tempDir('xdg-2fa');
    const result = await login(home, `${user.password}\n${codeAt(secret, clock.ms)}\n`);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`as ${user.email}`);
    const stored = JSON.parse(readFileSync(sessionFile(home), 'utf8')) as { accessToken?: string; refreshToken?: string };
    expect(stored.accessToken).toBeTruthy();
    expect(stored.refreshToken).toBeTruthy();
    const listed = await coffer(['secrets', 'list'], { env: { XDG_CONFIG_HOME: home } });
    expect(listed.code, listed.stderr).toBe(0);
    clock.nextStep();
  });

  it('a recovery code works in place of a TOTP code', async () => {
    const home = tempDir('xdg-2fa-recovery');
    const result = await login(home, `${user.password}\n${recoveryCodes[0]}\n`);
    expect(result.code, result.stderr).toBe(0);
    expect(existsSync(sessionFile(home))).toBe(true);
  });

  it('a wrong or missing code stores nothing and exits non-zero with the reason, never the code', async () => {
    const wrongHome = tempDir('xdg-2fa-wrong');
    const wrong = codeAt(secret, clock.ms) === '000000' ? '111111' : '000000';
    const refused = await login(wrongHome, `${user.password}\n${wrong}\n`);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/UNAUTHENTICATED|Invalid second-factor code/);
    expect(`${refused.stdout}${refused.stderr}`).not.toContain(wrong);
    expect(existsSync(sessionFile(wrongHome))).toBe(false);

    const missingHome = tempDir('xdg-2fa-missing');
    const missing = await login(missingHome, `${user.password}\n`);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no second-factor code .*given on standard input/);
    expect(existsSync(sessionFile(missingHome))).toBe(false);
  });
});
