import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_FIELDS, expectCode, expectOk, signUp } from '../support/auth.js';
import { ME_QUERY } from '../support/http.js';
import { startServer, type TestServer } from '../support/server.js';
import { mustCreate, reveal } from '../support/vault.js';

// Default check cache (5 s): everything below must hold at once, not within the cache interval.
let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => server?.close());

const REFRESH = `mutation($t: String!) { refreshToken(refreshToken: $t) { ${AUTH_FIELDS} } }`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('refresh-token reuse drops cached session state on the detecting instance', () => {
  it('access tokens of a session revoked for reuse stop working at once, even when cached', async () => {
    const user = await signUp(server);
    const rotated = expectOk(await server.gql<{ refreshToken: { accessToken: string; refreshToken: string } }>(REFRESH, { t: user.refreshToken })).refreshToken;
    // Both access tokens are live and now cached for 5 s.
    expectOk(await server.gql(ME_QUERY, {}, user.accessToken));
    expectOk(await server.gql(ME_QUERY, {}, rotated.accessToken));
    // An attacker replays the rotated-away refresh token: reuse, the session is revoked.
    expectCode(await server.gql(REFRESH, { t: user.refreshToken }), 'UNAUTHENTICATED');
    expectCode(await server.gql(ME_QUERY, {}, user.accessToken), 'UNAUTHENTICATED');
    expectCode(await server.gql(ME_QUERY, {}, rotated.accessToken), 'UNAUTHENTICATED');
  });

  it('the loser of a concurrent refresh race revokes the session and its cached tokens die at once', async () => {
    const { createServices } = await import('../../src/services.js');
    const { createLogger } = await import('../../src/logger.js');
    type Internals = {
      deps: {
        sessionService: import('../../src/modules/auth/session.service.js').SessionService;
        sessions: import('../../src/modules/auth/session.repository.js').SessionRepository;
        users: import('../../src/modules/auth/user.repository.js').UserRepository;
        tenants: import('../../src/modules/tenants/tenant.repository.js').TenantRepository;
      };
    };
    const { services, guard, tokens } = await createServices({ config: server.config, db: server.db, logger: createLogger('silent') });
    const { sessionService, sessions, users, tenants } = (services.auth as unknown as Internals).deps;
    const user = await signUp(server);
    const claims = await tokens.verify(user.accessToken);
    expect(await guard.viewerFor(claims)).not.toBeNull(); // cached in this instance's guard
    const session = (await sessions.findById(user.refreshToken.split('.')[0]!))!;
    const [userDoc, tenant] = [(await users.findById(user.userId))!, await tenants.findById(user.tenantId)];
    // Two holders read the same session and both try to rotate it: one wins, the other is reuse.
    const outcomes = await Promise.allSettled([
      sessionService.rotate(session, userDoc, tenant, 'OWNER'),
      sessionService.rotate(session, userDoc, tenant, 'OWNER'),
    ]);
    expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(1);
    expect((await sessions.findById(session._id))?.revokedReason).toBe('refresh_token_reuse');
    expect(await guard.viewerFor(claims)).toBeNull();
  });
});

describe('API key expiry', () => {
  it('holds to the second even while the key\'s state is cached', async () => {
    const owner = await signUp(server, 'Expiring');
    await mustCreate(server, owner, 'app/token', 'expiring-value');
    const expiresAt = new Date(Date.now() + 2000);
    const created = expectOk(
      await server.gql<{ createApiKey: { apiKey: string } }>(
        'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey } }',
        { input: { name: 'short-lived', role: 'USER', prefixes: ['*'], expiresAt: expiresAt.toISOString() } },
        owner.accessToken,
      ),
    ).createApiKey;
    expectOk(await reveal(server, created.apiKey, 'app/token')); // cached for 5 s
    await sleep(expiresAt.getTime() - Date.now() + 50);
    expectCode(await reveal(server, created.apiKey, 'app/token'), 'UNAUTHENTICATED');
  });
});
