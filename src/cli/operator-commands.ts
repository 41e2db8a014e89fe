/**
 * Operator commands: they talk to the database directly, with the server's configuration
 * (environment, then .env). The heavy modules are imported when a command runs, so the
 * application commands (app-commands.ts) start quickly.
 */
import { randomUUID } from 'node:crypto';
import { Command, InvalidArgumentError } from 'commander';
import type { Db, Document } from 'mongodb';
import type { Config } from '../config.js';
import { act, EXIT, UsageError, requireOptions } from './cli-kit.js';
import { Interrupt, progress } from './progress.js';

export const OPERATOR_COMMANDS = 'keygen, bootstrap-admin, create-tenant, ensure-indexes, key-status, rewrap-keys, verify-audit, purge-expired, migrate-plaintext';

const DATABASE_HELP = `
The database is the server's: MONGODB_URI when set, else the embedded database the running
server announced in DATA_DIR, else the embedded database started here on DATA_DIR. The
configuration is the server's: the environment, then .env in the working directory.`;

type Services = Awaited<ReturnType<typeof import('../services.js').createServices>>['services'];
interface Ctx {
  config: Config;
  db: Db;
  services: Services;
}

async function configuration(): Promise<Config> {
  const { loadConfig } = await import('../config.js');
  return loadConfig(process.env, { warn: () => {} });
}

/** Diagnostics go to standard error: standard output carries only the command's result. */
async function logger(level: string) {
  const { createLogger } = await import('../logger.js');
  return createLogger(level, process.stderr);
}

/** Opens the server's database with its configuration, runs `run`, closes it. */
async function withDatabase<T>(run: (config: Config, db: Db) => Promise<T>): Promise<T> {
  const config = await configuration();
  const { openDatabase } = await import('../runtime.js');
  const handle = await openDatabase(config, await logger('info'));
  try {
    return await run(config, handle.db);
  } finally {
    await handle.close();
  }
}

/** withDatabase, with the indexes ensured (unless told not to) and the services built. */
function withServices<T>(run: (ctx: Ctx) => Promise<T>, { indexes = true }: { indexes?: boolean } = {}): Promise<T> {
  return withDatabase(async (config, db) => {
    if (indexes) await (await import('../modules/index.js')).ensureIndexes(db);
    const { createServices } = await import('../services.js');
    const { services } = await createServices({ config, db, logger: await logger('warn') });
    return run({ config, db, services });
  });
}

const wholeNumber = (value: string) => {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return Number(value);
};

export function addOperatorCommands(program: Command): void {
  program.commandsGroup('Operator commands (database access, the server\'s configuration):');

  program
    .command('keygen')
    .summary('print fresh VAULT_MASTER_KEYS, VAULT_ACTIVE_MASTER_KEY and JWT_PRIVATE_KEY lines for .env')
    .description(
      'Print a fresh 32-byte master key, its id as the active master key and a fresh Ed25519 JWT signing key, ' +
        'as .env lines in the format the server reads. Writes nothing anywhere; redirect it into a file ' +
        'only you can read (e.g. `coffer keygen >> .env && chmod 600 .env`). To rotate the master key, ' +
        'append the new VAULT_MASTER_KEYS entry to the existing list (comma-separated), make it active ' +
        'and run rewrap-keys.',
    )
    .option('--id <id>', 'master key id (letters, digits, _ or -; default k<today, UTC>)')
    .action(
      act(async (options: { id?: string }) => {
        const { keygen, defaultMasterKeyId, MASTER_KEY_ID } = await import('./keygen.js');
        const id = options.id ?? defaultMasterKeyId();
        if (!MASTER_KEY_ID.test(id)) throw new UsageError('--id must be 1-32 letters, digits, _ or -');
        process.stdout.write(keygen(id));
        return EXIT.OK;
      }),
    );

  program
    .command('bootstrap-admin')
    .summary('make a platform administrator')
    .description(
      'Make a platform administrator. An existing account is promoted; otherwise one is created ' +
        'with a password read from standard input (prompted without echo on a terminal, or piped).',
    )
    .option('--email <email>', 'the account (required)')
    .action(
      act(async (options: { email?: string }) => {
        requireOptions(options, ['email']);
        const email = options.email!;
        const { readPassword } = await import('./prompt.js');
        const { bootstrapAdmin } = await import('./bootstrap-admin.js');
        return withDatabase(async (config, db) => {
          const result = await bootstrapAdmin(db, config, email, () => readPassword('Password for the new administrator: '));
          process.stdout.write(
            result.created
              ? `created platform administrator ${email} (user ${result.userId})\n`
              : `promoted existing user ${email} (user ${result.userId}) to platform administrator\n`,
          );
          (await logger('warn')).warn({ event: 'platform_admin.bootstrapped', userId: result.userId, created: result.created }, 'platform administrator bootstrapped');
          return EXIT.OK;
        });
      }),
    );

  program
    .command('create-tenant')
    .summary('create a tenant and its first OWNER')
    .description(
      'Create a tenant and make <email> its OWNER: how organisations come to exist when SIGNUP_MODE ' +
        'is invite-only (the production default). An existing account becomes the owner as it is; ' +
        'otherwise one is created with a password read from standard input (prompted without echo on a ' +
        "terminal, or piped). Prints the tenant's id and slug. Audited as SYSTEM cli:create-tenant.",
    )
    .option('--name <name>', "the tenant's name (required)")
    .option('--owner-email <email>', "the owner's account (required)")
    .action(
      act(async (options: { name?: string; ownerEmail?: string }) => {
        requireOptions(options, ['name', 'owner-email']);
        const { readPassword } = await import('./prompt.js');
        const { internalRequest, systemCaller } = await import('../identity/callers.js');
        const { AppError } = await import('../errors.js');
        return withServices(async ({ services }) => {
          const caller = systemCaller('cli:create-tenant', internalRequest(`cli-${randomUUID()}`));
          try {
            const { tenant, user, newAccount } = await services.auth.provisionTenant(caller, {
              email: options.ownerEmail!,
              tenantName: options.name!,
              password: () => readPassword('Password for the new owner: '),
            });
            process.stdout.write(`created tenant ${tenant.name} (id ${tenant._id}, slug ${tenant.slug}) owned by ${user.email}${newAccount ? ' (new account)' : ' (existing account)'}\n`);
            return EXIT.OK;
          } catch (error) {
            if (error instanceof AppError && error.code === 'BAD_USER_INPUT') throw new UsageError(error.message);
            throw error;
          }
        });
      }),
    );

  program
    .command('ensure-indexes')
    .summary("create every module's indexes and list them")
    .description(
      "Create every module's indexes (idempotent: existing ones are left as they are) and list them, " +
        'one line per index. The server does this at every start; run it before starting new server ' +
        'versions in a deployment that starts many instances at once, or after restoring a backup.',
    )
    .action(
      act(async () => {
        const { ensureAllIndexes } = await import('./operator-tasks.js');
        return withDatabase(async (_config, db) => {
          process.stdout.write(await ensureAllIndexes(db));
          return EXIT.OK;
        });
      }),
    );

  program
    .command('key-status')
    .summary('master keys, what each wraps, and pending re-encryptions (no key material)')
    .description(
      "List the master keys (VAULT_MASTER_KEYS and any id stored keys refer to) with how many tenants' " +
        'keys each one wraps, and the tenants whose re-encryption after a key rotation is still running. ' +
        'Prints ids and counts only, never key material. Writes nothing.',
    )
    .action(
      act(async () => {
        const { keyStatus } = await import('./operator-tasks.js');
        return withServices(
          async ({ config, db, services }) => {
            process.stdout.write(await keyStatus(db, config, async (id) => (await services.tenants.find(id))?.name ?? null));
            return EXIT.OK;
          },
          { indexes: false },
        );
      }),
    );

  program
    .command('rewrap-keys')
    .summary("re-wrap every tenant's keys under VAULT_ACTIVE_MASTER_KEY")
    .description(
      "Re-wrap every tenant's keys under VAULT_ACTIVE_MASTER_KEY (audited per tenant). To retire a master " +
        'key: make the new one active, keep the old one in VAULT_MASTER_KEYS, run this, and remove the old ' +
        'key once it shows 0 wrapped keys. Safe to run again, and while servers run; a run that was ' +
        'stopped continues where it stopped when run again.',
    )
    .action(
      act(async () => {
        const { describeRewrap, rewrapKeys } = await import('./rewrap-keys.js');
        return withServices(async ({ config, db, services }) => {
          const interrupt = new Interrupt();
          const bar = progress('rewrap-keys tenants');
          try {
            const result = await rewrapKeys(db, config, { audit: services.audit, onTenant: (done) => bar.update(done, null), shouldStop: () => interrupt.requested });
            bar.stop();
            process.stdout.write(describeRewrap(result));
            if (result.stopped) {
              process.stderr.write(`interrupted after ${result.tenants} tenants: run rewrap-keys again to continue\n`);
              return EXIT.INTERRUPTED;
            }
            return EXIT.OK;
          } finally {
            interrupt.release();
          }
        });
      }),
    );

  program
    .command('verify-audit')
    .summary('verify the audit hash chains (exit 1 on a broken chain)')
    .description(
      "Verify the platform audit chain and every tenant's (or one, with --tenant), event by event. " +
        'Prints one line per chain; a broken chain is named with the first seq that cannot be trusted, ' +
        'and the exit status is then 1. Deleted tenants are skipped (their chain keys are destroyed). ' +
        'Read-only; Ctrl-C stops after the current chain.',
    )
    .option('--tenant <id>', 'only this tenant\'s chain ("platform": the platform chain)')
    .action(
      act(async (options: { tenant?: string }) => {
        const tasks = await import('./operator-tasks.js');
        return withServices(
          async ({ services }) => {
            let chains: import('./operator-tasks.js').ChainToVerify[];
            let skipped = 0;
            if (options.tenant === 'platform') chains = [tasks.platformChain()];
            else if (options.tenant !== undefined) {
              const tenant = await services.tenants.find(options.tenant);
              if (!tenant) throw new Error(`tenant "${options.tenant}" not found`);
              if (tenant.status === 'DELETED') throw new Error(`tenant "${options.tenant}" is deleted: its chain key was destroyed with its data`);
              chains = [{ id: tenant._id, label: `tenant ${tenant._id} (${tenant.name})` }];
            } else {
              ({ chains, skipped } = tasks.chainsOf(await services.tenants.list(Number.MAX_SAFE_INTEGER)));
            }
            const interrupt = new Interrupt();
            const bar = progress('verify-audit chains');
            const outcomes: import('./operator-tasks.js').ChainOutcome[] = [];
            try {
              for (const chain of chains) {
                if (interrupt.requested) break;
                try {
                  outcomes.push({ chain, result: await services.audit.verify(chain.id) });
                } catch (error) {
                  outcomes.push({ chain, result: { error: error instanceof Error ? error.message : String(error) } });
                }
                if (chains.length > 1) bar.update(outcomes.length, chains.length);
              }
            } finally {
              bar.stop();
              interrupt.release();
            }
            const interrupted = outcomes.length < chains.length;
            process.stdout.write(tasks.describeVerification(outcomes, skipped, interrupted));
            if (interrupted) return EXIT.INTERRUPTED;
            return outcomes.every(({ result }) => !('error' in result) && result.valid) ? EXIT.OK : EXIT.FAILED;
          },
          { indexes: false },
        );
      }),
    );

  program
    .command('purge-expired')
    .summary('run the hourly purge now')
    .description(
      "Do now what the server's hourly jobs do: purge soft-deleted secrets past their recovery window " +
        '(SECRET_RECOVERY_DAYS; each purge audited as secret.purged by SYSTEM secret-purge), and delete ' +
        'ended sessions, used or expired invitations, expired consent-link marks and expired login challenges. Safe while servers ' +
        'run. Works in batches of up to 1000 secrets; Ctrl-C stops after the current batch.',
    )
    .action(
      act(async () => {
        const { createServices } = await import('../services.js');
        return withDatabase(async (config, db) => {
          const { secretPurge, housekeeping } = await createServices({ config, db, logger: await logger('warn') });
          const interrupt = new Interrupt();
          const bar = progress('purge-expired secrets');
          let purged = 0;
          try {
            for (;;) {
              const batch = await secretPurge.sweep();
              purged += batch;
              if (batch === 0) break;
              bar.update(purged, null);
              if (interrupt.requested) break;
            }
          } finally {
            bar.stop();
            interrupt.release();
          }
          if (interrupt.requested) {
            process.stdout.write(`purged ${purged} secrets past their recovery window; interrupted: run the same command again to continue\n`);
            return EXIT.INTERRUPTED;
          }
          const removed = await housekeeping.sweep();
          process.stdout.write(
            `purged ${purged} secrets past their recovery window; removed ${removed.sessions} ended sessions, ` +
              `${removed.invitations} used or expired invitations, ${removed.usedLinks} expired consent-link marks, ` +
              `${removed.loginChallenges} expired login challenges\n`,
          );
          return EXIT.OK;
        });
      }),
    );

  program
    .command('migrate-plaintext')
    .summary('encrypt a legacy collection of plaintext credentials into a tenant\'s vault')
    .description(
      "Encrypt an existing collection of plaintext credentials (same database) into a tenant's vault: " +
        'each document becomes the secret <prefix><doc[name-field]> with the value String(doc[value-field]), ' +
        'audited as SYSTEM cli:migrate-plaintext. Safe to run again: names that exist already are ' +
        'skipped, so a run stopped with Ctrl-C (after the current batch, exit 130) continues when run ' +
        'again. Documents with an invalid name or value are reported as failed by _id. Values are never ' +
        'printed. Exit status 1 when any document failed.',
    )
    .option('--tenant <tenantId>', 'the tenant (required)')
    .option('--collection <name>', 'the legacy collection (required)')
    .option('--name-field <field>', 'top-level field holding the name (required)')
    .option('--value-field <field>', 'top-level field holding the value (required)')
    .option('--prefix <p>', 'prepended to every name, e.g. legacy/')
    .option('--filter <json>', 'only documents matching this query (Extended JSON), e.g. \'{"env":"prod"}\'')
    .option(
      '--unset',
      'remove the value field from a document once the vault is confirmed to hold the same value (decrypted and compared, audited as a reveal); an existing secret with a different value keeps the plaintext',
    )
    .option('--dry-run', 'report what would be created, skipped and failed; write nothing')
    .option('--batch-size <n>', 'documents between progress reports and Ctrl-C checks (default 100)', wholeNumber)
    .action(
      act(
        async (options: {
          tenant?: string;
          collection?: string;
          nameField?: string;
          valueField?: string;
          prefix?: string;
          filter?: string;
          unset?: boolean;
          dryRun?: boolean;
          batchSize?: number;
        }) => {
          requireOptions(options, ['tenant', 'collection', 'name-field', 'value-field']);
          const { BSON } = await import('mongodb');
          let filter: Document | undefined;
          if (options.filter !== undefined) {
            try {
              filter = BSON.EJSON.parse(options.filter, { relaxed: true }) as Document;
            } catch {
              throw new UsageError('--filter is not valid JSON');
            }
            if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) throw new UsageError('--filter must be a JSON object');
          }
          const { describeMigration, migratePlaintext, MigrationOptionsError } = await import('./migrate-plaintext.js');
          const interrupt = new Interrupt();
          const bar = progress('migrate-plaintext documents');
          const migration = {
            tenantId: options.tenant!,
            collection: options.collection!,
            nameField: options.nameField!,
            valueField: options.valueField!,
            prefix: options.prefix ?? '',
            filter,
            unset: options.unset === true,
            dryRun: options.dryRun === true,
            batchSize: options.batchSize ?? 100,
            onBatch: (scanned: number, total: number) => bar.update(scanned, total),
            shouldStop: () => interrupt.requested,
          };
          try {
            // A dry run writes nothing, not even indexes.
            return await withServices(
              async ({ db, services }) => {
                let result;
                try {
                  result = await migratePlaintext(services, db, migration);
                } catch (error) {
                  if (error instanceof MigrationOptionsError) throw new UsageError(error.message);
                  throw error;
                } finally {
                  bar.stop();
                }
                process.stdout.write(describeMigration(result, migration));
                if (result.interrupted) return EXIT.INTERRUPTED;
                return result.failed > 0 ? EXIT.FAILED : EXIT.OK;
              },
              { indexes: !migration.dryRun },
            );
          } finally {
            interrupt.release();
          }
        },
      ),
    );

  program.commandsGroup('');
  for (const command of program.commands) {
    command.addHelpText('after', `${DATABASE_HELP}\n\nOperator commands: ${OPERATOR_COMMANDS} (coffer --help).`);
  }
}
