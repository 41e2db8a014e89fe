import ipaddr from 'ipaddr.js';

/**
 * The client a budget or a lockout counts against: an IPv4 address as itself (IPv4-mapped IPv6
 * judged as the IPv4 address inside), an IPv6 address as its /64. One IPv6 client usually holds a
 * whole /64 and can send every request from a new address in it, so counting exact IPv6
 * addresses would give it an endless supply of fresh budgets (README "Rate limits").
 */
export function clientBucket(ip: string | null | undefined): string {
  if (!ip || !ipaddr.isValid(ip)) return ip || 'unknown';
  const address = ipaddr.process(ip);
  if (address.kind() === 'ipv4') return address.toString();
  const parts = (address as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16));
  return `${parts.join(':')}::/64`;
}
