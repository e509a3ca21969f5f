// Client allow-list entries: parsing IPv4/IPv6 CIDRs and bare addresses, and building the net.BlockList that the
// proxy's admission guard checks client addresses against.

import net from 'node:net';
import { ConfigError } from '../errors.js';

export type IpFamily = 'ipv4' | 'ipv6';

export interface ParsedCidr {
  /** The entry exactly as written in the configuration. */
  entry: string;
  /** The address part. Host bits are kept as written: BlockList masks them, as most tools do. */
  address: string;
  /** 32 (IPv4) or 128 (IPv6) for a bare address. */
  prefixLength: number;
  family: IpFamily;
}

export type CidrParseResult = { ok: true; cidr: ParsedCidr } | { ok: false; problem: string };

const MAX_PREFIX_LENGTH: Record<IpFamily, number> = { ipv4: 32, ipv6: 128 };

/** Parses one allow-list entry, or says in one phrase (quoting the entry) why it is not an address or CIDR. */
export function parseCidr(entry: string): CidrParseResult {
  const notACidr = `"${entry}" is not an IPv4/IPv6 address or CIDR`;
  const parts = entry.split('/');
  const [address, prefixText] = parts;
  if (parts.length > 2 || address === undefined) return { ok: false, problem: notACidr };
  // A zone ID names an interface of this host; it cannot describe a set of remote clients.
  if (address.includes('%')) return { ok: false, problem: `${notACidr}: zone IDs (%...) are not supported` };
  const version = net.isIP(address);
  if (version === 0) return { ok: false, problem: notACidr };
  const family: IpFamily = version === 4 ? 'ipv4' : 'ipv6';
  const maxPrefix = MAX_PREFIX_LENGTH[family];
  if (prefixText === undefined) return { ok: true, cidr: { entry, address, prefixLength: maxPrefix, family } };
  const prefixLength = /^[0-9]{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  if (!(prefixLength <= maxPrefix)) {
    const familyName = family === 'ipv4' ? 'IPv4' : 'IPv6';
    return { ok: false, problem: `${notACidr}: the prefix length must be 0 to ${maxPrefix} for ${familyName}` };
  }
  return { ok: true, cidr: { entry, address, prefixLength, family } };
}

/** Where a list came from, so an error names it; the default suits an already-resolved ProxyConfig. */
export interface CidrListOrigin {
  source: string;
  key: string;
}

/** Parses every entry; the first bad one throws a ConfigError naming `origin.key[index]`. */
export function parseCidrList(
  entries: readonly string[],
  origin: CidrListOrigin = { source: 'configuration', key: 'allowed_client_cidrs' },
): ParsedCidr[] {
  return entries.map((entry, index) => {
    const result = parseCidr(entry);
    if (!result.ok) throw new ConfigError(origin.source, `${origin.key}[${index}]`, result.problem);
    return result.cidr;
  });
}

/**
 * The allow-list as a BlockList. Checking a client needs care (verified on Node 20.20, see cidr.test.ts):
 * - always pass the family: `check(address)` without it treats the address as IPv4 and returns false for IPv6;
 * - an IPv4-mapped IPv6 address (`::ffff:10.1.2.3`, what a dual-stack `::` listener reports for IPv4 clients)
 *   matches IPv4 subnets when checked as 'ipv6', so no unmapping is needed.
 */
export function buildBlockList(entries: readonly string[]): net.BlockList {
  const blockList = new net.BlockList();
  for (const cidr of parseCidrList(entries)) blockList.addSubnet(cidr.address, cidr.prefixLength, cidr.family);
  return blockList;
}
