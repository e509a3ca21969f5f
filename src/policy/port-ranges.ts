/**
 * Port lists of the destination policy: single ports and ranges (`443`, `"1025-65535"`), as config files, flags
 * and allow entries write them. An empty list means every port.
 */

export interface PortRange {
  readonly from: number;
  readonly to: number;
}

export type PortRangeParseResult = { ok: true; range: PortRange } | { ok: false; problem: string };

const PORT_OR_RANGE = /^(\d{1,5})(?:-(\d{1,5}))?$/;

/** One entry: a port number (1-65535) or `"FROM-TO"` with FROM <= TO. */
export function parsePortRange(entry: number | string): PortRangeParseResult {
  const text = typeof entry === 'number' ? String(entry) : entry.trim();
  const match = PORT_OR_RANGE.exec(text);
  const problem = `"${text}" is not a port (1-65535) or a port range (FROM-TO)`;
  if (match === null) return { ok: false, problem };
  const from = Number(match[1]);
  const to = match[2] === undefined ? from : Number(match[2]);
  if (from < 1 || to > 65535) return { ok: false, problem };
  if (from > to) return { ok: false, problem: `"${text}": the range starts after it ends` };
  return { ok: true, range: { from, to } };
}

export class PortSet {
  readonly #ranges: readonly PortRange[];
  /** Single ports, for the common lookup; ranges are searched only when the port is not one of them. */
  readonly #single: ReadonlySet<number>;

  constructor(ranges: readonly PortRange[]) {
    this.#ranges = ranges.filter((r) => r.from !== r.to);
    this.#single = new Set(ranges.filter((r) => r.from === r.to).map((r) => r.from));
  }

  /** Parses a list of entries; throws a TypeError naming the first bad one (config validation has caught it before). */
  static parse(entries: ReadonlyArray<number | string>): PortSet {
    return new PortSet(
      entries.map((entry) => {
        const result = parsePortRange(entry);
        if (!result.ok) throw new TypeError(result.problem);
        return result.range;
      }),
    );
  }

  /** No entry at all: every port. */
  get isAny(): boolean {
    return this.#single.size === 0 && this.#ranges.length === 0;
  }

  has(port: number): boolean {
    if (this.isAny || this.#single.has(port)) return true;
    return this.#ranges.some((r) => port >= r.from && port <= r.to);
  }
}

/**
 * squid's default `SSL_ports`: CONNECT only to 443. Here it also covers the other ways a client reaches a TLS port
 * through us (a decrypted CONNECT, an `https://` URI forwarded), so `GET https://host:25/` is no way around it.
 */
export const DEFAULT_CONNECT_PORTS: ReadonlyArray<number | string> = [443];

/**
 * squid's default `Safe_ports` for plain HTTP: http, ftp, https, gopher, wais, the unregistered ports, and a few
 * registered web ports (http-mgmt, gss-http, filemaker, multiling http). What they keep out is every other
 * well-known service below 1024 (ssh 22, smtp 25, DNS 53, pop3 110, imap 143...), which an HTTP request could
 * otherwise be smuggled into. 9528, an on-premises Dataway's port, is in 1025-65535.
 */
export const DEFAULT_HTTP_PORTS: ReadonlyArray<number | string> = [80, 21, 443, 70, 210, '1025-65535', 280, 488, 591, 777];
