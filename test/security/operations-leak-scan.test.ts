import { Binary, type Document } from 'mongodb';
import { Secret } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, signUp } from '../support/auth.js';
import type { TestServer } from '../support/server.js';
import { challengeFor, codeAt, complete, DISABLE, ENROLL, CONFIRM, TestClock } from '../auth/totp-support.js';
import { expiringSecret, mustCreateWebhook, Receiver, startWebhookServer, waitFor } from '../webhooks/support.js';

/**
 * Attack (i11): the new operations features handle their own credentials: TOTP secrets, recovery
 * codes, login challenges, webhook signing secrets. None may be written in plaintext to a log
 * line (at trace level), an audit event, any database document (including binary fields) or a
 * webhook payload; nor may the value of the secret whose expiry the webhook announces. test/security/leak-scan.test.ts covers the older credentials.
 */
const clock = new TestClock();
let server: TestServer;
let receiver: Receiver;
const markers: { what: string; value: string }[] = [];

/** Every string a document holds, binary fields as base64, hex and latin1 too. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Binary || Buffer.isBuffer(value)) {
    const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer);
    out.push(bytes.toString('base64'), bytes.toString('hex'), bytes.toString('latin1'));
  } else if (Array.isArray(value)) for (const item of value) strings(item, out);
  else if (value && typeof value === 'object' && !(value instanceof Date)) for (const item of Object.values(value as Document)) strings(item, out);
  return out;
}

function addMarker(what: string, value: string) {
  markers.push({ what, value });
}

beforeAll(async () => {
  receiver = await new Receiver().start();
  server = await startWebhookServer({ LOG_LEVEL: 'trace', TRUST_PROXY: 'loopback', LOGIN_BACKOFF_MAX_SECONDS: '0' });
  // No test clock is passed to this server: TOTP codes use the real time.
});
afterAll(async () => {
  await server?.close();
  await receiver?.close();
});

describe('no operations credential in logs, audit events, documents or webhook payloads', () => {
  it('TOTP secret, recovery codes, challenges and webhook signing secrets appear nowhere but in the responses that hand them out', async () => {
    const headers = { 'x-forwarded-for': '198.51.100.200' };
    const user = await signUp(server, 'LeakOps');
    // TOTP: enrol, confirm, log in twice (code, then recovery code), disable with a recovery code.
    const { enrollTotp } = expectOk(await server.gql<{ enrollTotp: { secret: string } }>(ENROLL, {}, user.accessToken));
    const secret = enrollTotp.secret;
    addMarker('TOTP secret (base32)', secret);
    const raw = Buffer.from(Secret.fromBase32(secret).bytes);
    addMarker('TOTP secret (hex)', raw.toString('hex'));
    addMarker('TOTP secret (base64)', raw.toString('base64'));
    addMarker('TOTP secret (latin1)', raw.toString('latin1'));
    const { confirmTotp } = expectOk(await server.gql<{ confirmTotp: { recoveryCodes: string[] } }>(CONFIRM, { code: codeAt(secret, clock.now().getTime()), password: user.password }, user.accessToken));
    for (const code of confirmTotp.recoveryCodes) {
      addMarker('recovery code', code);
      addMarker('recovery code (compact)', code.replace(/-/g, '').toUpperCase());
    }
    const first = await challengeFor(server, user, headers);
    addMarker('login challenge', first);
    // The time step used by confirmTotp is spent (replay protection): finish with recovery codes.
    expectOk(await complete(server, first, confirmTotp.recoveryCodes[0]!, headers));
    const second = await challengeFor(server, user, headers);
    addMarker('login challenge', second);
    expectOk(await complete(server, second, confirmTotp.recoveryCodes[1]!.replace(/-/g, ''), headers));
    expectOk(await server.gql(DISABLE, { password: user.password, code: confirmTotp.recoveryCodes[2]! }, user.accessToken));

    // Webhooks: create, rotate, and let one delivery go out.
    const { webhook, signingSecret } = await mustCreateWebhook(server, user, { url: receiver.url, events: ['SECRET_EXPIRING'] });
    const rotated = expectOk(
      await server.gql<{ rotateWebhookSecret: { signingSecret: string } }>('mutation($id: ID!) { rotateWebhookSecret(id: $id) { signingSecret } }', { id: webhook.id }, user.accessToken),
    ).rotateWebhookSecret.signingSecret;
    for (const s of [signingSecret, rotated]) {
      addMarker('webhook signing secret', s);
      const key = Buffer.from(s.replace(/^whsec_/, ''), 'base64');
      addMarker('webhook signing key (base64)', key.toString('base64'));
      addMarker('webhook signing key (hex)', key.toString('hex'));
      addMarker('webhook signing key (latin1)', key.toString('latin1'));
    }
    const secretValue = `secret-value-${Date.now().toString(36)}-9f3k2`;
    addMarker('secret value', secretValue);
    await expiringSecret(server, user, 'leak/ops', secretValue);
    await waitFor('a delivery', async () => (receiver.received.length > 0 ? true : null));

    const collections: Record<string, Document[]> = {};
    for (const { name } of await server.db.listCollections().toArray()) collections[name] = await server.db.collection(name).find({}).toArray();
    const places: { where: string; texts: string[] }[] = [
      { where: 'server logs', texts: server.logs },
      { where: 'webhook payloads received', texts: receiver.received.map((r) => `${JSON.stringify(r.headers)}\n${r.body}`) },
      ...Object.entries(collections).map(([name, docs]) => ({ where: `collection ${name}`, texts: strings(docs) })),
    ];
    // The scan sees what it should: log lines, and the documents (the account's email is in users).
    expect(server.logs.length).toBeGreaterThan(0);
    expect(places.some((p) => p.where === 'collection users' && p.texts.some((t) => t.includes(user.email)))).toBe(true);
    const hits: string[] = [];
    for (const { what, value } of markers) {
      for (const { where, texts } of places) if (texts.some((t) => t.includes(value))) hits.push(`${what} in ${where}`);
    }
    expect(hits).toEqual([]);
  });
});
