/**
 * The destination policy: which addresses the proxy may dial, for forwarding, CONNECT and MITM alike.
 *
 * - `destinations.allow` (empty: any destination not blocked below): an entry must match the destination, by the
 *   name the client asked for (exact or `*.suffix`) or by the address dialled (IP or CIDR), and by port when the
 *   entry names one.
 * - `destinations.block_special_ranges` (default true): loopback, unspecified, link-local, cloud metadata,
 *   multicast, broadcast and reserved addresses (special-ranges.ts) are refused unless an entry names them
 *   explicitly: an exact host name, or an IP/CIDR entry at least as specific as the special range (`127.0.0.1`
 *   or `127.0.0.0/8` name loopback; `0.0.0.0/0` and `*.example.com` do not, so a wildcard whose DNS an attacker
 *   controls cannot point the proxy at its own host). The host's own interface addresses (its eth0 address, say)
 *   are refused the same way: a service listening on 0.0.0.0 answers there as it does on loopback. Only an exact
 *   host name or the address itself (a /32 or /128 entry) names one.
 *
 * checkAddress runs in the upstream dialer on every address a name resolves to, and the dialer connects only to an
 * address that passed: resolve, check, connect to that address, so DNS rebinding has no window between the check
 * and the connect. Every spelling of an address (`127.1`, `2130706433`, `0x7f000001`, `[::ffff:127.0.0.1]`,
 * `localhost`) ends up as the address the resolver returns, which is what is judged. checkName refuses earlier,
 * before any DNS query, a name no entry could allow (so an attacker cannot use us to send DNS queries either).
 */
import { isIP } from 'node:net';
import { DestinationDeniedError } from '../errors.js';
import { entryMatchesHost, entryMatchesPort, normalisedHostName, parseDestinationEntry, type DestinationEntry } from './destination-entry.js';
import { effectiveAddress, IpPrefix, numericAddress } from './ip-address.js';
import { describeCategory, specialRangeOf, type SpecialRange } from './special-ranges.js';

export interface DestinationPolicyOptions {
  /** `destinations.allow` entries, already validated. */
  allow: readonly string[];
  /** `destinations.block_special_ranges`. */
  blockSpecialRanges: boolean;
  /** Whether an address is one of this host's own (SelfLoopGuard's list); refused under blockSpecialRanges. */
  isOwnAddress?: ((address: string) => boolean) | undefined;
}

/** What is being dialled: the host as the client named it (a name or an IP address) and the port. */
export interface DestinationTarget {
  readonly host: string;
  readonly port: number;
  /** `host:port` (IPv6 in brackets), as refusals name it. */
  readonly authority: string;
}

export class DestinationPolicy {
  readonly #entries: readonly DestinationEntry[];
  readonly #blockSpecial: boolean;
  /** Whether some entry matches by address: then any name may resolve into it, and only the dialer can tell. */
  readonly #hasAddressEntries: boolean;
  readonly #isOwnAddress: ((address: string) => boolean) | undefined;

  constructor(options: DestinationPolicyOptions) {
    this.#isOwnAddress = options.isOwnAddress;
    this.#entries = options.allow.map((text) => {
      const parsed = parseDestinationEntry(text);
      if (!parsed.ok) throw new TypeError(parsed.problem);
      return parsed.entry;
    });
    this.#blockSpecial = options.blockSpecialRanges;
    this.#hasAddressEntries = this.#entries.some((entry) => entry.prefix !== undefined);
  }

  /** Nothing to check: every destination is allowed (allow-list empty, special ranges not blocked). */
  get allowsEverything(): boolean {
    return this.#entries.length === 0 && !this.#blockSpecial;
  }

  /**
   * Before resolving: refuses a host name that no entry can allow whatever it resolves to. IP literals and names an
   * address entry might cover are left to checkAddress.
   */
  checkName(target: DestinationTarget): DestinationDeniedError | undefined {
    if (this.#entries.length === 0 || this.#hasAddressEntries || isIP(target.host) !== 0) return undefined;
    const name = normalisedHostName(target.host);
    if (this.#entries.some((entry) => entryMatchesHost(entry, name, undefined) && entryMatchesPort(entry, target.port))) return undefined;
    return notAllowed(target);
  }

  /** The dialer's check of one address `target` resolved to. */
  checkAddress(address: string, target: DestinationTarget): DestinationDeniedError | undefined {
    if (this.allowsEverything) return undefined;
    const numeric = numericAddress(effectiveAddress(address).address);
    const name = isIP(target.host) === 0 ? normalisedHostName(target.host) : undefined;
    let matching: DestinationEntry[] | undefined;
    if (this.#entries.length > 0) {
      matching = this.#entries.filter((entry) => entryMatchesHost(entry, name, numeric) && entryMatchesPort(entry, target.port));
      if (matching.length === 0) return notAllowed(target);
    }
    if (!this.#blockSpecial) return undefined;
    const range = specialRangeOf(address) ?? this.#ownAddressRange(address);
    if (range === undefined || matching?.some((entry) => namesExplicitly(entry, range))) return undefined;
    return specialRefusal(range, target, name);
  }

  /** `address` as a one-address range of its own, when it is one of this host's interface addresses. */
  #ownAddressRange(address: string): SpecialRange | undefined {
    const effective = effectiveAddress(address).address;
    if (this.#isOwnAddress?.(effective) !== true) return undefined;
    const v6 = isIP(effective) === 6;
    const length = v6 ? 128 : 32;
    return { category: 'own_address', cidr: `${effective}/${length}`, prefix: new IpPrefix(effective, length) };
  }
}

function namesExplicitly(entry: DestinationEntry, range: SpecialRange): boolean {
  if (entry.name !== undefined) return entry.name.kind === 'exact';
  return entry.prefix !== undefined && entry.prefix.family === range.prefix.family && entry.prefix.length >= range.prefix.length;
}

function notAllowed(target: DestinationTarget): DestinationDeniedError {
  return new DestinationDeniedError('not_allowed', `${target.authority} is not in destinations.allow (add it there, or with --dest-allow)`);
}

function specialRefusal(range: SpecialRange, target: DestinationTarget, name: string | undefined): DestinationDeniedError {
  const what = name === undefined ? `${target.authority} is` : `${target.authority} resolves to`;
  const entry = name === undefined ? target.authority : `${name}:${target.port}`;
  return new DestinationDeniedError(
    range.category,
    `${what} ${describeCategory(range.category)} (${range.cidr}), refused by destinations.block_special_ranges; ` +
      `to allow it, name it in destinations.allow (e.g. "${entry}", or --dest-allow ${entry})`,
  );
}
