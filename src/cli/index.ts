import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { BSON, type Db, type Document } from 'mongodb';
import { ConfigError, loadConfig, loadDotEnvFile, type Config } from '../config.js';
import { createLogger, type Logger } from '../logger.js';
import { openDatabase, type DatabaseHandle } from '../runtime.js';
import { ensureIndexes } from '../modules/index.js';
import { createServices } from '../services.js';
import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.js';
import { internalRequest, systemCaller } from '../identity/callers.js';
import { bootstrapAdmin } from './bootstrap-admin.js';
import { describeMigration, migratePlaintext, MigrationOptionsError, type MigratePlaintextOptions } from './migrate-plaintext.js';
import { describeRewrap, rewrapKeys } from './rewrap-keys.js';

const USAGE = `Usage: npm run cli -- <command> [options]        (--help after a command: this text)

Commands:
  bootstrap-admin --email <email>
      Make a platform administrator. An existing account is promoted; otherwise one is
      created with a password read from standard input (prompted on a terminal, or piped).

  create-tenant --name <name> --owner-email <email>
      Create a tenant and make <email> its OWNER: how organisations come to exist when
      SIGNUP_MODE is invite-only (the production default). An existing account becomes the
      owner as it is; otherwise one is created with a password read from standard input
      (prompted on a terminal, or piped). Prints the tenant's id and slug. Audited as
      SYSTEM cli:create-tenant.

  migrate-plaintext --tenant <tenantId> --collection <name> --name-field <field>
                    --value-field <field> [--prefix <p>] [--filter <json>] [--unset] [--dry-run]
      Encrypt an existing collection of plaintext credentials (same database) into a
      tenant's vault: each document becomes the secret <prefix><doc[name-field]> with the
      value String(doc[value-field]), audited as SYSTEM cli:migrate-plaintext. Safe to run
      again: names that exist already are skipped. Documents with an invalid name or value
      are reported as failed by _id. Values are never printed.
        --prefix <p>      prepended to every name, e.g. legacy/
        --filter <json>   only documents matching this query (Extended JSON), e.g. '{"env":"prod"}'
        --unset           remove the value field from a document once the vault is confirmed
                          to hold the same value (decrypted and compared, audited as a
                          reveal); an existing secret with a different value keeps the plaintext
        --dry-run         report what would be created, skipped and failed; write nothing
      Exit status 1 when any document failed.

  rewrap-keys
      Re-wrap every tenant's keys under VAULT_ACTIVE_MASTER_KEY (audited per tenant). To
      retire a master key: make the new one active, keep the old one in VAULT_MASTER_KEYS,
      run this, and remove the old key once it shows 0 wrapped keys. Safe to run again and
      while servers run.

The database is the server's: MONGODB_URI when set, else the embedded database the running
server announced in DATA_DIR, else the embedded database started here on DATA_DIR.
Exit status: 0 done, 1 failed, 2 usage error.`;

/** A mistake on the command line: reported with the usage text, exit status 2. */
class UsageError extends Error {}

async function readLine(prompt: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdin.isTTY ? process.stderr : undefined, terminal: false });
  if (process.stdin.isTTY) process.stderr.write(prompt);
  for await (const line of rl) {
    rl.close();
    return line;
  }
  throw new Error('no password given on standard input');
}

/** MONGODB_URI, else DATA_DIR's embedded database: the running server's when it owns it (see openDatabase). */
function database(config: Config, logger: Logger): Promise<DatabaseHandle> {
  return openDatabase(config, logger);
}

/** Diagnostics go to standard error: standard output carries only the command's result. */
const cliLogger = (level: string) => createLogger(level, process.stderr);

type Handle = { db: Db; close(): Promise<void> };

/** Opens the database, builds the services once (indexes ensured) and closes everything after `run`. */
async function withServices<T>(
  run: (ctx: { config: Config; handle: Handle; services: Awaited<ReturnType<typeof createServices>>['services'] }) => Promise<T>,
  { indexes = true }: { indexes?: boolean } = {},
): Promise<T> {
  const config = loadConfig(process.env, { warn: () => {} });
  const handle = await database(config, cliLogger('info'));
  try {
    if (indexes) await ensureIndexes(handle.db);
    const { services } = await createServices({ config, db: handle.db, logger: cliLogger('warn') });
    return await run({ config, handle, services });
  } finally {
    await handle.close();
  }
}

async function bootstrapAdminCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { email: { type: 'string' } }, strict: true });
  if (!values.email) throw new UsageError('--email is required');
  const email = values.email;
  const logger = cliLogger('warn');
  const config = loadConfig(process.env, { warn: () => {} });
  const handle = await database(config, cliLogger('info'));
  try {
    const result = await bootstrapAdmin(handle.db, config, email, () => readLine('Password for the new administrator: '));
    process.stdout.write(
      result.created
        ? `created platform administrator ${email} (user ${result.userId})\n`
        : `promoted existing user ${email} (user ${result.userId}) to platform administrator\n`,
    );
    logger.warn({ event: 'platform_admin.bootstrapped', userId: result.userId, created: result.created }, 'platform administrator bootstrapped');
    return 0;
  } finally {
    await handle.close();
  }
}

async function createTenantCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { name: { type: 'string' }, 'owner-email': { type: 'string' } }, strict: true });
  const missing = (['name', 'owner-email'] as const).filter((k) => !values[k]);
  if (missing.length) throw new UsageError(`${missing.map((k) => `--${k}`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} required`);
  return withServices(async ({ services }) => {
    const caller = systemCaller('cli:create-tenant', internalRequest(`cli-${randomUUID()}`));
    try {
      const { tenant, user, newAccount } = await services.auth.provisionTenant(caller, {
        email: values['owner-email']!,
        tenantName: values.name!,
        password: () => readLine('Password for the new owner: '),
      });
      process.stdout.write(`created tenant ${tenant.name} (id ${tenant._id}, slug ${tenant.slug}) owned by ${user.email}${newAccount ? ' (new account)' : ' (existing account)'}\n`);
      return 0;
    } catch (error) {
      if (error instanceof AppError && error.code === 'BAD_USER_INPUT') throw new UsageError(error.message);
      throw error;
    }
  });
}

async function migratePlaintextCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      tenant: { type: 'string' },
      collection: { type: 'string' },
      'name-field': { type: 'string' },
      'value-field': { type: 'string' },
      prefix: { type: 'string' },
      filter: { type: 'string' },
      unset: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
    },
  });
  const missing = (['tenant', 'collection', 'name-field', 'value-field'] as const).filter((k) => !values[k]);
  if (missing.length) throw new UsageError(`${missing.map((k) => `--${k}`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} required`);
  let filter: Document | undefined;
  if (values.filter !== undefined) {
    try {
      filter = BSON.EJSON.parse(values.filter, { relaxed: true }) as Document;
    } catch {
      throw new UsageError('--filter is not valid JSON');
    }
    if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) throw new UsageError('--filter must be a JSON object');
  }
  const options: MigratePlaintextOptions = {
    tenantId: values.tenant!,
    collection: values.collection!,
    nameField: values['name-field']!,
    valueField: values['value-field']!,
    prefix: values.prefix ?? '',
    filter,
    unset: values.unset === true,
    dryRun: values['dry-run'] === true,
  };
  // A dry run writes nothing, not even indexes.
  return withServices(async ({ handle, services }) => {
    let result;
    try {
      result = await migratePlaintext(services, handle.db, options);
    } catch (error) {
      if (error instanceof MigrationOptionsError) throw new UsageError(error.message);
      throw error;
    }
    process.stdout.write(describeMigration(result, options));
    return result.failed > 0 ? 1 : 0;
  }, { indexes: !options.dryRun });
}

async function rewrapKeysCommand(args: string[]): Promise<number> {
  parseArgs({ args, options: {}, strict: true });
  return withServices(async ({ config, handle, services }) => {
    const result = await rewrapKeys(handle.db, config, { audit: services.audit });
    process.stdout.write(describeRewrap(result));
    return 0;
  });
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  'bootstrap-admin': bootstrapAdminCommand,
  'create-tenant': createTenantCommand,
  'migrate-plaintext': migratePlaintextCommand,
  'rewrap-keys': rewrapKeysCommand,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const run = command === undefined ? undefined : COMMANDS[command];
  if (!run) {
    if (command === '--help' || command === '-h') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    // No command is a usage error too: a script calling the CLI without one did nothing.
    process.stderr.write(`${command === undefined ? 'no command given' : `unknown command "${command}"`}\n\n${USAGE}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const envFile = loadDotEnvFile();
  if (envFile) process.stderr.write(`config: read ${envFile} (variables set in the environment take precedence)\n`);
  try {
    return await run(rest);
  } catch (error) {
    const parseError = typeof (error as { code?: unknown }).code === 'string' && (error as { code: string }).code.startsWith('ERR_PARSE_ARGS_');
    if (!(error instanceof UsageError) && !parseError) throw error;
    process.stderr.write(`${command}: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof ConfigError || error instanceof Error ? error.message : String(error);
    process.stderr.write(`coffer cli: ${message}\n`);
    process.exit(1);
  },
);
