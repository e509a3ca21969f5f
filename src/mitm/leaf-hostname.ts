/**
 * Turns the name a client asked for (TLS SNI or the CONNECT host) into the one name a leaf certificate is issued
 * for: a lower-case DNS name or a canonical IP address. It is also the leaf cache's key, so `Example.COM`,
 * `example.com.` and `example.com` share one certificate, and `::1` and `0:0::1` share one too.
 */

import { isIP } from 'node:net';
import { LeafHostnameError } from './mitm-errors.js';

export interface LeafHostname {
  /** `dns`: the leaf carries a dNSName SAN; `ip`: an iPAddress SAN (clients never match IPs against dNSName). */
  readonly kind: 'dns' | 'ip';
  /** Lower-case DNS name without a trailing dot, or the canonical text form of the IP address. */
  readonly name: string;
}

// RFC 1035 §2.3.4 limits, plus `_`: real service names carry it (`_dmarc`), and TLS clients accept it in SANs.
const MAX_DNS_NAME_LENGTH = 253;
const DNS_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * Validates and normalises `requested`. Throws `LeafHostnameError` for anything else: the name comes from the
 * client, and a certificate for a wildcard or a malformed name would let one leaf stand for hosts nobody asked for.
 */
export function parseLeafHostname(requested: string): LeafHostname {
  let name = requested.trim().toLowerCase();
  if (name.startsWith('[') && name.endsWith(']')) name = name.slice(1, -1);

  const ipVersion = isIP(name);
  if (ipVersion === 4) return { kind: 'ip', name };
  if (ipVersion === 6) {
    if (name.includes('%')) throw new LeafHostnameError(requested, 'an IPv6 zone index cannot be in a certificate');
    // The WHATWG URL parser prints the RFC 5952 form, and turns an embedded IPv4 tail into hex groups.
    return { kind: 'ip', name: new URL(`http://[${name}]/`).hostname.slice(1, -1) };
  }

  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name.length === 0) throw new LeafHostnameError(requested, 'the name is empty');
  if (name.length > MAX_DNS_NAME_LENGTH) {
    throw new LeafHostnameError(requested, `the name is longer than ${MAX_DNS_NAME_LENGTH} characters`);
  }
  if (name.includes('*')) throw new LeafHostnameError(requested, 'wildcard names are never issued');
  for (const label of name.split('.')) {
    if (!DNS_LABEL.test(label)) throw new LeafHostnameError(requested, 'not a valid DNS name or IP address');
  }
  return { kind: 'dns', name };
}
