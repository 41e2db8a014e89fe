/**
 * Reading passwords and secret values: from a prompt without echo on a terminal, or from
 * standard input when it is piped. Never from the command line (other users see arguments
 * in `ps`), never echoed, never logged.
 */
import { createInterface } from 'node:readline';
import { read } from 'read';

/** Standard input is a terminal: ask without echo (the prompt goes to stderr, stdout stays the result's). */
const interactive = () => process.stdin.isTTY === true;

async function hidden(prompt: string): Promise<string> {
  return String(await read({ prompt, silent: true, replace: '', output: process.stderr }));
}

/** Piped standard input, one line at a time across calls (a password, then a code). */
let pipedLines: AsyncIterator<string> | null = null;

/** The next line of piped standard input. */
async function nextLine(what: string): Promise<string> {
  pipedLines ??= createInterface({ input: process.stdin, terminal: false })[Symbol.asyncIterator]();
  const next = await pipedLines.next();
  if (next.done) throw new Error(`no ${what} given on standard input`);
  return next.value;
}

/** A password: prompted without echo on a terminal, else the first line of standard input. */
export function readPassword(prompt: string): Promise<string> {
  return interactive() ? hidden(prompt) : nextLine('password');
}

/** A second-factor code: prompted without echo on a terminal, else the next line of standard input (after the password). */
export function readCode(prompt: string): Promise<string> {
  return interactive() ? hidden(prompt) : nextLine('second-factor code (the line after the password)');
}

/**
 * A secret value: prompted without echo on a terminal; else all of standard input with one
 * trailing line break removed (so `printf %s "$v" | …` and `echo "$v" | …` store the same value;
 * a value with a line break of its own at the end cannot be given this way).
 */
export async function readValue(prompt: string): Promise<string> {
  if (interactive()) return hidden(prompt);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
