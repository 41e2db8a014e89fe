import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { badInput } from '../../errors.js';

/**
 * Where a webhook may point (SSRF rules, README "Webhooks"): https (http only outside production
 * when the operator allows it), no credentials, at most MAX_URL_LENGTH characters, and every
 * address its host resolves to must be a public unicast address unless the operator allows
 * private networks. Checked at registration and again at each delivery, where the connection
 * goes to the very address that was checked (`safeLookup` below), so a DNS answer that changes
 * between the check and the connection (DNS rebinding) cannot steer a delivery inside.
 */
export interface WebhookUrlPolicy {
  /** WEBHOOK_ALLOW_HTTP (never in production). */
  allowHttp: boolean;
  /** WEBHOOK_ALLOW_PRIVATE_NETWORKS: loopback, private, link-local, unique-local, CGNAT... allowed. */
  allowPrivateNetworks: boolean;
}

export const MAX_URL_LENGTH = 2048;

/** Ranges (ipaddr.js names) that are never a webhook receiver, whatever the operator allows. */
const NEVER = new Set(['unspecified', 'broadcast', 'multicast']);

/**
 * Why `address` may not receive webhooks, or null when it may. IPv4-mapped IPv6
 * (::ffff:127.0.0.1) is judged as the IPv4 address it carries; only global unicast
 * passes without the operator switch (so loopback, private, link-local 169.254.0.0/16 with
 * the cloud metadata address, unique-local fc00::/7, carrier-grade NAT, reserved, 6to4,
 * Teredo and NAT64 are refused: the last three can embed an inner IPv4 address).
 */
export function refusedAddress(address: string, policy: Pick<WebhookUrlPolicy, 'allowPrivateNetworks'>): string | null {
  if (!ipaddr.isValid(address)) return 'not an IP address';
  const parsed = ipaddr.process(address);
  // ipaddr.js calls every IPv6 address it has no name for `unicast`, among them IPv4-compatible
  // ::a.b.c.d (deprecated by RFC 4291; ::7f00:1 carries 127.0.0.1) and the rest of ::/8. Only
  // 2000::/3 is global unicast: anything else it calls unicast is reserved.
  const outsideGlobal = parsed.kind() === 'ipv6' && ((parsed as ipaddr.IPv6).parts[0]! & 0xe000) !== 0x2000;
  const range = parsed.range() === 'unicast' && outsideGlobal ? 'reserved' : parsed.range();
  if (NEVER.has(range)) return `${range} address`;
  if (range === 'unicast') return null;
  return policy.allowPrivateNetworks ? null : `${range} address`;
}

/** The URL parsed and checked for form (not yet for where it resolves): BAD_USER_INPUT on `field` otherwise. */
export function parseWebhookUrl(raw: string, policy: WebhookUrlPolicy, field = 'url'): URL {
  if (raw.length > MAX_URL_LENGTH) throw badInput(field, `must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw badInput(field, 'is not a valid absolute URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) {
    throw badInput(field, policy.allowHttp ? 'must be an http or https URL' : 'must be an https URL');
  }
  if (url.username || url.password) throw badInput(field, 'must not contain credentials (user:password@)');
  if (!url.hostname) throw badInput(field, 'must name a host');
  if (url.hash) throw badInput(field, 'must not have a fragment (#...)');
  return url;
}

/** The host as the resolver and the address checks take it (IPv6 literals without brackets). */
export function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/** What resolves a host name: every address (tests and the delivery agent use the system resolver). */
export type Resolver = (host: string) => Promise<readonly LookupAddress[]>;

export const systemResolver: Resolver = (host) =>
  new Promise((resolve, reject) => {
    dnsLookup(host, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });

/** A refusal of a URL's destination, with a code for the delivery log. */
export class RefusedDestination extends Error {
  override name = 'RefusedDestination';
  constructor(readonly code: 'refused_address' | 'dns_failed', message: string) {
    super(message);
  }
}

/**
 * The addresses `host` resolves to, all of them allowed, or a RefusedDestination: one refused
 * address refuses the host (a name that also points inside is not a public receiver).
 */
export async function checkedAddresses(host: string, policy: WebhookUrlPolicy, resolve: Resolver = systemResolver): Promise<LookupAddress[]> {
  if (isIP(host)) {
    const why = refusedAddress(host, policy);
    if (why) throw new RefusedDestination('refused_address', `the address is a ${why}`);
    return [{ address: host, family: isIP(host) }];
  }
  let addresses: readonly LookupAddress[];
  try {
    addresses = await resolve(host);
  } catch {
    throw new RefusedDestination('dns_failed', 'the host name does not resolve');
  }
  if (addresses.length === 0) throw new RefusedDestination('dns_failed', 'the host name does not resolve');
  for (const { address } of addresses) {
    const why = refusedAddress(address, policy);
    if (why) throw new RefusedDestination('refused_address', `the host resolves to a ${why}`);
  }
  return [...addresses];
}

/** Registration: the URL's form, then where it resolves (BAD_USER_INPUT naming `field`). */
export async function validateWebhookUrl(raw: string, policy: WebhookUrlPolicy, resolve: Resolver = systemResolver, field = 'url'): Promise<URL> {
  const url = parseWebhookUrl(raw, policy, field);
  try {
    await checkedAddresses(hostOf(url), policy, resolve);
  } catch (error) {
    if (error instanceof RefusedDestination) throw badInput(field, `is not allowed: ${error.message}`);
    throw error;
  }
  return url;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.request: resolves, checks every address, and hands the socket only
 * checked addresses, so the connection goes where the check looked (no second resolution).
 */
export function safeLookup(policy: WebhookUrlPolicy, resolve: Resolver = systemResolver) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    checkedAddresses(hostname, policy, resolve).then(
      (addresses) => {
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      // The RefusedDestination keeps its code (refused_address, dns_failed) for the delivery log.
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error)), ''),
    );
  };
}
