/**
 * One `destinations.allow` entry: a host name (`openway.guance.com`), a wildcard (`*.guance.com`: any name below
 * guance.com, not guance.com itself, as in `mitm.intercept_hosts`), an IP address or a CIDR, each optionally with a
 * port or port range after a colon (`10.1.2.0/24:9528`, `*.guance.com:443`, `[fd00::/8]:8000-8999`). IPv6 takes
 * brackets when a port follows, and may go without them otherwise (`fd00::/8`).
 */
import { isIP } from 'node:net';
import { parseCidr } from '../config/cidr.js';
import { IpPrefix, type NumericAddress } from './ip-address.js';
import { parsePortRange, type PortRange } from './port-ranges.js';

export interface DestinationEntry {
  /** The entry as written, for messages. */
  readonly text: string;
  /** A name pattern: `exact` or `suffix` (with its leading dot). */
  readonly name?: { readonly kind: 'exact' | 'suffix'; readonly value: string };
  /** An IP address or CIDR. */
  readonly prefix?: IpPrefix;
  /** Undefined: any port the port policy allows. */
  readonly ports?: PortRange;
}

export type DestinationEntryParseResult = { ok: true; entry: DestinationEntry } | { ok: false; problem: string };

// A host name, as the request-target parser accepts them (RFC 3986 reg-name, conservatively), after lower-casing.
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;
const BRACKETED = /^\[([^\]]+)\](\/\d{1,3})?(?::([^:]+))?$/;

export function parseDestinationEntry(written: string): DestinationEntryParseResult {
  const text = written.trim();
  const notAnEntry = `"${written}" is not a destination (a host name, *.suffix, IP address or CIDR, optionally followed by :PORT or :FROM-TO)`;
  let hostPart: string;
  let portPart: string | undefined;
  const bracketed = BRACKETED.exec(text);
  if (bracketed !== null) {
    hostPart = bracketed[1]! + (bracketed[2] ?? '');
    portPart = bracketed[3];
    if (isIP(hostPart.split('/')[0]!) !== 6) return { ok: false, problem: `${notAnEntry}: brackets are for IPv6 addresses` };
  } else if (isIP(text.split('/')[0]!) === 6) {
    // Bare IPv6 (or IPv6 CIDR): its colons are not a port separator.
    hostPart = text;
  } else {
    const colon = text.lastIndexOf(':');
    hostPart = colon === -1 ? text : text.slice(0, colon);
    portPart = colon === -1 ? undefined : text.slice(colon + 1);
  }
  let ports: PortRange | undefined;
  if (portPart !== undefined) {
    const parsed = parsePortRange(portPart);
    if (!parsed.ok) return { ok: false, problem: `${notAnEntry}: ${parsed.problem}` };
    ports = parsed.range;
  }
  const withPorts = <T extends object>(entry: T): T & { ports?: PortRange } => (ports === undefined ? entry : { ...entry, ports });

  if (isIP(hostPart.split('/')[0]!) !== 0) {
    const cidr = parseCidr(hostPart);
    if (!cidr.ok) return { ok: false, problem: cidr.problem };
    const { address, prefixLength } = cidr.cidr;
    return { ok: true, entry: withPorts({ text, prefix: new IpPrefix(address, prefixLength) }) };
  }
  const name = normalisedHostName(hostPart);
  if (name.startsWith('*.')) {
    const suffix = name.slice(1);
    if (!HOST_NAME.test(suffix.slice(1))) return { ok: false, problem: notAnEntry };
    return { ok: true, entry: withPorts({ text, name: { kind: 'suffix' as const, value: suffix } }) };
  }
  if (!HOST_NAME.test(name)) return { ok: false, problem: notAnEntry };
  // `127.1`, `2130706433`, `0x7f000001`: resolvers read these as IPv4 addresses, so as names they would match
  // nothing a client sends (the request-target parser turns them into dotted quads first).
  const asIp = ipv4Shorthand(name);
  if (asIp !== undefined) return { ok: false, problem: `${notAnEntry}: write the address as ${asIp}` };
  return { ok: true, entry: withPorts({ text, name: { kind: 'exact' as const, value: name } }) };
}

/** The dotted quad a WHATWG URL parser (and inet_aton) reads `name` as, if it reads it as an IPv4 address. */
function ipv4Shorthand(name: string): string | undefined {
  try {
    const host = new URL(`http://${name}/`).hostname;
    return isIP(host) === 4 ? host : undefined;
  } catch {
    return undefined;
  }
}

/** Names compare case-insensitively and without the root's trailing dot (`LocalHost.` is `localhost`). */
export function normalisedHostName(host: string): string {
  const lower = host.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Whether the entry's host part matches: a name pattern against the requested name, an IP prefix against the address. */
export function entryMatchesHost(entry: DestinationEntry, name: string | undefined, address: NumericAddress | undefined): boolean {
  if (entry.prefix !== undefined) return address !== undefined && entry.prefix.contains(address);
  if (entry.name === undefined || name === undefined) return false;
  return entry.name.kind === 'exact' ? name === entry.name.value : name.endsWith(entry.name.value);
}

export function entryMatchesPort(entry: DestinationEntry, port: number): boolean {
  return entry.ports === undefined || (port >= entry.ports.from && port <= entry.ports.to);
}
