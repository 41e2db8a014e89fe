import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCode, expectOk, signUp, type Signed } from './support/auth.js';
import { startServer, type TestServer } from './support/server.js';

const run = promisify(execFile);
const README = fs.readFileSync(path.resolve(__dirname, '../README.md'), 'utf8');
const SCHEMA = fs.readFileSync(path.resolve(__dirname, '../schema/schema.graphql'), 'utf8');

/** The fenced block that follows `<!-- example: name -->` in the README. */
function example(name: string): string {
  const match = new RegExp(`<!-- example: ${name} -->\\n\`\`\`[a-z]*\\n([\\s\\S]*?)\\n\`\`\``).exec(README);
  if (!match) throw new Error(`README has no example named ${name}`);
  return match[1]!;
}

describe('README: using the vault (each example as written, in order)', () => {
  let server: TestServer;
  let owner: Signed;
  let apiKey: string;
  beforeAll(async () => {
    server = await startServer();
    owner = await signUp(server, 'Readme Co');
  });
  afterAll(async () => server?.close());

  it('creates a secret', async () => {
    const data = expectOk(await server.gql<{ createSecret: Record<string, unknown> }>(example('create-secret'), {}, owner.accessToken));
    expect(data.createSecret).toEqual({ name: 'prod/payments/stripe-key', version: 1, revision: 1, status: 'ACTIVE' });
  });

  it('reads its value', async () => {
    const data = expectOk(await server.gql<{ secret: Record<string, unknown> }>(example('read-value'), {}, owner.accessToken));
    expect(data.secret).toMatchObject({ version: 1, revision: 1, value: 'sk_live_example' });
  });

  it('updates with check-and-set, and the same update again is a CONFLICT', async () => {
    const data = expectOk(await server.gql<{ updateSecret: Record<string, unknown> }>(example('update-cas'), {}, owner.accessToken));
    expect(data.updateSecret).toEqual({ version: 2, revision: 2 });
    const again = await server.gql(example('update-cas'), {}, owner.accessToken);
    expectCode(again, 'CONFLICT');
    expect(again.errors![0]!.extensions.currentRevision).toBe(2);
  });

  it('lists by prefix', async () => {
    const data = expectOk(await server.gql<{ secrets: { totalCount: number; edges: { node: { name: string } }[] } }>(example('list-prefix'), {}, owner.accessToken));
    expect(data.secrets.totalCount).toBe(1);
    expect(data.secrets.edges.map((e) => e.node.name)).toEqual(['prod/payments/stripe-key']);
  });

  it('creates an API key and uses it with the curl command as written', async () => {
    const data = expectOk(await server.gql<{ createApiKey: { apiKey: string; key: { prefixes: string[] } } }>(example('create-api-key'), {}, owner.accessToken));
    apiKey = data.createApiKey.apiKey;
    expect(data.createApiKey.key.prefixes).toEqual(['prod/payments/']);
    const { stdout } = await run('bash', ['-c', example('curl-api-key')], {
      env: { ...process.env, COFFER_URL: server.url, COFFER_API_KEY: apiKey },
    });
    expect(stdout.trim()).toBe('sk_live_rotated');
  });

  it('maps every custom scalar of the schema in the codegen note', () => {
    const scalars = [...SCHEMA.matchAll(/^scalar (\w+)/gm)].map((m) => m[1]!);
    expect(scalars.length).toBeGreaterThan(0);
    const codegen = /```yaml\n# codegen.yml\n([\s\S]*?)```/.exec(README)![1]!;
    for (const scalar of scalars) expect(codegen, scalar).toMatch(new RegExp(`\\b${scalar}:`));
  });
});
