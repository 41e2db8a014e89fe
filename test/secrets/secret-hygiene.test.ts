import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_FIELDS, addMember, expectOk, login, signUp } from '../support/auth.js';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ LOG_LEVEL: 'trace' });
});
afterAll(async () => server?.close());

/**
 * Drives every credential-bearing flow, collecting each password and token the
 * server saw or issued, then scans the database, the logs and every error
 * response for them.
 */
describe('passwords and tokens never rest in plaintext', () => {
  it('appear in no collection, no log line and no error', async () => {
    const secrets: string[] = [];
    const errors: string[] = [];
    const owner = await signUp(server, 'Hygiene');
    secrets.push(owner.password, owner.accessToken, owner.refreshToken);

    const wrong = 'Wrong-horse-battery-77';
    secrets.push(wrong);
    errors.push(JSON.stringify(await login(server, owner.email, wrong)));

    const member = await addMember(server, owner, 'USER');
    secrets.push(member.accessToken, member.refreshToken);
    const invite = expectOk(
      await server.gql<{ inviteMember: { token: string } }>('mutation { inviteMember(input: { email: "pending@example.com", role: USER }) { token } }', {}, owner.accessToken),
    ).inviteMember.token;
    secrets.push(invite, invite.split('.')[1]!);

    const refreshed = expectOk(
      await server.gql<{ refreshToken: { accessToken: string; refreshToken: string } }>(
        `mutation($t: String!) { refreshToken(refreshToken: $t) { ${AUTH_FIELDS} } }`,
        { t: owner.refreshToken },
      ),
    ).refreshToken;
    secrets.push(refreshed.refreshToken, refreshed.accessToken);
    // Reuse (an attack) and a failed password change are logged; their tokens must not be.
    errors.push(JSON.stringify(await server.gql('mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }', { t: owner.refreshToken })));
    const newPassword = 'amber-Quartz-meadow-71';
    secrets.push(newPassword);
    errors.push(
      JSON.stringify(
        await server.gql('mutation($i: ChangePasswordInput!) { changePassword(input: $i) }', { i: { currentPassword: wrong, newPassword } }, member.accessToken),
      ),
    );
    errors.push(JSON.stringify(await server.gql('{ me { user { id } } }', {}, `${owner.accessToken}x`)));

    // Whole values, plus the secret half of `<public id>.<secret>` tokens and JWT signatures.
    const secretParts = secrets.flatMap((s) => (s.includes('.') ? [s, s.slice(s.lastIndexOf('.') + 1)] : [s]));
    const dump: string[] = [];
    for (const { name } of await server.db.listCollections().toArray()) {
      dump.push(JSON.stringify(await server.db.collection(name).find({}).toArray()));
    }
    const haystacks = { database: dump.join('\n'), logs: server.logs.join(''), errors: errors.join('\n') };
    expect(server.logs.length).toBeGreaterThan(10);
    for (const [where, text] of Object.entries(haystacks)) {
      for (const secret of secretParts) expect(text.includes(secret), `${where} contains a secret`).toBe(false);
    }
  });
});
