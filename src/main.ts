import { ConfigError, loadConfig, loadDotEnvFile } from './config.js';
import { createApp } from './app.js';
import { createLogger } from './logger.js';
import { openDatabase } from './runtime.js';

/** Process entry: load config → resolve and connect the database → build the app → listen → shut down gracefully. */
async function main(): Promise<void> {
  const bootLogger = createLogger('info');
  let config;
  try {
    const envFile = loadDotEnvFile();
    if (envFile) bootLogger.info(`config: read ${envFile} (variables set in the environment take precedence)`);
    config = loadConfig(process.env, { warn: (line) => bootLogger.warn(line) });
  } catch (error) {
    if (error instanceof ConfigError) {
      bootLogger.fatal(error.message);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const database = await openDatabase(config, logger);
  const app = await createApp({ config, db: database.db, logger });
  const { url } = await app.listen();
  logger.info(
    `Coffer API listening on ${url}/graphql${config.sandboxEnabled ? ' (open it in a browser for Apollo Sandbox)' : ''}` +
      `${config.consoleEnabled ? `; admin console (no internet needed) at ${url}/console` : ''}`,
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal} received: shutting down`);
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, 15_000);
    force.unref();
    try {
      await app.close();
      await database.close();
      logger.info('shutdown complete');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`coffer: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
