import { isApiKeyScope, type ApiKeyScope } from '../../identity/scopes.js';

/**
 * Scopes as API keys store them (the vocabulary is identity/scopes.ts). Keys stored before
 * scopes existed (no `scopes` field) keep the secret access they always had: LEGACY_SCOPES.
 */
export const LEGACY_SCOPES: readonly ApiKeyScope[] = ['SECRETS_READ', 'SECRETS_WRITE'];

/** The scopes a stored key has: its own, or LEGACY_SCOPES when it predates scopes. */
export function scopesOf(stored: readonly string[] | null | undefined): readonly ApiKeyScope[] {
  return stored ? stored.filter(isApiKeyScope) : LEGACY_SCOPES;
}
