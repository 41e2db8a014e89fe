/**
 * What a machine API key may reach, besides its role: the vocabulary the Caller carries
 * (`Caller.scopes`). The apikeys module stores and defaults them (apikeys/api-key-scopes.ts);
 * the permission rules (graphql/permissions.ts) check them.
 */
export const API_KEY_SCOPES = ['SECRETS_READ', 'SECRETS_WRITE', 'SUBJECTS_READ', 'SUBJECTS_WRITE', 'CONTACT_CHECK'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

export function isApiKeyScope(value: unknown): value is ApiKeyScope {
  return typeof value === 'string' && (API_KEY_SCOPES as readonly string[]).includes(value);
}
