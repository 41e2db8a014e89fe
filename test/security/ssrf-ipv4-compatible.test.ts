import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refusedAddress, validateWebhookUrl } from '../../src/modules/webhooks/webhook-url.js';
import { expectCode, signUp, type Signed } from '../support/auth.js';
import type { TestServer } from '../support/server.js';
import { createWebhook, startWebhookServer } from '../webhooks/support.js';

/**
 * Attack (i11): IPv4-compatible IPv6 addresses (::a.b.c.d, RFC 4291 §2.5.5.1, deprecated) carry
 * an IPv4 address, e.g. ::7f00:1 is 127.0.0.1 and ::a9fe:a9fe is 169.254.169.254, but ipaddr.js
 * classes them as plain `unicast`, so they passed the SSRF rules as literals and as DNS answers.
 */
const STRICT = { allowHttp: true, allowPrivateNetworks: false };
const COMPATIBLE = ['::7f00:1', '::127.0.0.1', '::a9fe:a9fe', '::a00:1', '::808:808'];
/** Elsewhere outside 2000::/3, which ipaddr.js also calls unicast. */
const OUTSIDE_GLOBAL = ['::1:0:0:1', '4000::1', 'e000::1', '1::1'];

describe('IPv4-compatible IPv6 addresses are not webhook receivers', () => {
  it('refusedAddress refuses ::a.b.c.d forms whatever IPv4 address they carry', () => {
    for (const address of [...COMPATIBLE, ...OUTSIDE_GLOBAL]) expect(refusedAddress(address, STRICT), address).not.toBeNull();
    // Real global IPv6 and IPv4-mapped public addresses still pass.
    for (const address of ['2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8']) expect(refusedAddress(address, STRICT), address).toBeNull();
  });

  it('a host name answering ::7f00:1 (AAAA) is refused at registration', async () => {
    const resolver = async (): Promise<LookupAddress[]> => [{ address: '::7f00:1', family: 6 }];
    await expect(validateWebhookUrl('https://hooks.example.com/x', STRICT, resolver)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  describe('over the API', () => {
    let strict: TestServer;
    let owner: Signed;
    beforeAll(async () => {
      strict = await startWebhookServer({ WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false' });
      owner = await signUp(strict, 'SsrfCompat');
    });
    afterAll(() => strict?.close());

    it('createWebhook refuses http://[::7f00:1] and http://[::127.0.0.1] (BAD_USER_INPUT on url), writing nothing', async () => {
      for (const url of ['http://[::7f00:1]:8080/x', 'http://[::127.0.0.1]/x', 'http://[::a9fe:a9fe]/latest/meta-data/']) {
        const res = await createWebhook(strict, owner, { url, events: ['SECRET_EXPIRED'] });
        expectCode(res, 'BAD_USER_INPUT');
        expect(res.errors![0]!.message, url).toMatch(/^url: is not allowed/);
      }
      expect(await strict.db.collection('webhooks').countDocuments({})).toBe(0);
    });

    it('held: parser-differential and alternative spellings of internal hosts are refused too (BAD_USER_INPUT on url)', async () => {
      const urls = [
        'http://127.0.0.1#@hooks.example.com/x', // a fragment (what follows # is no host for the WHATWG parser)
        'http://127.0.0.1:80@hooks.example.com/x', // userinfo
        'http://hooks.example.com@127.0.0.1/x',
        'http://0177.0.0.1/x', // octal
        'http://127.0.0.1./x', // trailing dot
        'http://\u2460\u2461\u2466.0.0.1/x', // circled digits, NFKC-folded to 127.0.0.1
        'http://127\u30020\u30020\u30021/x', // ideographic full stops
        'http://[0:0:0:0:0:ffff:127.0.0.1]/x',
        'http://[::ffff:a9fe:a9fe]/latest/meta-data/',
        'http://[64:ff9b::a9fe:a9fe]/x', // NAT64 of the metadata address
        'http://localhost./x',
        'http://[::]/x',
      ];
      for (const url of urls) {
        const res = await createWebhook(strict, owner, { url, events: ['SECRET_EXPIRED'] });
        expectCode(res, 'BAD_USER_INPUT');
        expect(res.errors![0]!.message, url).toMatch(/^url: /);
      }
      expect(await strict.db.collection('webhooks').countDocuments({})).toBe(0);
    });
  });
});
