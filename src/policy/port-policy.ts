/**
 * One port policy for every way a client can make the proxy connect somewhere, so that no mode is a way around
 * another (a CONNECT-only port list used to be bypassed by `GET http://host:25/` and `GET https://host:25/`):
 *
 * - `tls`: CONNECT, tunnelled or decrypted, and forwarded `https://` URIs: `destinations.connect_ports`
 *   (default 443, squid's SSL_ports; `limits.allowed_connect_ports` is its older spelling);
 * - `http`: forwarded `http://` URIs: `destinations.http_ports` (default squid's Safe_ports).
 *
 * An empty list allows every port. A `destinations.allow` entry that names a port opens that port for the
 * destinations it names (`dataway.internal:8443` lets CONNECT reach dataway.internal:8443 with connect_ports left at
 * 443): writing the port down is the explicit decision the lists exist to ask for. Only entries that match the host
 * as the client wrote it count here (a name, or an IP literal in an IP/CIDR entry), since this runs before DNS.
 */
import { isIP } from 'node:net';
import { PortDeniedError } from '../errors.js';
import { entryMatchesHost, entryMatchesPort, normalisedHostName, parseDestinationEntry, type DestinationEntry } from './destination-entry.js';
import { effectiveAddress, numericAddress } from './ip-address.js';
import { PortSet } from './port-ranges.js';
import type { DestinationTarget } from './destination-policy.js';

/** How the upstream is reached: over TLS or a tunnel (CONNECT, `https://`), or as plain HTTP (`http://`). */
export type PortMode = 'tls' | 'http';

export interface PortPolicyOptions {
  connectPorts: ReadonlyArray<number | string>;
  httpPorts: ReadonlyArray<number | string>;
  /** `destinations.allow`: entries naming ports open them. */
  allow: readonly string[];
  /** Where each list is set, for refusals (the config key). */
  connectPortsSetting?: string;
  httpPortsSetting?: string;
}

export class PortPolicy {
  readonly #tls: PortSet;
  readonly #http: PortSet;
  readonly #tlsSetting: string;
  readonly #httpSetting: string;
  readonly #entriesWithPorts: readonly DestinationEntry[];

  constructor(options: PortPolicyOptions) {
    this.#tls = PortSet.parse(options.connectPorts);
    this.#http = PortSet.parse(options.httpPorts);
    this.#tlsSetting = options.connectPortsSetting ?? 'destinations.connect_ports';
    this.#httpSetting = options.httpPortsSetting ?? 'destinations.http_ports';
    this.#entriesWithPorts = options.allow.flatMap((text) => {
      const parsed = parseDestinationEntry(text);
      return parsed.ok && parsed.entry.ports !== undefined ? [parsed.entry] : [];
    });
  }

  check(mode: PortMode, target: DestinationTarget): PortDeniedError | undefined {
    const ports = mode === 'tls' ? this.#tls : this.#http;
    if (ports.has(target.port) || this.#openedByEntry(target)) return undefined;
    return new PortDeniedError(target.port, mode === 'tls' ? this.#tlsSetting : this.#httpSetting);
  }

  #openedByEntry(target: DestinationTarget): boolean {
    if (this.#entriesWithPorts.length === 0) return false;
    const literal = isIP(target.host) !== 0;
    const name = literal ? undefined : normalisedHostName(target.host);
    const address = literal ? numericAddress(effectiveAddress(target.host).address) : undefined;
    return this.#entriesWithPorts.some((entry) => entryMatchesHost(entry, name, address) && entryMatchesPort(entry, target.port));
  }
}
