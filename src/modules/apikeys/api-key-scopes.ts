/**
 * What a machine API key may reach, besides its role. Keys stored before scopes existed
 * (no `scopes` field) keep the secret access they always had: LEGACY_SCOPES.
 */
export const API_KEY_SCOPES = ['SECRETS_READ', 'SECRETS_WRITE', 'SUBJECTS_READ', 'SUBJECTS_WRITE'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

export const LEGACY_SCOPES: readonly ApiKeyScope[] = ['SECRETS_READ', 'SECRETS_WRITE'];

export function isApiKeyScope(value: unknown): value is ApiKeyScope {
  return typeof value === 'string' && (API_KEY_SCOPES as readonly string[]).includes(value);
}

/** The scopes a stored key has: its own, or LEGACY_SCOPES when it predates scopes. */
export function scopesOf(stored: readonly string[] | null | undefined): readonly ApiKeyScope[] {
  return stored ? stored.filter(isApiKeyScope) : LEGACY_SCOPES;
}
