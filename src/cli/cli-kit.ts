/**
 * What every `coffer` command shares: exit statuses, usage errors, the help footer, and how
 * a command's action reports its outcome.
 */
import { Command } from 'commander';

/** Exit statuses of every command (README "CLI"). */
export const EXIT = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  /** Stopped by Ctrl-C (SIGINT) after the current batch: 128 + SIGINT's number, as shells report it. */
  INTERRUPTED: 130,
} as const;

/** A mistake on the command line (or a missing setting): reported with the command's help, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const EXIT_STATUS_HELP = 'Exit status: 0 done, 1 failed, 2 usage error, 130 interrupted (Ctrl-C).';

/** The exit status a finished action asked for (actions cannot return one through commander). */
let exitStatus: number = EXIT.OK;
export const actionExitStatus = () => exitStatus;
/** The command whose action ran last ("secrets get"), for error messages. */
let running = '';
export const runningCommand = () => running;

/**
 * Wraps an action: its return value becomes the exit status; a UsageError is reported as
 * commander reports its own usage errors (message, then the command's help, exit 2).
 */
export function act<A extends unknown[]>(run: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const command = args[args.length - 1] as Command;
    running = qualifiedName(command);
    try {
      exitStatus = await run(...args);
    } catch (error) {
      if (error instanceof UsageError) command.error(`${qualifiedName(command)}: ${error.message}`, { exitCode: EXIT.USAGE, code: 'coffer.usage' });
      throw error;
    }
  };
}

/** "migrate-plaintext", "secrets get": the command as typed after `coffer`. */
export function qualifiedName(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ') || command.name();
}

/** Missing required options, reported together ("--a, --b are required"). */
export function requireOptions(options: Record<string, unknown>, names: readonly string[]): void {
  const missing = names.filter((name) => options[camel(name)] === undefined || options[camel(name)] === '');
  if (missing.length) throw new UsageError(`${missing.map((n) => `--${n}`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} required`);
}

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
