/**
 * The address ranges a proxy reachable by others must not dial unless told to (`destinations.block_special_ranges`,
 * default on): through them a client reaches what sits behind the proxy's own host rather than the internet it is
 * meant to reach. Each range has a category, which is what a refusal names.
 *
 * From IANA's IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and updates), keeping the private ranges
 * (10/8, 172.16/12, 192.168/16, 100.64/10 and fc00::/7) allowed: an on-premises Dataway lives there. The cloud
 * metadata services are listed by address and named as such (AWS, GCP, Azure, Oracle: 169.254.169.254; AWS over
 * IPv6: fd00:ec2::254; Alibaba: 100.100.100.200), including the two that sit inside otherwise allowed ranges.
 *
 * IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4; see ip-address.ts) are judged by that IPv4 address.
 */
import { effectiveAddress, IpPrefix, numericAddress } from './ip-address.js';

export type SpecialRangeCategory = 'loopback' | 'unspecified' | 'link_local' | 'metadata' | 'multicast' | 'broadcast' | 'reserved' | 'own_address';

export interface SpecialRange {
  readonly category: SpecialRangeCategory;
  /** The range as written here (`127.0.0.0/8`). */
  readonly cidr: string;
  readonly prefix: IpPrefix;
}

/** Most specific first: the first range that contains an address is the one a refusal names. */
const RANGES: ReadonlyArray<readonly [string, SpecialRangeCategory]> = [
  // IPv4
  ['169.254.169.254/32', 'metadata'],
  ['100.100.100.200/32', 'metadata'],
  ['255.255.255.255/32', 'broadcast'],
  ['0.0.0.0/8', 'unspecified'], // "this network": connecting to 0.0.0.0 reaches the local host on Linux
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link_local'],
  ['192.0.0.0/24', 'reserved'], // IETF protocol assignments
  ['192.0.2.0/24', 'reserved'], // documentation (TEST-NET-1)
  ['192.88.99.0/24', 'reserved'], // 6to4 relay anycast, deprecated
  ['198.18.0.0/15', 'reserved'], // benchmarking
  ['198.51.100.0/24', 'reserved'], // documentation (TEST-NET-2)
  ['203.0.113.0/24', 'reserved'], // documentation (TEST-NET-3)
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'], // future use
  // IPv6
  ['fd00:ec2::254/128', 'metadata'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['::/8', 'reserved'], // IPv4-compatible (::a.b.c.d), IPv4-translated, and the rest IETF-reserved
  ['64:ff9b:1::/48', 'reserved'], // local-use NAT64 (RFC 8215): its IPv4 address is not at a fixed place
  ['100::/64', 'reserved'], // discard-only
  ['2001::/23', 'reserved'], // IETF protocol assignments (Teredo, benchmarking, ORCHID...)
  ['2001:db8::/32', 'reserved'], // documentation
  ['3fff::/20', 'reserved'], // documentation (RFC 9637)
  ['fe80::/10', 'link_local'],
  ['fec0::/10', 'reserved'], // site-local, deprecated (RFC 3879)
  ['ff00::/8', 'multicast'],
];

export const SPECIAL_RANGES: readonly SpecialRange[] = RANGES.map(([cidr, category]) => {
  const [address, length] = cidr.split('/') as [string, string];
  return { category, cidr, prefix: new IpPrefix(address, Number(length)) };
});

/** The special range `address` falls in (judging an embedded IPv4 address by itself), or undefined. */
export function specialRangeOf(address: string): SpecialRange | undefined {
  const numeric = numericAddress(effectiveAddress(address).address);
  if (numeric === undefined) return undefined;
  for (const range of SPECIAL_RANGES) if (range.prefix.contains(numeric)) return range;
  return undefined;
}

/** How a refusal names a category: "a loopback address", "a cloud metadata address"... */
export function describeCategory(category: SpecialRangeCategory): string {
  switch (category) {
    case 'loopback':
      return 'a loopback address';
    case 'unspecified':
      return 'an unspecified ("this host") address';
    case 'link_local':
      return 'a link-local address';
    case 'metadata':
      return 'a cloud metadata address';
    case 'multicast':
      return 'a multicast address';
    case 'broadcast':
      return 'the broadcast address';
    case 'reserved':
      return 'a reserved address';
    case 'own_address':
      return "an address of this host's own interfaces";
  }
}
