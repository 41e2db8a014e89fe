/**
 * How `coffer run` and `secrets export --format dotenv` name variables after secrets: strip the
 * prefix, upper-case, every character outside [A-Z0-9_] becomes `_`, and a leading digit gets
 * a `_` in front. `app/prod/db-url` under `app/prod/` → `DB_URL`; `app/prod/2fa/key` → `_2FA_KEY`.
 */
export function envName(secretName: string, prefix: string): string {
  const rest = secretName.startsWith(prefix) ? secretName.slice(prefix.length) : secretName;
  const name = rest.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

export class NameCollisionError extends Error {
  override name = 'NameCollisionError';
}

/** Variable name → secret name for every secret; refuses two secrets on one variable, naming both. */
export function envNames(secretNames: readonly string[], prefix: string): Map<string, string> {
  const byVariable = new Map<string, string>();
  const problems: string[] = [];
  for (const secret of secretNames) {
    const variable = envName(secret, prefix);
    if (!variable) {
      problems.push(`secret ${secret} leaves no variable name under prefix "${prefix}"`);
      continue;
    }
    const other = byVariable.get(variable);
    if (other !== undefined) problems.push(`secrets ${other} and ${secret} both map to ${variable}`);
    else byVariable.set(variable, secret);
  }
  if (problems.length) throw new NameCollisionError(`${problems.join('; ')}: rename one, or narrow --prefix`);
  return byVariable;
}

/**
 * Variables that make a program load or run other code (the dynamic loader, shells, language
 * runtimes) or change which program a name starts: a secret may set one only when the person
 * running `coffer run` allows it by name, so whoever may write secrets cannot run code on every
 * machine that runs the application with them.
 */
const LOADER_VARIABLES = new Set([
  'PATH', 'BASH_ENV', 'ENV', 'SHELLOPTS', 'BASHOPTS', 'PS4', 'PROMPT_COMMAND', 'IFS', 'CDPATH',
  'LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'GCONV_PATH',
  'NODE_OPTIONS', 'NODE_PATH', 'NODE_EXTRA_CA_CERTS', 'NODE_TLS_REJECT_UNAUTHORIZED',
  'PYTHONPATH', 'PYTHONSTARTUP', 'PYTHONHOME', 'PERL5OPT', 'PERL5LIB', 'PERLLIB', 'RUBYOPT', 'RUBYLIB',
  'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'CLASSPATH',
  'GIT_SSH_COMMAND', 'GIT_EXEC_PATH', 'EDITOR', 'VISUAL', 'PAGER',
]);

export function isLoaderVariable(variable: string): boolean {
  return LOADER_VARIABLES.has(variable) || variable.startsWith('DYLD_') || variable.startsWith('BASH_FUNC_');
}

export class LoaderVariableError extends Error {
  override name = 'LoaderVariableError';
}

/** Refuses secrets that would set a loader variable (isLoaderVariable) not in `allowed`, naming each secret and variable. */
export function refuseLoaderVariables(names: ReadonlyMap<string, string>, allowed: readonly string[]): void {
  const refused = [...names].filter(([variable]) => isLoaderVariable(variable) && !allowed.includes(variable));
  if (!refused.length) return;
  throw new LoaderVariableError(
    `${refused.map(([variable, secret]) => `secret ${secret} would set ${variable}`).join('; ')}, which makes programs load other code: ` +
      `rename the secret, or allow it with ${refused.map(([variable]) => `--allow-env ${variable}`).join(' ')}`,
  );
}
