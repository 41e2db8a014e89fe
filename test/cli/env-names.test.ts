import { describe, expect, it } from 'vitest';
import { envName, envNames } from '../../src/cli/client/env-names.js';

/** The variable names coffer run and secrets export --format dotenv give secrets (README "CLI"). */
describe('secret name → environment variable name', () => {
  it('strips the prefix, upper-cases, maps everything outside [A-Z0-9_] to _, and guards a leading digit', () => {
    expect(envName('app/prod/db-url', 'app/prod/')).toBe('DB_URL');
    expect(envName('app/prod/stripe/secret.key', 'app/prod/')).toBe('STRIPE_SECRET_KEY');
    expect(envName('app/prod/2fa-seed', 'app/prod/')).toBe('_2FA_SEED');
    expect(envName('app/prod/Already_OK', 'app/prod/')).toBe('ALREADY_OK');
    expect(envName('app/prod/db', 'app/pr')).toBe('OD_DB');
    expect(envName('other/x', 'app/')).toBe('OTHER_X');
  });

  it('refuses two secrets on one variable, naming both (every clash at once)', () => {
    expect(() => envNames(['p/db-url', 'p/db_url', 'p/DB.URL', 'p/a', 'p/A'], 'p/')).toThrow(
      'secrets p/db-url and p/db_url both map to DB_URL; secrets p/db-url and p/DB.URL both map to DB_URL; secrets p/a and p/A both map to A: rename one, or narrow --prefix',
    );
    expect([...envNames(['p/db-url', 'p/api.token'], 'p/')]).toEqual([
      ['DB_URL', 'p/db-url'],
      ['API_TOKEN', 'p/api.token'],
    ]);
  });
});
