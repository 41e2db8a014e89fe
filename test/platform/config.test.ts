import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Config } from '../../src/config.js';

/** Unit tests of loadConfig: no server, real filesystem in a temp directory. */

let cwd: string;
let warnings: string[];
const warn = (line: string) => void warnings.push(line);

beforeEach(() => {
  cwd = mkdtempSync(path.join(tmpdir(), 'coffer-config-test-'));
  warnings = [];
});
afterEach(() => {
  rmSync(cwd, { recursive: true, force: true });
});

const ed25519Pem = () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const key32 = () => randomBytes(32).toString('base64');

/** A complete, valid non-production environment (no development keys needed). */
function validEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    NODE_ENV: 'test',
    VAULT_MASTER_KEYS: `k1:${key32()}`,
    VAULT_ACTIVE_MASTER_KEY: 'k1',
    JWT_PRIVATE_KEY: ed25519Pem(),
    ...overrides,
  };
}

function load(env: Record<string, string | undefined>): Config {
  return loadConfig(env, { cwd, warn });
}

/** Runs loadConfig expecting a ConfigError and returns its problem lines. */
function problemsOf(env: Record<string, string | undefined>): string[] {
  let caught: unknown;
  try {
    load(env);
  } catch (error) {
    caught = error;
  }
  expect(caught, 'loadConfig should have thrown').toBeInstanceOf(ConfigError);
  return (caught as ConfigError).problems;
}

const publicPem = (config: Config) =>
  createPublicKey(config.jwt.privateKey).export({ type: 'spki', format: 'pem' }).toString();

describe('production', () => {
  it('with nothing set, one ConfigError names MONGODB_URI, VAULT_MASTER_KEYS, VAULT_ACTIVE_MASTER_KEY and JWT_PRIVATE_KEY', () => {
    let caught: unknown;
    try {
      load({ NODE_ENV: 'production' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.name).toBe('ConfigError');
    for (const name of ['MONGODB_URI', 'VAULT_MASTER_KEYS', 'VAULT_ACTIVE_MASTER_KEY', 'JWT_PRIVATE_KEY']) {
      expect(error.problems.some((p) => p.startsWith(`${name}:`)), `${name} in ${JSON.stringify(error.problems)}`).toBe(true);
      expect(error.message).toContain(name);
    }
  });

  it('never generates development keys', () => {
    expect(() => load({ NODE_ENV: 'production', DATA_DIR: 'data' })).toThrow(ConfigError);
    expect(existsSync(path.join(cwd, 'data', 'dev-keys.json'))).toBe(false);
    expect(warnings).toEqual([]);
  });

  it('treats empty strings as unset', () => {
    const problems = problemsOf({ NODE_ENV: 'production', MONGODB_URI: '', VAULT_MASTER_KEYS: '', VAULT_ACTIVE_MASTER_KEY: '', JWT_PRIVATE_KEY: '' });
    expect(problems).toHaveLength(4);
  });

  it('with everything set, loads with the sandbox off by default', () => {
    const config = load(validEnv({ NODE_ENV: 'production', MONGODB_URI: 'mongodb://db.internal:27017/coffer' }));
    expect(config.nodeEnv).toBe('production');
    expect(config.sandboxEnabled).toBe(false);
    expect(config.mongodbUri).toBe('mongodb://db.internal:27017/coffer');
    expect(load(validEnv({ NODE_ENV: 'production', MONGODB_URI: 'mongodb://db', SANDBOX_ENABLED: 'true' })).sandboxEnabled).toBe(true);
    expect(existsSync(path.join(cwd, '.data', 'dev-keys.json'))).toBe(false);
  });
});

describe('development keys outside production', () => {
  it('are generated once into <DATA_DIR>/dev-keys.json with mode 0600 and a warning, then reused', () => {
    const first = load({ NODE_ENV: 'development', DATA_DIR: 'state' });
    const file = path.join(cwd, 'state', 'dev-keys.json');
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(cwd, 'state')).mode & 0o077).toBe(0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('generated development keys');
    expect(warnings[0]).toContain(file);
    expect(first.dataDir).toBe(path.join(cwd, 'state'));

    const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    expect(Object.keys(stored).sort()).toEqual(['jwtPrivateKey', 'vaultActiveMasterKey', 'vaultMasterKeys']);
    expect(first.vault.masterKeys).toHaveLength(1);
    expect(first.vault.masterKeys[0]!.key).toHaveLength(32);
    expect(first.vault.activeMasterKeyId).toBe(first.vault.masterKeys[0]!.id);
    expect(first.jwt.privateKey.asymmetricKeyType).toBe('ed25519');

    const before = readFileSync(file, 'utf8');
    const second = load({ NODE_ENV: 'development', DATA_DIR: 'state' });
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(publicPem(second)).toBe(publicPem(first));
    expect(second.vault.masterKeys[0]!.key.equals(first.vault.masterKeys[0]!.key)).toBe(true);
    expect(second.vault.activeMasterKeyId).toBe(first.vault.activeMasterKeyId);
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toContain('using development keys');
  });

  it('different DATA_DIRs get different keys', () => {
    const a = load({ NODE_ENV: 'test', DATA_DIR: 'a' });
    const b = load({ NODE_ENV: 'test', DATA_DIR: 'b' });
    expect(publicPem(a)).not.toBe(publicPem(b));
    expect(a.vault.masterKeys[0]!.key.equals(b.vault.masterKeys[0]!.key)).toBe(false);
  });

  it('are not generated when both keys are configured', () => {
    load(validEnv({ DATA_DIR: 'state' }));
    expect(existsSync(path.join(cwd, 'state', 'dev-keys.json'))).toBe(false);
    expect(warnings).toEqual([]);
  });

  it('do not stand in for a missing VAULT_ACTIVE_MASTER_KEY when VAULT_MASTER_KEYS is set', () => {
    const problems = problemsOf({ NODE_ENV: 'development', VAULT_MASTER_KEYS: `k1:${key32()}`, JWT_PRIVATE_KEY: ed25519Pem() });
    expect(problems.some((p) => p.startsWith('VAULT_ACTIVE_MASTER_KEY:'))).toBe(true);
  });
});

describe('invalid values', () => {
  const rsaPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

  const cases: { name: string; label: string; overrides: Record<string, string> }[] = [
    { name: 'PORT', label: 'abc', overrides: { PORT: 'abc' } },
    { name: 'PORT', label: '70000', overrides: { PORT: '70000' } },
    { name: 'VAULT_MASTER_KEYS', label: 'a 16-byte key', overrides: { VAULT_MASTER_KEYS: `k1:${randomBytes(16).toString('base64')}` } },
    { name: 'VAULT_MASTER_KEYS', label: 'a key without an id', overrides: { VAULT_MASTER_KEYS: key32() } },
    { name: 'VAULT_MASTER_KEYS', label: 'an id used twice', overrides: { VAULT_MASTER_KEYS: `k1:${key32()},k1:${key32()}` } },
    { name: 'VAULT_ACTIVE_MASTER_KEY', label: 'not in the ring', overrides: { VAULT_ACTIVE_MASTER_KEY: 'not-in-ring' } },
    { name: 'JWT_PRIVATE_KEY', label: 'an RSA key', overrides: { JWT_PRIVATE_KEY: rsaPem } },
    { name: 'JWT_PRIVATE_KEY', label: 'not PEM', overrides: { JWT_PRIVATE_KEY: 'not a pem' } },
    { name: 'JWT_PREVIOUS_PUBLIC_KEYS', label: 'not PEM', overrides: { JWT_PREVIOUS_PUBLIC_KEYS: 'garbage' } },
    { name: 'ARGON2_MEMORY_KIB', label: '19455', overrides: { ARGON2_MEMORY_KIB: '19455' } },
    { name: 'SESSION_REVOCATION_CHECK_SECONDS', label: '10', overrides: { SESSION_REVOCATION_CHECK_SECONDS: '10' } },
    { name: 'CORS_ORIGINS', label: 'not a url', overrides: { CORS_ORIGINS: 'not a url' } },
    { name: 'CORS_ORIGINS', label: 'a URL with a path', overrides: { CORS_ORIGINS: 'https://app.example.com/path' } },
    { name: 'MONGODB_URI', label: 'an http URL', overrides: { MONGODB_URI: 'http://db.example.com' } },
    { name: 'NODE_ENV', label: 'staging', overrides: { NODE_ENV: 'staging' } },
    { name: 'BODY_LIMIT', label: 'lots', overrides: { BODY_LIMIT: 'lots' } },
  ];

  it.each(cases)('names $name when it is $label', ({ name, overrides }) => {
    const problems = problemsOf(validEnv(overrides));
    expect(problems.some((p) => p.startsWith(`${name}:`)), JSON.stringify(problems)).toBe(true);
  });

  it('never echoes a secret value in a problem line', () => {
    const badKey = `k1:${randomBytes(16).toString('base64')}`;
    const problems = problemsOf(validEnv({ VAULT_MASTER_KEYS: badKey, VAULT_ACTIVE_MASTER_KEY: 'k1', JWT_PRIVATE_KEY: rsaPem }));
    const text = problems.join('\n');
    expect(text).not.toContain(badKey.slice(3));
    expect(text).not.toContain('PRIVATE KEY-----');
  });

  it('are all reported together in one ConfigError', () => {
    const problems = problemsOf(
      validEnv({
        PORT: 'abc',
        VAULT_MASTER_KEYS: `k1:${key32()},short:${randomBytes(16).toString('base64')}`,
        VAULT_ACTIVE_MASTER_KEY: 'not-in-ring',
        JWT_PRIVATE_KEY: rsaPem,
        ARGON2_MEMORY_KIB: '19455',
        SESSION_REVOCATION_CHECK_SECONDS: '10',
        CORS_ORIGINS: 'not a url',
      }),
    );
    const named = [
      'PORT',
      'VAULT_MASTER_KEYS',
      'VAULT_ACTIVE_MASTER_KEY',
      'JWT_PRIVATE_KEY',
      'ARGON2_MEMORY_KIB',
      'SESSION_REVOCATION_CHECK_SECONDS',
      'CORS_ORIGINS',
    ];
    const missing = named.filter((name) => !problems.some((p) => p.startsWith(`${name}:`)));
    expect(missing, `problems reported: ${JSON.stringify(problems)}`).toEqual([]);
  });

  it('in production, missing required variables and invalid values are reported together', () => {
    const problems = problemsOf({ NODE_ENV: 'production', PORT: 'abc', CORS_ORIGINS: 'not a url' });
    const named = ['MONGODB_URI', 'VAULT_MASTER_KEYS', 'VAULT_ACTIVE_MASTER_KEY', 'JWT_PRIVATE_KEY', 'PORT', 'CORS_ORIGINS'];
    const missing = named.filter((name) => !problems.some((p) => p.startsWith(`${name}:`)));
    expect(missing, `problems reported: ${JSON.stringify(problems)}`).toEqual([]);
  });
});

describe('PEM text', () => {
  it('accepts keys with literal \\n escapes, as one-line .env files hold them', () => {
    const pem = ed25519Pem();
    const previous = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const oneLine = (text: string) => text.trim().replace(/\n/g, '\\n');
    expect(oneLine(pem)).not.toContain('\n');
    const config = load(validEnv({ JWT_PRIVATE_KEY: oneLine(pem), JWT_PREVIOUS_PUBLIC_KEYS: oneLine(previous) }));
    expect(config.jwt.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()).toBe(pem);
    expect(config.jwt.previousPublicKeys).toHaveLength(1);
    expect(config.jwt.previousPublicKeys[0]!.export({ type: 'spki', format: 'pem' }).toString()).toBe(previous);
  });

  it('reads several previous public keys from one value', () => {
    const pems = [0, 1].map(() => generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const config = load(validEnv({ JWT_PREVIOUS_PUBLIC_KEYS: pems.join('') }));
    expect(config.jwt.previousPublicKeys).toHaveLength(2);
  });

  it('refuses a non-Ed25519 previous public key', () => {
    const rsaPublic = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const problems = problemsOf(validEnv({ JWT_PREVIOUS_PUBLIC_KEYS: rsaPublic }));
    expect(problems.some((p) => p.startsWith('JWT_PREVIOUS_PUBLIC_KEYS:'))).toBe(true);
  });
});

describe('defaults', () => {
  it('port 4000, 15-minute access tokens, lockout after 5 failures for 15 minutes, argon2id m=19456 t=2 p=1', () => {
    const config = load(validEnv());
    expect(config.port).toBe(4000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.jwt.accessTokenTtlSeconds).toBe(900);
    expect(config.jwt.issuer).toBe('coffer');
    expect(config.jwt.audience).toBe('coffer-api');
    expect(config.jwt.previousPublicKeys).toEqual([]);
    expect(config.lockout).toEqual({ maxFailures: 5, lockMinutes: 15 });
    expect(config.passwords).toEqual({ memoryCostKiB: 19456, timeCost: 2, parallelism: 1 });
    expect(config.sessions).toEqual({ refreshTokenTtlDays: 30, revocationCheckSeconds: 5 });
    expect(config.rateLimit).toEqual({ requestsPerMinute: 600, authAttemptsPerMinute: 30 });
    expect(config.bodyLimit).toBe('100kb');
    expect(config.corsOrigins).toEqual([]);
    expect(config.trustProxy).toBe(false);
    expect(config.mongodbUri).toBeUndefined();
    expect(config.mongodbDbName).toBe('coffer');
    expect(config.dataDir).toBe(path.join(cwd, '.data'));
    expect(config.sandboxEnabled).toBe(true);
    expect(config.invitationTtlHours).toBe(72);
  });

  it('NODE_ENV defaults to development', () => {
    const config = load(validEnv({ NODE_ENV: undefined }));
    expect(config.nodeEnv).toBe('development');
  });

  it('reads overrides: PORT=0, CORS origins list, booleans', () => {
    const config = load(validEnv({ PORT: '0', CORS_ORIGINS: 'https://app.example.com, http://localhost:3000', SANDBOX_ENABLED: '0' }));
    expect(config.port).toBe(0);
    expect(config.corsOrigins).toEqual(['https://app.example.com', 'http://localhost:3000']);
    expect(config.sandboxEnabled).toBe(false);
  });

  // .env.template documents TRUST_PROXY as "true/false, 1/0, yes/no". A number is a hop
  // count for Express, so 1 and 0 may come back as 1 and 0 rather than true and false.
  it.each([
    ['true', [true]],
    ['yes', [true]],
    ['1', [true, 1]],
    ['false', [false]],
    ['no', [false]],
    ['0', [false, 0]],
  ] as const)('TRUST_PROXY=%s is accepted as documented', (value, expected) => {
    const config = load(validEnv({ TRUST_PROXY: value }));
    expect(expected as readonly unknown[]).toContain(config.trustProxy);
  });

  it('TRUST_PROXY with a value that is neither documented form is refused, by name', () => {
    const problems = problemsOf(validEnv({ TRUST_PROXY: 'maybe' }));
    expect(problems.some((p) => p.startsWith('TRUST_PROXY:'))).toBe(true);
  });
});

describe('vault settings', () => {
  it('refuses a key-retire grace under 5 seconds in production, allows 0 outside it', () => {
    const prod = {
      NODE_ENV: 'production',
      MONGODB_URI: 'mongodb://db:27017/coffer',
      VAULT_MASTER_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
      VAULT_ACTIVE_MASTER_KEY: 'k1',
      JWT_PRIVATE_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    expect(() => loadConfig({ ...prod, KEY_RETIRE_GRACE_SECONDS: '0' }, { warn: () => {} })).toThrow(/KEY_RETIRE_GRACE_SECONDS: at least 5/);
    expect(loadConfig({ ...prod, KEY_RETIRE_GRACE_SECONDS: '5' }, { warn: () => {} }).keys.retireGraceSeconds).toBe(5);
    expect(loadConfig({ ...prod, NODE_ENV: 'test', KEY_RETIRE_GRACE_SECONDS: '0' }, { warn: () => {} }).keys.retireGraceSeconds).toBe(0);
  });

  it('REENCRYPTION_LEASE_SECONDS: 5 to 3600, default 60', () => {
    expect(load(validEnv()).keys.reencryptionLeaseSeconds).toBe(60);
    expect(load(validEnv({ REENCRYPTION_LEASE_SECONDS: '5' })).keys.reencryptionLeaseSeconds).toBe(5);
    expect(load(validEnv({ REENCRYPTION_LEASE_SECONDS: '3600' })).keys.reencryptionLeaseSeconds).toBe(3600);
    for (const bad of ['4', '3601']) expect(problemsOf(validEnv({ REENCRYPTION_LEASE_SECONDS: bad }))).toContain('REENCRYPTION_LEASE_SECONDS: must be a whole number from 5 to 3600');
  });
});

describe('UNSUBSCRIBE_BASE_URL', () => {
  const prod = (overrides: Record<string, string> = {}) =>
    validEnv({ NODE_ENV: 'production', MONGODB_URI: 'mongodb://db:27017/coffer', ...overrides });

  it('must be https in production: an http URL is refused at start, by name', () => {
    const problems = problemsOf(prod({ UNSUBSCRIBE_BASE_URL: 'http://mail.example.com' }));
    expect(problems).toEqual([expect.stringMatching(/^UNSUBSCRIBE_BASE_URL: must be an https URL in production/)]);
    expect(load(prod({ UNSUBSCRIBE_BASE_URL: 'https://mail.example.com/' })).unsubscribeBaseUrl).toBe('https://mail.example.com');
  });

  it('has no default in production (no links until it is set); outside production http is allowed and it defaults to http://localhost:4000', () => {
    expect(load(prod()).unsubscribeBaseUrl).toBeNull();
    expect(load(validEnv()).unsubscribeBaseUrl).toBe('http://localhost:4000');
    expect(load(validEnv({ UNSUBSCRIBE_BASE_URL: 'http://127.0.0.1:8080/pages/' })).unsubscribeBaseUrl).toBe('http://127.0.0.1:8080/pages');
    expect(problemsOf(validEnv({ UNSUBSCRIBE_BASE_URL: 'ftp://x.example' }))[0]).toMatch(/^UNSUBSCRIBE_BASE_URL:/);
  });
});

describe('numeric variables', () => {
  /** Every `NAME: int(min, max)` of envSchema, read from the source so a new one is covered too. */
  const NUMERIC = [...readFileSync(path.join(import.meta.dirname, '..', '..', 'src', 'config.ts'), 'utf8').matchAll(/^\s+([A-Z0-9_]+): int\((-?[\d_]+), (-?[\d_* ]+)\)/gm)].map(
    (m) => m[1]!,
  );

  it('are found in src/config.ts', () => {
    expect(NUMERIC).toEqual(expect.arrayContaining(['PORT', 'RATE_LIMIT_PER_MINUTE', 'ARGON2_MEMORY_KIB', 'KEY_RETIRE_GRACE_SECONDS']));
  });

  it.each(['abc', '12.5', '1e3x', '-', '0x10', '99999999999'])('each one given %j names itself and says what was expected, never "NaN"', (bad) => {
    for (const name of NUMERIC) {
      const problems = problemsOf(validEnv({ [name]: bad })).filter((p) => p.startsWith(`${name}:`));
      expect(problems, `${name}=${bad}`).toHaveLength(1);
      expect(problems[0], `${name}=${bad}`).toMatch(new RegExp(`^${name}: must be a whole number from -?\\d+ to \\d+$`));
      expect(problems[0]).not.toMatch(/NaN|received|Invalid input/);
    }
  });

  it('RATE_LIMIT_PER_MINUTE=abc gives the range, and a valid value with spaces around it still loads', () => {
    expect(problemsOf(validEnv({ RATE_LIMIT_PER_MINUTE: 'abc' }))).toContain('RATE_LIMIT_PER_MINUTE: must be a whole number from 1 to 1000000');
    expect(load(validEnv({ RATE_LIMIT_PER_MINUTE: ' 42 ' })).rateLimit.requestsPerMinute).toBe(42);
  });
});

describe('fault-injection settings', () => {
  it('refuses FAULT_ERASURE_STEP_DELAY_MS in production, allows it outside it, and defaults to 0', () => {
    const prod = {
      NODE_ENV: 'production',
      MONGODB_URI: 'mongodb://db:27017/coffer',
      VAULT_MASTER_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
      VAULT_ACTIVE_MASTER_KEY: 'k1',
      JWT_PRIVATE_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    expect(() => loadConfig({ ...prod, FAULT_ERASURE_STEP_DELAY_MS: '200' }, { warn: () => {} })).toThrow(/FAULT_ERASURE_STEP_DELAY_MS: .*not allowed in production/);
    expect(loadConfig(prod, { warn: () => {} }).faults.erasureStepDelayMs).toBe(0);
    expect(loadConfig({ ...prod, NODE_ENV: 'test', FAULT_ERASURE_STEP_DELAY_MS: '200' }, { warn: () => {} }).faults.erasureStepDelayMs).toBe(200);
  });
});
