/**
 * IP address forms the destination policy must see through: an IPv6 address that carries an IPv4 address inside
 * it reaches that IPv4 host (IPv4-mapped `::ffff:127.0.0.1` on a dual-stack socket; NAT64 `64:ff9b::7f00:1` through a
 * translator; 6to4 `2002:7f00:1::` through a relay), so a check on the IPv6 form alone would let `127.0.0.1` in by
 * another spelling. Inputs are addresses `net.isIP` accepts; names and malformed text are the caller's business.
 */
import { isIP } from 'node:net';

/** The eight 16-bit groups of an IPv6 address (a zone index, `%eth0`, is ignored). */
export function ipv6Groups(address: string): number[] {
  const zone = address.indexOf('%');
  let text = zone === -1 ? address : address.slice(0, zone);
  // A dotted IPv4 tail (`::ffff:1.2.3.4`) is the last two groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  let tailGroups: number[] = [];
  if (tail.includes('.')) {
    const octets = tail.split('.').map(Number);
    tailGroups = [((octets[0] ?? 0) << 8) | (octets[1] ?? 0), ((octets[2] ?? 0) << 8) | (octets[3] ?? 0)];
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const [head = '', rest] = text.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const front = parse(head);
  const back = rest === undefined ? [] : parse(rest);
  const groups = [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  if (tailGroups.length === 2) groups.splice(6, 2, tailGroups[0]!, tailGroups[1]!);
  return groups;
}

function ipv4FromGroups(high: number, low: number): string {
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

/**
 * The IPv4 address an IPv6 address leads to, when it embeds one that a packet would in effect be delivered to:
 * IPv4-mapped (::ffff:0:0/96, RFC 4291 §2.5.5.2), NAT64 (64:ff9b::/96, RFC 6052) and 6to4 (2002::/16, RFC 3056).
 * Undefined for every other address.
 */
export function embeddedIpv4(address: string): string | undefined {
  if (isIP(address) !== 6) return undefined;
  const g = ipv6Groups(address);
  const zeroUpTo = (n: number): boolean => g.slice(0, n).every((group) => group === 0);
  if (zeroUpTo(5) && g[5] === 0xffff) return ipv4FromGroups(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((group) => group === 0)) return ipv4FromGroups(g[6]!, g[7]!);
  if (g[0] === 0x2002) return ipv4FromGroups(g[1]!, g[2]!);
  return undefined;
}

/** `address` in the family the packet would really use: the embedded IPv4 address if there is one, else itself. */
export function effectiveAddress(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const version = isIP(address);
  if (version === 4) return { address, family: 'ipv4' };
  const inner = embeddedIpv4(address);
  return inner === undefined ? { address, family: 'ipv6' } : { address: inner, family: 'ipv4' };
}

/** An address as numbers to compare prefixes on: one 32-bit word for IPv4, eight 16-bit groups for IPv6. */
export interface NumericAddress {
  family: 'ipv4' | 'ipv6';
  /** IPv4: [the 32-bit value]; IPv6: the eight groups. */
  words: number[];
}

export function numericAddress(address: string): NumericAddress | undefined {
  const version = isIP(address);
  if (version === 4) {
    const [a = 0, b = 0, c = 0, d = 0] = address.split('.').map(Number);
    return { family: 'ipv4', words: [((a << 24) >>> 0) + (b << 16) + (c << 8) + d] };
  }
  if (version === 6) return { family: 'ipv6', words: ipv6Groups(address) };
  return undefined;
}

/** An IPv4 or IPv6 prefix (`10.0.0.0/8`, `fe80::/10`, or one address as /32 or /128). */
export class IpPrefix {
  readonly family: 'ipv4' | 'ipv6';
  readonly length: number;
  readonly #words: number[];

  constructor(address: string, length: number) {
    const numeric = numericAddress(address);
    if (numeric === undefined) throw new TypeError(`not an IP address: ${address}`);
    this.family = numeric.family;
    this.length = length;
    this.#words = numeric.words;
  }

  /** Whether `address` (already in its effective form, see effectiveAddress) lies inside. */
  contains(address: NumericAddress): boolean {
    if (address.family !== this.family) return false;
    const wordBits = this.family === 'ipv4' ? 32 : 16;
    let remaining = this.length;
    for (let i = 0; remaining > 0; i++) {
      const bits = Math.min(remaining, wordBits);
      const shift = wordBits - bits;
      // Division, not >>: IPv4 words are unsigned 32-bit values, and a JavaScript shift by 32 is a shift by 0.
      const mine = Math.floor((this.#words[i] ?? 0) / 2 ** shift);
      const theirs = Math.floor((address.words[i] ?? 0) / 2 ** shift);
      if (mine !== theirs) return false;
      remaining -= bits;
    }
    return true;
  }
}
