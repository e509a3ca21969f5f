/**
 * Parses what a client asks the proxy to reach: the authority of a CONNECT (RFC 9112 §3.2.3) or the absolute URI of
 * a forwarded request (RFC 9112 §3.2.2). Anything ambiguous is rejected, not guessed at.
 */
import { isIP } from 'node:net';
import { MalformedRequestError, MethodNotAllowedError } from '../errors.js';

export interface ProxyTarget {
  /** Host name or IP address, without IPv6 brackets, lower-case. */
  host: string;
  port: number;
  /** `host:port` with IPv6 in brackets, as it would appear in a CONNECT line. */
  authority: string;
}

export interface AbsoluteTarget extends ProxyTarget {
  protocol: 'http:' | 'https:';
  /**
   * `scheme://authority`: the key of the origin's upstream slots and pooled connections. An intercepted tunnel
   * gives every request the same string, so the maps hash it once, not once per request.
   */
  origin: string;
  /** Path and query, as sent to the origin. */
  pathWithQuery: string;
  /** Path alone: labels and logs never carry the query (it holds tokens). */
  pathname: string;
}

// A registered name per RFC 3986 §3.2.2, conservatively: letters, digits, '-', '_' and dots.
const HOST_NAME = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/i;
const AUTHORITY = /^(?:\[([0-9a-f:.]+)\]|([^:[\]/]+)):(\d{1,5})$/i;

export function parseConnectAuthority(authority: string | undefined): ProxyTarget {
  const match = AUTHORITY.exec(authority ?? '');
  if (!match) throw new MalformedRequestError('CONNECT needs an authority of the form host:port');
  const host = canonicalHost(match[1] !== undefined ? `[${match[1]}]` : match[2]!);
  if (host === undefined || !(isIP(host) !== 0 || isValidHost(host))) {
    throw new MalformedRequestError(`invalid host in CONNECT target`);
  }
  const port = parsePort(match[3]!);
  return { host, port, authority: formatAuthority(host, port) };
}

export function parseAbsoluteTarget(url: string): AbsoluteTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new MalformedRequestError('invalid absolute URI');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new MethodNotAllowedError(`Scheme ${parsed.protocol.replace(/:$/, '')} is not supported by this proxy`);
  }
  if (parsed.username || parsed.password) throw new MalformedRequestError('credentials in the URI are not allowed');
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  if (!host || !(isIP(host) !== 0 || isValidHost(host))) throw new MalformedRequestError('invalid host in URI');
  const port = parsed.port ? parsePort(parsed.port) : parsed.protocol === 'https:' ? 443 : 80;
  const pathWithQuery = rawPathAndQuery(url);
  const query = pathWithQuery.indexOf('?');
  const authority = formatAuthority(host, port);
  return {
    protocol: parsed.protocol,
    origin: `${parsed.protocol}//${authority}`,
    host,
    port,
    authority,
    pathWithQuery,
    pathname: query === -1 ? pathWithQuery : pathWithQuery.slice(0, query),
  };
}

/**
 * Visible ASCII but for the backslash: a little more than RFC 3986 allows (`{}`, `|`, `[]` and quotes turn up
 * unencoded in real queries and origins accept them, as nginx and Node's server do), nothing a parser could read
 * as another path (WHATWG URL parsers take `\` for `/`).
 */
const PATH_AND_QUERY = /^\/[\x21-\x5b\x5d-\x7e]*$/;
/** `http://` or `https://` then the authority: the only absolute form a forward proxy is sent (RFC 9112 §3.2.2). */
const SCHEME_AND_SLASHES = /^https?:\/\//i;
/** Where the authority ends. */
const PATH_START = /[/?#]/;

/**
 * The path and query exactly as the client sent them. RFC 9110 §7.1: a proxy must not rewrite them, and the WHATWG
 * parser would (`/a/../b` becomes `/b`, `%2e%2e` is resolved too), which breaks signed URLs and lets a path that an
 * origin's rules would refuse reach it as another one. An empty path becomes `/` (RFC 9112 §3.2.1).
 */
function rawPathAndQuery(url: string): string {
  const scheme = SCHEME_AND_SLASHES.exec(url);
  if (scheme === null || url.includes('\\')) throw new MalformedRequestError('invalid absolute URI');
  const rest = url.slice(scheme[0].length);
  const start = rest.search(PATH_START);
  if (start === -1) return '/';
  // `http:///host/x`: URL parsers skip the extra slash and find a host, but RFC 9110 §4.2.1 says an http URI with
  // an empty host is invalid, and the path would start with the name of the host the request goes to.
  if (start === 0) throw new MalformedRequestError('empty authority in the absolute URI');
  // A fragment is never sent by a client that follows RFC 9112 §3.2, and never goes on.
  let path = rest.slice(start);
  const fragment = path.indexOf('#');
  if (fragment !== -1) path = path.slice(0, fragment);
  if (!path.startsWith('/')) path = `/${path}`;
  checkOriginForm(path);
  return path;
}

/**
 * Refuses an origin-form target (`/path?query`) with characters a parser could read as another path: the same rule
 * for a path taken from an absolute URI and for one sent in origin-form inside an intercepted tunnel.
 */
export function checkOriginForm(path: string): void {
  if (!PATH_AND_QUERY.test(path)) throw new MalformedRequestError('invalid characters in the request target');
}

export function formatAuthority(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new MalformedRequestError('port out of range');
  return port;
}

/**
 * The host as the WHATWG URL parser reads it, which is how resolvers read it too: `2130706433`, `0x7f000001` and
 * `0177.0.0.1` all become `127.0.0.1`, IPv6 is compressed. Without this, spellings of our own address would slip
 * past the loop guard. Undefined when it is not a host at all.
 */
function canonicalHost(text: string): string | undefined {
  try {
    const hostname = new URL(`http://${text}/`).hostname;
    return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  } catch {
    return undefined;
  }
}

// A DNS label is at most 63 octets (RFC 1035 §2.3.4); a longer one cannot be resolved or put in a certificate.
const MAX_LABEL_LENGTH = 63;

function isValidHost(host: string): boolean {
  if (host.split('.').some((label) => label.length > MAX_LABEL_LENGTH)) return false;
  return host.length <= 253 && (isIP(host) === 4 || HOST_NAME.test(host));
}

/**
 * Whether a Host field value names `target` (RFC 9110 §7.2: `host[:port]`, the port defaulting to the scheme's),
 * compared the way targets are: canonical host, same port. Inside an intercepted tunnel the request can only go to
 * the CONNECT authority, and an origin routing by a Host that names another would serve one host's answer under
 * another's name.
 */
export function hostFieldNames(value: string, target: ProxyTarget, defaultPort: number): boolean {
  // The common spellings, without parsing: exactly the authority, or the host alone on the default port.
  if (value === target.authority) return true;
  if (target.port === defaultPort && value === (isIP(target.host) === 6 ? `[${target.host}]` : target.host)) return true;
  const hasPort = /:\d*$/.test(value) && !value.endsWith(']');
  let named: ProxyTarget;
  try {
    named = parseConnectAuthority(hasPort ? value : `${value}:${defaultPort}`);
  } catch {
    return false;
  }
  return named.host === target.host && named.port === target.port;
}
