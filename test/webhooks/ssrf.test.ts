import type { LookupAddress } from 'node:dns';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { postWebhook } from '../../src/modules/webhooks/webhook-http.js';
import { refusedAddress, validateWebhookUrl } from '../../src/modules/webhooks/webhook-url.js';
import { expectCode, signUp, type Signed } from '../support/auth.js';
import { testEnv, type TestServer } from '../support/server.js';
import { createWebhook, deliveriesOf, expiringSecret, mustCreateWebhook, Receiver, startWebhookServer, waitFor } from './support.js';

/** SSRF: where a webhook may point, checked at registration and again at delivery (README "Webhooks"). */

const STRICT = { allowHttp: true, allowPrivateNetworks: false };

describe('address ranges', () => {
  it('refuses loopback, private, link-local (metadata), unique-local, CGNAT, multicast, unspecified, IPv4-mapped and embedding IPv6 forms', () => {
    const refused = [
      '127.0.0.1', '127.9.9.9', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.100.100.200', '0.0.0.0', '224.0.0.1', '255.255.255.255',
      '192.0.2.1', '::1', '::', 'fe80::1', 'fd00:ec2::254', 'fc00::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:169.254.169.254',
      '64:ff9b::7f00:1', '2002:7f00:1::1', '2001::1',
    ];
    for (const address of refused) expect(refusedAddress(address, STRICT), address).not.toBeNull();
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) expect(refusedAddress(address, STRICT), address).toBeNull();
  });

  it('with the operator switch on, private ranges pass but unspecified and multicast never do', () => {
    const open = { allowHttp: true, allowPrivateNetworks: true };
    for (const address of ['127.0.0.1', '10.0.0.1', '::1', '::ffff:127.0.0.1', '169.254.169.254']) expect(refusedAddress(address, open)).toBeNull();
    for (const address of ['0.0.0.0', '::', '224.0.0.1']) expect(refusedAddress(address, open)).not.toBeNull();
  });

  it('a host name is refused when any of its addresses is refused', async () => {
    const resolver = (addresses: string[]) => async (): Promise<LookupAddress[]> => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    await expect(validateWebhookUrl('https://hooks.example.com/x', STRICT, resolver(['93.184.215.14', '10.0.0.5']))).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(validateWebhookUrl('https://hooks.example.com/x', STRICT, resolver(['93.184.215.14']))).resolves.toBeInstanceOf(URL);
    await expect(validateWebhookUrl('https://nowhere.invalid/x', STRICT, async () => Promise.reject(new Error('ENOTFOUND')))).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });
});

describe('DNS rebinding: the connection goes to the address that was checked', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await new Receiver().start();
  });
  afterAll(() => receiver.close());

  it('a name that resolved to a public address at registration but to loopback at delivery is refused, and nothing is sent', async () => {
    const port = new URL(receiver.url).port;
    // The delivery-time answer: loopback. The socket only ever sees what the checking lookup returns.
    const rebound = async (): Promise<LookupAddress[]> => [{ address: '127.0.0.1', family: 4 }];
    const result = await postWebhook(`http://rebind.example.test:${port}/hook`, '{}', {}, { timeoutMs: 2000, policy: STRICT, resolve: rebound });
    expect(result).toMatchObject({ httpStatus: null, error: 'refused_address' });
    expect(receiver.received).toHaveLength(0);
    // The same name with private networks allowed connects to exactly that checked address.
    const allowed = await postWebhook(`http://rebind.example.test:${port}/hook`, '{}', {}, { timeoutMs: 2000, policy: { allowHttp: true, allowPrivateNetworks: true }, resolve: rebound });
    expect(allowed).toMatchObject({ httpStatus: 204, error: null });
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]!.headers.host).toBe(`rebind.example.test:${port}`);
  });

  it('an IP literal is checked before connecting', async () => {
    const result = await postWebhook(`${receiver.url.replace('127.0.0.1', '[::ffff:127.0.0.1]')}`, '{}', {}, { timeoutMs: 2000, policy: STRICT });
    expect(result.error).toBe('refused_address');
  });
});

describe('over the API', () => {
  let strict: TestServer;
  let owner: Signed;
  beforeAll(async () => {
    strict = await startWebhookServer({ WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false' });
    owner = await signUp(strict, 'Ssrf');
  });
  afterAll(() => strict?.close());

  it('refuses internal destinations at registration (BAD_USER_INPUT on url), writing nothing', async () => {
    const urls = [
      'http://127.0.0.1:8080/x',
      'http://10.1.2.3/x',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]:8080/x',
      'http://[::ffff:127.0.0.1]/x',
      'http://[::ffff:7f00:1]/x',
      'http://localhost:8080/x',
      'http://2130706433/x', // 127.0.0.1 as one number
      'http://0x7f.1/x',
      'http://[fd00:ec2::254]/x',
      'http://0.0.0.0/x',
    ];
    for (const url of urls) {
      const res = await createWebhook(strict, owner, { url, events: ['SECRET_EXPIRED'] });
      expectCode(res, 'BAD_USER_INPUT');
      expect(res.errors![0]!.message, url).toMatch(/^url: /);
    }
    expect(await strict.db.collection('webhooks').countDocuments({})).toBe(0);
  });

  it('refuses http when the operator has not allowed it, and production refuses to allow it', async () => {
    const httpsOnly = await startWebhookServer({ WEBHOOK_ALLOW_HTTP: 'false' });
    try {
      const tenant = await signUp(httpsOnly, 'HttpsOnly');
      const res = await createWebhook(httpsOnly, tenant, { url: 'http://127.0.0.1:9/x', events: ['SECRET_EXPIRED'] });
      expectCode(res, 'BAD_USER_INPUT');
      expect(res.errors![0]!.message).toBe('url: must be an https URL');
    } finally {
      await httpsOnly.close();
    }
    const env = { ...testEnv(), NODE_ENV: 'production', MONGODB_URI: 'mongodb://db.example:27017', WEBHOOK_ALLOW_HTTP: 'true' };
    let error: unknown;
    try {
      loadConfig(env, { warn: () => {} });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toContain('WEBHOOK_ALLOW_HTTP: not allowed in production (webhooks must use https there)');
  });

  it('checks again at delivery: an endpoint registered while private networks were allowed gets nothing once they are not', async () => {
    const receiver = await new Receiver().start();
    const dbName = `w_${randomUUID().slice(0, 8)}`;
    const { VAULT_MASTER_KEYS, VAULT_ACTIVE_MASTER_KEY, JWT_PRIVATE_KEY } = testEnv();
    const keys = { VAULT_MASTER_KEYS: VAULT_MASTER_KEYS!, VAULT_ACTIVE_MASTER_KEY: VAULT_ACTIVE_MASTER_KEY!, JWT_PRIVATE_KEY: JWT_PRIVATE_KEY! };
    // Instance A allows loopback and registers the receiver; its delivery job runs only at start.
    const lenient = await startWebhookServer({ ...keys, WEBHOOK_DELIVERY_INTERVAL_MS: '600000' }, dbName);
    // Instance B, same keys and database, forbids private networks and delivers.
    const guarded = await startWebhookServer({ ...keys, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false' }, dbName);
    try {
      const tenant = await signUp(lenient, 'Rebound');
      const { webhook } = await mustCreateWebhook(lenient, tenant, { url: receiver.url, events: ['SECRET_EXPIRING'] });
      await expiringSecret(lenient, tenant, 'ssrf/one', 'v');
      const [row] = await waitFor('a refused attempt', async () => {
        const rows = await deliveriesOf(guarded, tenant, webhook.id);
        return rows[0]?.lastError ? rows : null;
      });
      expect(row).toMatchObject({ lastError: 'refused_address', lastHttpStatus: null });
      expect(receiver.received).toHaveLength(0);
    } finally {
      await guarded.close();
      await lenient.db.dropDatabase().catch(() => {});
      await lenient.close();
      await receiver.close();
    }
  });
});
