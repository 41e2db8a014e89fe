import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { connectMongo } from '../db/client.js';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { createLogger, type Logger } from '../logger.js';
import { embeddedDatabaseFile, openDatabase, type DatabaseHandle } from '../runtime.js';
import { bootstrapAdmin } from './bootstrap-admin.js';

const USAGE = `Usage: npm run cli -- <command> [options]

Commands:
  bootstrap-admin --email <email>   Make a platform administrator. An existing account is
                                    promoted; otherwise one is created with a password read
                                    from standard input (prompted on a terminal, or piped).

The database is the server's: MONGODB_URI when set, else the embedded database the running
server announced in DATA_DIR, else the embedded database started here on DATA_DIR.`;

async function readLine(prompt: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdin.isTTY ? process.stderr : undefined, terminal: false });
  if (process.stdin.isTTY) process.stderr.write(prompt);
  for await (const line of rl) {
    rl.close();
    return line;
  }
  throw new Error('no password given on standard input');
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Reuses the running server's embedded database when there is one; two processes must not open the same files. */
async function database(config: Config, logger: Logger): Promise<DatabaseHandle | { db: import('mongodb').Db; close(): Promise<void> }> {
  const announced = embeddedDatabaseFile(config);
  if (!config.mongodbUri && existsSync(announced)) {
    const { uri, dbName, pid } = JSON.parse(readFileSync(announced, 'utf8')) as { uri: string; dbName: string; pid: number };
    if (processAlive(pid)) {
      logger.info(`database: the running server's embedded database (pid ${pid})`);
      const { client, db } = await connectMongo(uri, dbName);
      return { db, close: () => client.close() };
    }
  }
  return openDatabase(config, logger);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'bootstrap-admin') {
    process.stderr.write(`${USAGE}\n`);
    return command === undefined || command === '--help' ? 0 : 2;
  }
  const { values } = parseArgs({ args: rest, options: { email: { type: 'string' } }, strict: true });
  if (!values.email) {
    process.stderr.write(`--email is required\n\n${USAGE}\n`);
    return 2;
  }
  const logger = createLogger('warn');
  const config = loadConfig(process.env, { warn: () => {} });
  const handle = await database(config, createLogger('info'));
  try {
    const result = await bootstrapAdmin(handle.db, config, values.email, () => readLine('Password for the new administrator: '));
    process.stdout.write(
      result.created
        ? `created platform administrator ${values.email} (user ${result.userId})\n`
        : `promoted existing user ${values.email} (user ${result.userId}) to platform administrator\n`,
    );
    logger.warn({ event: 'platform_admin.bootstrapped', userId: result.userId, created: result.created }, 'platform administrator bootstrapped');
    return 0;
  } finally {
    await handle.close();
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
