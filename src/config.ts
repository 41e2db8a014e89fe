import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotEnv } from 'dotenv';
import { z } from 'zod';

/**
 * The only reader of process.env. Everything the server needs arrives here,
 * is validated in one pass, and leaves as one typed Config.
 */

export interface MasterKey {
  id: string;
  key: Buffer;
}

/** `open`: anyone may signUp (and so learn whether an email is taken); `invite-only`: accounts come only from invitations. */
export type SignUpMode = 'open' | 'invite-only';

export interface Config {
  nodeEnv: 'development' | 'test' | 'production';
  host: string;
  port: number;
  mongodbUri: string | undefined;
  mongodbDbName: string;
  dataDir: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Express "trust proxy": false, true, a hop count, or addresses/subnets. */
  trustProxy: boolean | number | string[];
  corsOrigins: string[];
  bodyLimit: string;
  sandboxEnabled: boolean;
  vault: { masterKeys: MasterKey[]; activeMasterKeyId: string };
  jwt: {
    privateKey: KeyObject;
    previousPublicKeys: KeyObject[];
    issuer: string;
    audience: string;
    accessTokenTtlSeconds: number;
  };
  sessions: { refreshTokenTtlDays: number; revocationCheckSeconds: number };
  passwords: { memoryCostKiB: number; timeCost: number; parallelism: number };
  lockout: { maxFailures: number; lockMinutes: number };
  /** Cap of the account-wide delay after repeated failed logins against one email; 0 = off. */
  loginBackoffMaxMs: number;
  signUpMode: SignUpMode;
  invitationTtlHours: number;
  rateLimit: { requestsPerMinute: number; authAttemptsPerMinute: number };
  secrets: { recoveryDays: number; purgeIntervalSeconds: number };
  keys: { reencryptionBatchSize: number; reencryptionLeaseSeconds: number; retireGraceSeconds: number };
  retention: { sweepIntervalMinutes: number };
  /** Where the public unsubscribe and confirmation pages are served (no trailing slash). */
  /** Base URL of the public consent pages (no trailing slash); null in production when UNSUBSCRIBE_BASE_URL is unset. */
  unsubscribeBaseUrl: string | null;
  /**
   * Fault-injection knobs for the fault suite (test/faults/), refused in production: a pause
   * after each recorded erasure step, so a test can kill the process between steps (0: none).
   */
  faults: { erasureStepDelayMs: number };
  /** Serve the self-hosted GraphiQL admin console at /console (static files, no external requests). */
  consoleEnabled: boolean;
  /** Where /metrics is served (README "Monitoring"). */
  metrics: MetricsConfig;
  /** Webhooks (README "Webhooks"). */
  webhooks: {
    allowHttp: boolean;
    allowPrivateNetworks: boolean;
    deliveryIntervalMs: number;
    scanIntervalSeconds: number;
    timeoutMs: number;
    maxAttempts: number;
    backoffBaseMs: number;
    backoffMaxMs: number;
    secretGraceHours: number;
    expiryWarningDays: number;
    /** WEBHOOK_RETENTION_DAYS: finished deliveries and outbox events older than this are pruned (README "Webhooks"). */
    retentionDays: number;
  };
}

/**
 * `/metrics`: on its own listener (METRICS_PORT on METRICS_HOST) and/or on the main port behind
 * `Authorization: Bearer <METRICS_TOKEN>`; open on the main port only outside production when
 * neither is set. Production never serves it open on the public port.
 */
export interface MetricsConfig {
  port: number | null;
  host: string;
  token: string | null;
  openOnMainPort: boolean;
}

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const bool = z
  .string()
  .transform((v) => v.trim().toLowerCase())
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']))
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** false/no | true/yes | hop count | comma-separated addresses or CIDR subnets. */
const trustProxy = z
  .string()
  .trim()
  .refine((v) => /^(true|false|yes|no|\d{1,2}|[0-9a-fA-F.:/]+(\s*,\s*[0-9a-fA-F.:/]+)*|loopback|linklocal|uniquelocal)$/i.test(v), {
    message: 'true, false, a hop count, or comma-separated addresses/subnets (or loopback, linklocal, uniquelocal)',
  })
  .transform((v): boolean | number | string[] => {
    const lower = v.toLowerCase();
    if (['true', 'false', 'yes', 'no'].includes(lower)) return lower === 'true' || lower === 'yes';
    if (/^\d+$/.test(v)) return Number(v);
    return v.split(',').map((part) => part.trim());
  });

/**
 * A whole number in decimal digits within [min, max]. Every failure (not a number, a
 * fraction, hex, out of range) reads the same: `<NAME>: must be a whole number from min to max`.
 */
const int = (min: number, max: number) => {
  const expected = `must be a whole number from ${min} to ${max}`;
  return z
    .string({ error: expected })
    .trim()
    .regex(/^-?\d{1,16}$/, { error: expected })
    .transform(Number)
    .pipe(z.number().int().min(min, { error: expected }).max(max, { error: expected }));
};

/** UNSUBSCRIBE_BASE_URL when unset outside production: the server's own pages. */
export const DEV_UNSUBSCRIBE_BASE_URL = 'http://localhost:4000';

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int(0, 65535).default(4000),
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://')
    .optional(),
  MONGODB_DB_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,63}$/, 'letters, digits, _ and - only (max 63)')
    .default('coffer'),
  DATA_DIR: z.string().min(1).default('.data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TRUST_PROXY: trustProxy.default(false),
  CORS_ORIGINS: z.string().default(''),
  BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i, 'a size such as 100kb or 1mb')
    .default('100kb'),
  SANDBOX_ENABLED: bool.optional(),
  VAULT_MASTER_KEYS: z.string().optional(),
  VAULT_ACTIVE_MASTER_KEY: z.string().optional(),
  JWT_PRIVATE_KEY: z.string().optional(),
  JWT_PREVIOUS_PUBLIC_KEYS: z.string().default(''),
  JWT_ISSUER: z.string().min(1).default('coffer'),
  JWT_AUDIENCE: z.string().min(1).default('coffer-api'),
  ACCESS_TOKEN_TTL_SECONDS: int(60, 3600).default(900),
  REFRESH_TOKEN_TTL_DAYS: int(1, 365).default(30),
  SESSION_REVOCATION_CHECK_SECONDS: int(0, 5).default(5),
  ARGON2_MEMORY_KIB: int(19456, 4_194_304).default(19456),
  ARGON2_TIME_COST: int(2, 20).default(2),
  ARGON2_PARALLELISM: int(1, 16).default(1),
  LOGIN_MAX_FAILURES: int(1, 100).default(5),
  LOGIN_LOCKOUT_MINUTES: int(1, 24 * 60).default(15),
  LOGIN_BACKOFF_MAX_SECONDS: int(0, 30).default(4),
  SIGNUP_MODE: z.enum(['open', 'invite-only']).optional(),
  INVITATION_TTL_HOURS: int(1, 24 * 30).default(72),
  RATE_LIMIT_PER_MINUTE: int(1, 1_000_000).default(600),
  AUTH_RATE_LIMIT_PER_MINUTE: int(1, 1_000_000).default(30),
  SECRET_RECOVERY_DAYS: int(1, 365).default(30),
  SECRET_PURGE_INTERVAL_SECONDS: int(1, 86_400).default(3600),
  REENCRYPTION_BATCH_SIZE: int(1, 10_000).default(100),
  REENCRYPTION_LEASE_SECONDS: int(5, 3600).default(60),
  KEY_RETIRE_GRACE_SECONDS: int(0, 3600).default(30),
  RETENTION_SWEEP_INTERVAL_MINUTES: int(1, 10_080).default(1440),
  UNSUBSCRIBE_BASE_URL: z
    .string()
    .regex(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, 'must be an http(s) URL without query or fragment (e.g. https://coffer.example.com)')
    .optional(),
  FAULT_ERASURE_STEP_DELAY_MS: int(0, 60_000).default(0),
  CONSOLE_ENABLED: bool.default(true),
  METRICS_PORT: int(0, 65535).optional(),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  METRICS_TOKEN: z
    .string()
    .regex(/^[\x21-\x7e]{32,512}$/, 'at least 32 printable characters without spaces (e.g. openssl rand -hex 32)')
    .optional(),
  WEBHOOK_ALLOW_HTTP: bool.default(false),
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: bool.default(false),
  WEBHOOK_DELIVERY_INTERVAL_MS: int(50, 600_000).default(5000),
  WEBHOOK_SCAN_INTERVAL_SECONDS: int(1, 86_400).default(300),
  WEBHOOK_TIMEOUT_MS: int(100, 60_000).default(10_000),
  WEBHOOK_MAX_ATTEMPTS: int(1, 50).default(8),
  WEBHOOK_BACKOFF_BASE_MS: int(10, 3_600_000).default(30_000),
  WEBHOOK_BACKOFF_MAX_MS: int(10, 86_400_000).default(21_600_000),
  WEBHOOK_SECRET_GRACE_HOURS: int(0, 720).default(24),
  WEBHOOK_EXPIRY_WARNING_DAYS: int(1, 90).default(7),
  WEBHOOK_RETENTION_DAYS: int(1, 3650).default(30),
});

type Env = Record<string, string | undefined>;

/**
 * Every entry point (`npm start`, `npm run start:prod`, the CLI, the Docker image) calls this
 * first: `<cwd>/.env`, when present, fills in each variable the environment does not set
 * (a variable set in the real environment wins, even when empty). Returns the file read.
 */
export function loadDotEnvFile(cwd: string = process.cwd(), env: Env = process.env): string | undefined {
  const file = path.join(cwd, '.env');
  if (!existsSync(file)) return undefined;
  let parsed: Record<string, string>;
  try {
    parsed = parseDotEnv(readFileSync(file));
  } catch (error) {
    throw new ConfigError([`.env: ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  for (const [name, value] of Object.entries(parsed)) {
    if (env[name] === undefined) env[name] = value;
  }
  return file;
}

export interface LoadConfigOptions {
  /** Resolves relative paths such as DATA_DIR; defaults to process.cwd(). */
  cwd?: string;
  /** Called with a warning line when development keys are generated or reused. */
  warn?: (line: string) => void;
}

/** Reads and validates the environment. Throws ConfigError listing every problem at once. */
export function loadConfig(env: Env = process.env, options: LoadConfigOptions = {}): Config {
  const cwd = options.cwd ?? process.cwd();
  const warn = options.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
  // Empty strings mean "not set", as in most .env files.
  const cleaned = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''),
  );
  const problems: string[] = [];
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    problems.push(...parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }

  // Everything below reads the raw strings too, so one run reports every problem at once.
  const production = cleaned.NODE_ENV === 'production';
  if (production) {
    for (const name of ['MONGODB_URI', 'VAULT_MASTER_KEYS', 'VAULT_ACTIVE_MASTER_KEY', 'JWT_PRIVATE_KEY']) {
      if (!cleaned[name]) problems.push(`${name}: required in production`);
    }
    if (Number(cleaned.FAULT_ERASURE_STEP_DELAY_MS ?? 0) > 0) {
      problems.push('FAULT_ERASURE_STEP_DELAY_MS: a fault-injection setting for tests; not allowed in production');
    }
    if (cleaned.KEY_RETIRE_GRACE_SECONDS && Number(cleaned.KEY_RETIRE_GRACE_SECONDS) < 5) {
      problems.push('KEY_RETIRE_GRACE_SECONDS: at least 5 in production (a write in flight during a rotation must land before its key is retired)');
    }
    if (cleaned.WEBHOOK_ALLOW_HTTP && /^(true|1|yes)$/i.test(cleaned.WEBHOOK_ALLOW_HTTP.trim())) {
      problems.push('WEBHOOK_ALLOW_HTTP: not allowed in production (webhooks must use https there)');
    }
    if (cleaned.UNSUBSCRIBE_BASE_URL && !/^https:\/\//i.test(cleaned.UNSUBSCRIBE_BASE_URL)) {
      problems.push('UNSUBSCRIBE_BASE_URL: must be an https URL in production (RFC 8058 one-click unsubscribe needs an https List-Unsubscribe URL)');
    }
    if (cleaned.METRICS_HOST && !cleaned.METRICS_PORT) {
      problems.push('METRICS_HOST: set, but METRICS_PORT is not (without METRICS_PORT, /metrics is served only on the main port behind METRICS_TOKEN)');
    }
  } else if (cleaned.VAULT_ACTIVE_MASTER_KEY && !cleaned.VAULT_MASTER_KEYS) {
    problems.push('VAULT_ACTIVE_MASTER_KEY: set, but VAULT_MASTER_KEYS is not');
  }

  if (cleaned.METRICS_PORT && cleaned.METRICS_PORT.trim() !== '0' && Number(cleaned.METRICS_PORT) === Number(cleaned.PORT ?? 4000)) {
    problems.push('METRICS_PORT: must differ from PORT (metrics must never be served open on the public port; use METRICS_TOKEN to serve them there)');
  }

  const keyProblems: string[] = [];
  const masterKeys = cleaned.VAULT_MASTER_KEYS ? parseMasterKeys(cleaned.VAULT_MASTER_KEYS, keyProblems) : [];
  const activeMasterKeyId = cleaned.VAULT_ACTIVE_MASTER_KEY;
  if (cleaned.VAULT_MASTER_KEYS && !activeMasterKeyId && !production) {
    keyProblems.push('VAULT_ACTIVE_MASTER_KEY: required when VAULT_MASTER_KEYS is set');
  } else if (activeMasterKeyId && masterKeys.length && !masterKeys.some((k) => k.id === activeMasterKeyId)) {
    keyProblems.push(`VAULT_ACTIVE_MASTER_KEY: "${activeMasterKeyId}" is not an id in VAULT_MASTER_KEYS`);
  }
  const privateKey = cleaned.JWT_PRIVATE_KEY ? parseJwtPrivateKey(cleaned.JWT_PRIVATE_KEY, keyProblems) : undefined;
  const previousPublicKeys = parsePublicKeys(cleaned.JWT_PREVIOUS_PUBLIC_KEYS ?? '', keyProblems);
  const corsOrigins = parseOrigins(cleaned.CORS_ORIGINS ?? '', keyProblems);
  problems.push(...keyProblems);
  if (problems.length || !parsed.success) throw new ConfigError(problems);
  const e = parsed.data;
  const dataDir = path.resolve(cwd, e.DATA_DIR);

  // Outside production, whatever keys are missing come from DATA_DIR/dev-keys.json.
  const dev = !cleaned.VAULT_MASTER_KEYS || !privateKey ? loadOrCreateDevKeys(dataDir, warn) : undefined;
  const vault = cleaned.VAULT_MASTER_KEYS
    ? { masterKeys, activeMasterKeyId: activeMasterKeyId! }
    : { masterKeys: parseMasterKeys(dev!.vaultMasterKeys, problems), activeMasterKeyId: dev!.vaultActiveMasterKey };
  const jwtKey = privateKey ?? parseJwtPrivateKey(dev!.jwtPrivateKey, problems);
  if (problems.length) throw new ConfigError(problems.map((p) => `${p} (in ${path.join(dataDir, 'dev-keys.json')})`));

  return {
    nodeEnv: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    mongodbUri: e.MONGODB_URI,
    mongodbDbName: e.MONGODB_DB_NAME,
    dataDir,
    logLevel: e.LOG_LEVEL,
    trustProxy: e.TRUST_PROXY,
    corsOrigins,
    bodyLimit: e.BODY_LIMIT,
    sandboxEnabled: e.SANDBOX_ENABLED ?? !production,
    vault,
    jwt: {
      privateKey: jwtKey!,
      previousPublicKeys,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      accessTokenTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
    },
    sessions: {
      refreshTokenTtlDays: e.REFRESH_TOKEN_TTL_DAYS,
      revocationCheckSeconds: e.SESSION_REVOCATION_CHECK_SECONDS,
    },
    passwords: {
      memoryCostKiB: e.ARGON2_MEMORY_KIB,
      timeCost: e.ARGON2_TIME_COST,
      parallelism: e.ARGON2_PARALLELISM,
    },
    lockout: { maxFailures: e.LOGIN_MAX_FAILURES, lockMinutes: e.LOGIN_LOCKOUT_MINUTES },
    loginBackoffMaxMs: e.LOGIN_BACKOFF_MAX_SECONDS * 1000,
    // Open sign-up tells anyone whether an email has an account, so production is closed unless asked.
    signUpMode: e.SIGNUP_MODE ?? (production ? 'invite-only' : 'open'),
    invitationTtlHours: e.INVITATION_TTL_HOURS,
    rateLimit: {
      requestsPerMinute: e.RATE_LIMIT_PER_MINUTE,
      authAttemptsPerMinute: e.AUTH_RATE_LIMIT_PER_MINUTE,
    },
    secrets: { recoveryDays: e.SECRET_RECOVERY_DAYS, purgeIntervalSeconds: e.SECRET_PURGE_INTERVAL_SECONDS },
    keys: { reencryptionBatchSize: e.REENCRYPTION_BATCH_SIZE, reencryptionLeaseSeconds: e.REENCRYPTION_LEASE_SECONDS, retireGraceSeconds: e.KEY_RETIRE_GRACE_SECONDS },
    retention: { sweepIntervalMinutes: e.RETENTION_SWEEP_INTERVAL_MINUTES },
    // No default in production: unset there means no links (the link operations say so); http://localhost:4000 elsewhere.
    unsubscribeBaseUrl: (e.UNSUBSCRIBE_BASE_URL ?? (production ? null : DEV_UNSUBSCRIBE_BASE_URL))?.replace(/\/+$/, '') ?? null,
    faults: { erasureStepDelayMs: e.FAULT_ERASURE_STEP_DELAY_MS },
    // On everywhere: static files on the API's own origin; the schema stays behind introspection rules and auth.
    consoleEnabled: e.CONSOLE_ENABLED,
    metrics: {
      port: e.METRICS_PORT ?? null,
      host: e.METRICS_HOST,
      token: e.METRICS_TOKEN ?? null,
      // Open on the main port only for local development and tests, and only when nothing else is configured.
      openOnMainPort: !production && e.METRICS_PORT === undefined && e.METRICS_TOKEN === undefined,
    },
    webhooks: {
      allowHttp: e.WEBHOOK_ALLOW_HTTP,
      allowPrivateNetworks: e.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
      deliveryIntervalMs: e.WEBHOOK_DELIVERY_INTERVAL_MS,
      scanIntervalSeconds: e.WEBHOOK_SCAN_INTERVAL_SECONDS,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      maxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
      backoffBaseMs: e.WEBHOOK_BACKOFF_BASE_MS,
      backoffMaxMs: e.WEBHOOK_BACKOFF_MAX_MS,
      secretGraceHours: e.WEBHOOK_SECRET_GRACE_HOURS,
      expiryWarningDays: e.WEBHOOK_EXPIRY_WARNING_DAYS,
      retentionDays: e.WEBHOOK_RETENTION_DAYS,
    },
  };
}

export function parseMasterKeys(text: string, problems: string[]): MasterKey[] {
  const keys: MasterKey[] = [];
  for (const entry of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const sep = entry.indexOf(':');
    const id = sep > 0 ? entry.slice(0, sep) : '';
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) {
      problems.push('VAULT_MASTER_KEYS: each entry must be <id>:<base64 of 32 bytes>, id of letters, digits, _ or -');
      continue;
    }
    const key = Buffer.from(entry.slice(sep + 1), 'base64');
    if (key.length !== 32) {
      problems.push(`VAULT_MASTER_KEYS: key "${id}" must decode to exactly 32 bytes`);
      continue;
    }
    if (keys.some((k) => k.id === id)) {
      problems.push(`VAULT_MASTER_KEYS: key id "${id}" appears twice`);
      continue;
    }
    keys.push({ id, key });
  }
  if (!keys.length && !problems.some((p) => p.startsWith('VAULT_MASTER_KEYS'))) {
    problems.push('VAULT_MASTER_KEYS: at least one key is required');
  }
  return keys;
}

/** PEM text from an env var: literal "\n" sequences are accepted for one-line .env files. */
function pemText(value: string): string {
  return value.replace(/\\n/g, '\n').trim();
}

function parseJwtPrivateKey(value: string, problems: string[]): KeyObject | undefined {
  try {
    const key = createPrivateKey(pemText(value));
    if (key.asymmetricKeyType !== 'ed25519') {
      problems.push('JWT_PRIVATE_KEY: must be an Ed25519 private key (PKCS#8 PEM)');
      return undefined;
    }
    return key;
  } catch {
    problems.push('JWT_PRIVATE_KEY: not a readable PKCS#8 PEM private key');
    return undefined;
  }
}

function parsePublicKeys(value: string, problems: string[]): KeyObject[] {
  const blocks = pemText(value).match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
  const allBlocks = pemText(value).match(/-----BEGIN [A-Z ]+-----/g) ?? [];
  if (value.trim() && (!blocks.length || allBlocks.length !== blocks.length)) {
    problems.push('JWT_PREVIOUS_PUBLIC_KEYS: must hold only PEM "PUBLIC KEY" blocks');
  }
  const keys: KeyObject[] = [];
  for (const block of blocks) {
    try {
      const key = createPublicKey(block);
      if (key.asymmetricKeyType === 'ed25519') keys.push(key);
      else problems.push('JWT_PREVIOUS_PUBLIC_KEYS: every key must be Ed25519');
    } catch {
      problems.push('JWT_PREVIOUS_PUBLIC_KEYS: a PEM block could not be read');
    }
  }
  return keys;
}

function parseOrigins(value: string, problems: string[]): string[] {
  const origins = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const origin of origins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      problems.push(`CORS_ORIGINS: "${origin}" is not an origin like https://app.example.com`);
    }
  }
  return origins;
}

interface DevKeys {
  vaultMasterKeys: string;
  vaultActiveMasterKey: string;
  jwtPrivateKey: string;
}

/**
 * Outside production, missing keys are generated once into DATA_DIR/dev-keys.json
 * (mode 0600) so `npm start` works with no configuration and restarts keep working.
 */
function loadOrCreateDevKeys(dataDir: string, warn: (line: string) => void): DevKeys {
  const file = path.join(dataDir, 'dev-keys.json');
  if (existsSync(file)) {
    warn(`config: using development keys from ${file} (set VAULT_MASTER_KEYS and JWT_PRIVATE_KEY to replace them)`);
    try {
      const keys = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevKeys>;
      if (typeof keys.vaultMasterKeys === 'string' && typeof keys.vaultActiveMasterKey === 'string' && typeof keys.jwtPrivateKey === 'string') {
        return keys as DevKeys;
      }
    } catch {
      // reported below
    }
    throw new ConfigError([`DATA_DIR: ${file} is not a valid development key file; move it away to generate new keys`]);
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  const keys: DevKeys = {
    vaultMasterKeys: `dev1:${randomBytes(32).toString('base64')}`,
    vaultActiveMasterKey: 'dev1',
    jwtPrivateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
  writeFileSync(file, JSON.stringify(keys, null, 2), { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  warn(`config: generated development keys into ${file}; never use them in production`);
  return keys;
}
