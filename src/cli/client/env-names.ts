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
