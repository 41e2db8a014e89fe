import { expect } from 'vitest';
import { expectOk, type Signed } from './auth.js';
import type { TestServer } from './server.js';

export const SECRET_FIELDS = 'id name version revision description tags metadata status maxVersions expiresAt deletedAt purgeAfter createdBy updatedBy versions { version destroyed }';

export interface SecretShape {
  id: string;
  name: string;
  version: number;
  revision: number;
  description: string;
  tags: string[];
  metadata: Record<string, unknown>;
  status: string;
  maxVersions: number;
  expiresAt: string | null;
  deletedAt: string | null;
  purgeAfter: string | null;
  versions: { version: number; destroyed: boolean }[];
  value?: string | null;
}

export async function createSecret(server: TestServer, who: Signed | string, input: Record<string, unknown>) {
  const token = typeof who === 'string' ? who : who.accessToken;
  return server.gql<{ createSecret: SecretShape }>(`mutation($input: CreateSecretInput!) { createSecret(input: $input) { ${SECRET_FIELDS} } }`, { input }, token);
}

export async function mustCreate(server: TestServer, who: Signed | string, name: string, value: string, extra: Record<string, unknown> = {}) {
  return expectOk(await createSecret(server, who, { name, value, ...extra })).createSecret;
}

export async function updateSecret(server: TestServer, who: Signed | string, input: Record<string, unknown>) {
  const token = typeof who === 'string' ? who : who.accessToken;
  return server.gql<{ updateSecret: SecretShape }>(`mutation($input: UpdateSecretInput!) { updateSecret(input: $input) { ${SECRET_FIELDS} } }`, { input }, token);
}

export async function reveal(server: TestServer, who: Signed | string, name: string, version?: number) {
  const token = typeof who === 'string' ? who : who.accessToken;
  return server.gql<{ secret: { value: string | null } | null }>(
    'query($name: String!, $v: Int) { secret(name: $name) { value(version: $v) } }',
    { name, v: version ?? null },
    token,
  );
}

export async function auditActions(server: TestServer, tenantId: string): Promise<string[]> {
  const events = await server.db.collection('audit_events').find({ tenantId }).sort({ seq: 1 }).toArray();
  return events.map((e) => String(e.action));
}

/** Waits until the tenant's audit chain stops growing (appends are awaited, but be tolerant). */
export function expectNoPlaintext(haystack: string, values: string[], where: string): void {
  for (const value of values) expect(haystack.includes(value), `${where} contains a plaintext value`).toBe(false);
}
