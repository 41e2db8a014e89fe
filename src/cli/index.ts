/**
 * The `coffer` command (bin/coffer.js; `npm run cli -- …` is the same program): operator
 * commands on the database (operator-commands.ts) and application commands on a running
 * Coffer's GraphQL API (app-commands.ts). README "CLI" documents every command.
 */
import { Command, CommanderError, Help } from 'commander';
import { loadDotEnvFile } from '../config.js';
import { actionExitStatus, EXIT, EXIT_STATUS_HELP, runningCommand } from './cli-kit.js';
import { addOperatorCommands } from './operator-commands.js';
import { addAppCommands } from './app-commands.js';
import { ApiError } from './client/api.js';

/** The usage line, and the same for a clone of the repository where `coffer` is not installed. */
function formatHelp(this: Help, cmd: Command, helper: Help): string {
  const text = Help.prototype.formatHelp.call(this, cmd, helper);
  const usage = helper.commandUsage(cmd);
  const inRepo = usage.replace(/^coffer\b/, 'npm run cli --');
  return text.replace(/^(Usage: .*\n)/, `$1Usage: ${inRepo}   (from a clone of the repository: the same program)\n`);
}

export function buildProgram(): Command {
  const program = new Command('coffer')
    .description(
      'Coffer from the command line: operator commands talk to the database with the server\'s ' +
        'configuration; application commands talk to a running Coffer over its GraphQL API.',
    )
    .configureHelp({ formatHelp, showGlobalOptions: false })
    .configureOutput({
      // Commander's own usage errors ("error: unknown option …") read like ours.
      outputError: (text, write) => write(text.replace(/^error: (.)/, (_, first: string) => `coffer: ${first.toUpperCase()}`)),
    })
    .showHelpAfterError()
    .enablePositionalOptions()
    .exitOverride()
    .helpCommand(true)
    .addHelpText('after', `\n${EXIT_STATUS_HELP}\nEvery command has --help. README "CLI" has examples.`);

  addOperatorCommands(program);
  addAppCommands(program);

  // Every command, nested ones too, reports usage errors the same way (exit 2) and has the footer.
  const configure = (command: Command) => {
    for (const sub of command.commands) {
      sub.exitOverride().showHelpAfterError().addHelpText('after', `\n${EXIT_STATUS_HELP}`);
      configure(sub);
    }
  };
  configure(program);

  // Operator commands use the server's configuration: the environment, then .env here.
  program.hook('preAction', (_root, action) => {
    if (!action.parent || action.parent !== program || !operator.has(action.name())) return;
    const envFile = loadDotEnvFile();
    if (envFile) process.stderr.write(`config: read ${envFile} (variables set in the environment take precedence)\n`);
  });
  const operator = new Set(program.commands.filter((c) => c.helpGroup().startsWith('Operator')).map((c) => c.name()));
  return program;
}

export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  if (argv.length === 0) {
    // No command is a usage error: a script calling the CLI without one did nothing.
    process.stderr.write(`no command given\n\n${program.helpInformation()}`);
    return EXIT.USAGE;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return actionExitStatus();
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help (exit 0); help shown for a missing subcommand (exitCode 1) is a usage error like the others.
      return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    const message = error instanceof Error ? error.message : String(error);
    const code = error instanceof ApiError ? `${error.code}: ` : '';
    process.stderr.write(`coffer ${runningCommand() || argv[0]}: ${code}${message}\n`);
    return EXIT.FAILED;
  }
}

runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`coffer: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(EXIT.FAILED);
  },
);
