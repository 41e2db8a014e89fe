import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, signUp } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => server?.close());

describe('smoke', () => {
  it('signs up and answers me', async () => {
    const owner = await signUp(server);
    const me = await server.gql<{ me: { user: { email: string }; role: string } }>('{ me { user { email } role } }', {}, owner.accessToken);
    expect(expectOk(me).me).toEqual({ user: { email: owner.email }, role: 'OWNER' });
  });
});
