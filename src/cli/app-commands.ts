/**
 * Application commands: they talk to a running Coffer over its GraphQL API, as an API key
 * (COFFER_API_KEY + COFFER_URL, for CI and deploys) or as the user `coffer login` signed in.
 * Values go to standard output only where asked for (`secrets get`, `secrets export`) or into
 * the environment of the command `coffer run` starts; never into messages.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { act, EXIT, UsageError } from './cli-kit.js';
import { ApiError, AUTH_PAYLOAD, clientFromEnvironment, post, serverUrl, sessionFields, type AuthPayload, type Client } from './client/api.js';
import { envNames, refuseLoaderVariables } from './client/env-names.js';
import { readSession, removeSession, sessionPath, writeSession } from './client/session-store.js';
import { readCode, readPassword, readValue } from './prompt.js';

const AUTH_HELP = `
Authentication: COFFER_API_KEY (an API key; COFFER_URL names the server) when set, else the
session stored by coffer login (${'$'}XDG_CONFIG_HOME/coffer/session.json, or
~/.config/coffer/session.json; refreshed when its access token has expired).`;

const wholeNumber = (value: string) => {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return Number(value);
};

interface SecretNode {
  name: string;
  version: number;
  status: string;
  updatedAt: string;
  value?: string | null;
}

/** Every live secret under `prefix`, in name order, page by page (with values when asked: each read is audited). */
async function allSecrets(client: Client, prefix: string, withValues: boolean): Promise<SecretNode[]> {
  const nodes: SecretNode[] = [];
  let after: string | null = null;
  for (;;) {
    const page: { secrets: { edges: { node: SecretNode }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } = await client.request(
      `query($filter: SecretFilter, $after: String) { secrets(filter: $filter, first: 100, after: $after) {
        edges { node { name version status updatedAt ${withValues ? 'value' : ''} } } pageInfo { hasNextPage endCursor } } }`,
      { filter: prefix ? { prefix } : null, after },
    );
    nodes.push(...page.secrets.edges.map((e) => e.node));
    if (!page.secrets.pageInfo.hasNextPage || !page.secrets.pageInfo.endCursor) return nodes;
    after = page.secrets.pageInfo.endCursor;
  }
}

/** Values as variables: name mapping of env-names.ts; a value the server could not give refuses the whole set. */
async function variablesOf(client: Client, prefix: string, allowedLoaderVariables: readonly string[] | null = null): Promise<Map<string, string>> {
  const secrets = await allSecrets(client, prefix, true);
  const names = envNames(
    secrets.map((s) => s.name),
    prefix,
  );
  if (allowedLoaderVariables) refuseLoaderVariables(names, allowedLoaderVariables);
  const byName = new Map(secrets.map((s) => [s.name, s.value]));
  const variables = new Map<string, string>();
  for (const [variable, secret] of names) {
    const value = byName.get(secret);
    if (typeof value !== 'string') throw new Error(`secret ${secret} has no readable value`);
    variables.set(variable, value);
  }
  return variables;
}

/** One .env line that dotenv reads back as exactly `value` (single quotes, backticks or double quotes), or null. */
async function dotenvLine(variable: string, value: string): Promise<string | null> {
  const { parse } = await import('dotenv');
  const candidates = [`'${value}'`, `\`${value}\``, `"${value.replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`];
  for (const quoted of candidates) {
    const line = `${variable}=${quoted}`;
    if (parse(line)[variable] === value) return line;
  }
  return null;
}

export function addAppCommands(program: Command): void {
  program.commandsGroup('Application commands (a running Coffer over its GraphQL API):');

  program
    .command('login')
    .summary('sign in to a Coffer server and store the session')
    .description(
      'Sign in with email and password and store the session (mode 0600) in ' +
        '$XDG_CONFIG_HOME/coffer/session.json, or ~/.config/coffer/session.json. The password is read ' +
        'from a prompt without echo, or from the first line of standard input when it is piped; never ' +
        'from the command line. For an account with a second factor, a code from the authenticator app ' +
        'or a recovery code is asked next (the second line of piped standard input). Later commands refresh the session when its access token has expired. ' +
        'For CI and deploys prefer an API key: COFFER_API_KEY and COFFER_URL (no login, nothing stored).',
    )
    .option('--url <url>', 'the server, e.g. https://coffer.example.com (default: COFFER_URL, else the last login\'s)')
    .option('--email <email>', "the account (default: the last login's)")
    .option('--tenant <id>', 'scope the session to this tenant (default: the first active membership)')
    .action(
      act(async (options: { url?: string; email?: string; tenant?: string }) => {
        const file = sessionPath();
        const previous = (() => {
          try {
            return readSession(file);
          } catch {
            return null;
          }
        })();
        const rawUrl = options.url ?? process.env.COFFER_URL ?? previous?.url;
        if (!rawUrl) throw new UsageError('--url is required (or COFFER_URL)');
        const url = serverUrl(rawUrl, options.url ? '--url' : 'COFFER_URL');
        const email = options.email ?? previous?.email;
        if (!email) throw new UsageError('--email is required');
        const password = await readPassword(`Password for ${email} at ${url}: `);
        const first = await post<{ login: AuthPayload & { twoFactorChallenge: { token: string } | null } }>(
          url,
          `mutation($input: LoginInput!) { login(input: $input) { ${AUTH_PAYLOAD} twoFactorChallenge { token } } }`,
          { input: { email, password, ...(options.tenant ? { tenantId: options.tenant } : {}) } },
          null,
        );
        let login: AuthPayload = first.login;
        // An account with a second factor: no tokens yet, a challenge to complete with a code.
        if (first.login.twoFactorChallenge) {
          const code = await readCode('Code from your authenticator app (or a recovery code): ');
          login = (
            await post<{ completeLogin: AuthPayload }>(
              url,
              `mutation($input: CompleteLoginInput!) { completeLogin(input: $input) { ${AUTH_PAYLOAD} } }`,
              { input: { challenge: first.login.twoFactorChallenge.token, code } },
              null,
            )
          ).completeLogin;
        }
        if (!login.accessToken) throw new Error('the server issued no tokens');
        writeSession({ url, email: login.user.email, ...sessionFields(login) }, file);
        process.stdout.write(`logged in to ${url} as ${login.user.email}${login.tenant ? ` (tenant ${login.tenant.name}, id ${login.tenant.id})` : ''}; session stored in ${file}\n`);
        return EXIT.OK;
      }),
    );

  program
    .command('logout')
    .summary('end the stored session and remove it')
    .description('End the session coffer login stored (its tokens stop working on the server) and delete the file.')
    .action(
      act(async () => {
        const file = sessionPath();
        const session = readSession(file);
        if (!session) {
          process.stdout.write('not logged in\n');
          return EXIT.OK;
        }
        try {
          await clientFromEnvironment({ ...process.env, COFFER_API_KEY: '' }).request('mutation { logout }');
        } catch (error) {
          // An ended session is what we want; anything else is reported, and the file still goes.
          if (!(error instanceof ApiError && error.code === 'UNAUTHENTICATED')) process.stderr.write(`coffer logout: the server was not told (${error instanceof Error ? error.message : String(error)})\n`);
        }
        removeSession(file);
        process.stdout.write(`logged out of ${session.url}; removed ${file}\n`);
        return EXIT.OK;
      }),
    );

  const secrets = program
    .command('secrets')
    .summary('list, read, write, delete, import and export secrets')
    .description('List, read, write, delete, import and export the secrets of the tenant you act in.')
    .addHelpText('after', AUTH_HELP);

  secrets
    .command('list')
    .description('List secret names (never values), one per line, in name order.')
    .option('--prefix <prefix>', 'only names starting with this, e.g. app/prod/')
    .option('-l, --long', 'also the current version, status and last change (tab-separated)')
    .action(
      act(async (options: { prefix?: string; long?: boolean }) => {
        const client = clientFromEnvironment();
        const nodes = await allSecrets(client, options.prefix ?? '', false);
        process.stdout.write(nodes.map((n) => (options.long ? `${n.name}\t${n.version}\t${n.status}\t${n.updatedAt}\n` : `${n.name}\n`)).join(''));
        return EXIT.OK;
      }),
    );

  secrets
    .command('get')
    .description(
      "Print a secret's value to standard output and nothing else (a line break after it only on a " +
        'terminal), e.g. DB_PASSWORD="$(coffer secrets get app/prod/db-password)". The read is audited.',
    )
    .argument('<name>', 'the secret')
    .option('--version <n>', 'a kept version (default: the current one)', wholeNumber)
    .action(
      act(async (name: string, options: { version?: number }) => {
        const client = clientFromEnvironment();
        const { secret } = await client.request<{ secret: { value: string | null } | null }>('query($name: String!, $version: Int) { secret(name: $name) { value(version: $version) } }', {
          name,
          version: options.version ?? null,
        });
        if (!secret) throw new ApiError(`secret ${name} not found`, 'NOT_FOUND');
        if (secret.value === null) throw new ApiError(`secret ${name} has no readable value${options.version ? ` at version ${options.version}` : ''}`, 'NOT_FOUND');
        process.stdout.write(process.stdout.isTTY ? `${secret.value}\n` : secret.value);
        return EXIT.OK;
      }),
    );

  secrets
    .command('set')
    .description(
      'Create a secret, or give it a new version. The value is read from standard input when it is ' +
        'piped (all of it, one trailing line break removed) or from a prompt without echo; never from ' +
        'the command line, where other users of the machine can read it (ps, /proc, shell history). ' +
        'Example: printf %s "$TOKEN" | coffer secrets set app/prod/api-token',
    )
    .argument('<name>', 'the secret')
    .action(
      act(async (name: string) => {
        const client = clientFromEnvironment();
        const value = await readValue(`Value for ${name}: `);
        const { setSecrets } = await client.request<{ setSecrets: { ok: boolean; created: boolean; errorCode: string | null; errorMessage: string | null; secret: { version: number } | null }[] }>(
          'mutation($items: [SetSecretInput!]!) { setSecrets(items: $items) { ok created errorCode errorMessage secret { version } } }',
          { items: [{ name, value }] },
        );
        const result = setSecrets[0];
        if (!result?.ok) throw new ApiError(result?.errorMessage ?? 'not written', result?.errorCode ?? 'INTERNAL_SERVER_ERROR');
        process.stdout.write(`${result.created ? 'created' : 'updated'} ${name} (version ${result.secret?.version ?? '?'})\n`);
        return EXIT.OK;
      }),
    );

  secrets
    .command('delete')
    .description('Soft-delete a secret: it can be restored during the recovery window, then it is purged.')
    .argument('<name>', 'the secret')
    .action(
      act(async (name: string) => {
        const client = clientFromEnvironment();
        const { deleteSecret } = await client.request<{ deleteSecret: { name: string; purgeAfter: string | null } }>('mutation($name: String!) { deleteSecret(name: $name) { name purgeAfter } }', { name });
        process.stdout.write(`deleted ${deleteSecret.name}${deleteSecret.purgeAfter ? ` (restorable until ${deleteSecret.purgeAfter})` : ''}\n`);
        return EXIT.OK;
      }),
    );

  secrets
    .command('import')
    .description(
      'Upsert every KEY=value of a .env file as the secret <prefix><KEY> (the importSecrets mutation). ' +
        'Prints one line per variable; lines that are not assignments are reported by number, never by ' +
        'content. Exit status 1 when any line failed (the others are written).',
    )
    .argument('<file>', 'a .env file ("-": standard input)')
    .option('--prefix <prefix>', 'name prefix, e.g. app/prod/')
    .action(
      act(async (file: string, options: { prefix?: string }) => {
        let dotenv: string;
        try {
          dotenv = file === '-' ? await readValue('') : readFileSync(file, 'utf8');
        } catch (error) {
          throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
        }
        const client = clientFromEnvironment();
        const { importSecrets } = await client.request<{ importSecrets: { ok: boolean; created: boolean; name: string | null; line: number | null; errorCode: string | null; errorMessage: string | null }[] }>(
          'mutation($dotenv: String!, $prefix: String) { importSecrets(dotenv: $dotenv, prefix: $prefix) { ok created name line errorCode errorMessage } }',
          { dotenv, prefix: options.prefix ?? null },
        );
        let failed = 0;
        for (const r of importSecrets) {
          const where = r.line === null ? '' : `line ${r.line}: `;
          if (r.ok) process.stdout.write(`${where}${r.created ? 'created' : 'updated'} ${r.name}\n`);
          else {
            failed++;
            process.stdout.write(`${where}failed${r.name ? ` ${r.name}` : ''}: ${r.errorCode}: ${r.errorMessage}\n`);
          }
        }
        process.stdout.write(`imported ${importSecrets.length - failed} of ${importSecrets.length}\n`);
        return failed ? EXIT.FAILED : EXIT.OK;
      }),
    );

  secrets
    .command('export')
    .description(
      'Print the secrets under a prefix with their values (every read audited). dotenv: one VAR=value ' +
        'line per secret, named as coffer run names variables, quoted so dotenv (and secrets import) ' +
        'read the value back exactly. json: an object of full secret name to value.',
    )
    .option('--prefix <prefix>', 'only secrets under this prefix, stripped from dotenv names', '')
    .addOption(new Option('--format <format>', 'output format').choices(['dotenv', 'json']).default('dotenv'))
    .action(
      act(async (options: { prefix: string; format: 'dotenv' | 'json' }) => {
        const client = clientFromEnvironment();
        if (options.format === 'json') {
          const nodes = await allSecrets(client, options.prefix, true);
          const out: Record<string, string | null> = {};
          for (const n of nodes) out[n.name] = n.value ?? null;
          process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
          return EXIT.OK;
        }
        const variables = await variablesOf(client, options.prefix);
        const lines: string[] = [];
        const unquotable: string[] = [];
        for (const [variable, value] of variables) {
          const line = await dotenvLine(variable, value);
          if (line === null) unquotable.push(variable);
          else lines.push(line);
        }
        if (unquotable.length) throw new Error(`no dotenv quoting keeps the value of ${unquotable.join(', ')} intact (it holds ', " and \`, or a carriage return with \\n): use --format json`);
        process.stdout.write(lines.map((l) => `${l}\n`).join(''));
        return EXIT.OK;
      }),
    );

  for (const command of secrets.commands) command.addHelpText('after', AUTH_HELP);

  program
    .command('run')
    .summary('run a command with the secrets under a prefix as environment variables')
    .description(
      'Start <command> with every secret under --prefix as an environment variable, written nowhere ' +
        'on disk. Names: the prefix is stripped, letters upper-cased, every character outside [A-Z0-9_] ' +
        'becomes _, and a leading digit gets a _ in front (app/prod/db-url → DB_URL). Two secrets that ' +
        'map to one name are refused, naming both. The variables override inherited ones; COFFER_API_KEY ' +
        'is not passed on. Signals (INT, TERM, HUP, QUIT, USR1, USR2) are forwarded to the command (INT and QUIT from a terminal reach it directly), and ' +
        "coffer exits with its exit status (128 + the signal's number when a signal ended it; 127 when " +
        'it cannot be found, 126 when it cannot be executed).',
    )
    .requiredOption('--prefix <prefix>', 'the secrets to pass, e.g. app/prod/')
    .option(
      '--allow-env <variable>',
      'let a secret set this variable although it makes programs load other code (NODE_OPTIONS, LD_PRELOAD, PATH, BASH_ENV...: refused otherwise); repeatable',
      (variable: string, previous: string[]) => [...previous, variable],
      [] as string[],
    )
    .argument('<command>', 'the program to run')
    .argument('[args...]', 'its arguments (put -- before the command so its options stay its own)')
    .passThroughOptions()
    .addHelpText('after', `\nExample: coffer run --prefix app/prod/ -- node server.js --port 8080\n${AUTH_HELP}`)
    .action(
      act(async (command: string, args: string[], options: { prefix: string; allowEnv: string[] }) => {
        const client = clientFromEnvironment();
        // Two secrets on one variable (NameCollisionError), or a secret setting a variable that
        // loads code (LoaderVariableError) without --allow-env, refuse the run before anything starts.
        const variables = await variablesOf(client, options.prefix, options.allowEnv);
        const env: NodeJS.ProcessEnv = { ...process.env };
        delete env.COFFER_API_KEY;
        for (const [variable, value] of variables) env[variable] = value;
        return runChild(command, args, env);
      }),
    );

  program.commandsGroup('');
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** Runs the command with stdio inherited, forwarding signals; resolves with the exit status coffer should end with. */
function runChild(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'inherit', env });
    const forward = (signal: NodeJS.Signals) => () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    // On a terminal, Ctrl-C and Ctrl-\ already reach the command (the terminal signals the whole
    // foreground process group): sending them again would make a graceful shutdown a forced one.
    // coffer still catches them so that it outlives the command and returns its status.
    const fromTerminal = (signal: NodeJS.Signals) => process.stdin.isTTY === true && (signal === 'SIGINT' || signal === 'SIGQUIT');
    const handlers = FORWARDED.map((signal) => [signal, fromTerminal(signal) ? () => {} : forward(signal)] as const);
    for (const [signal, handler] of handlers) process.on(signal, handler);
    const done = (status: number) => {
      for (const [signal, handler] of handlers) process.off(signal, handler);
      resolve(status);
    };
    child.once('error', (error: NodeJS.ErrnoException) => {
      process.stderr.write(`coffer run: cannot start ${command}: ${error.code ?? error.message}\n`);
      done(error.code === 'ENOENT' ? 127 : 126);
    });
    child.once('exit', (code, signal) => done(signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? EXIT.FAILED)));
  });
}
