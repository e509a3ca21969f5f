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
  const host = (match[1] ?? match[2]!).toLowerCase();
  if (match[1] !== undefined ? isIP(host) !== 6 : !isValidHost(host)) {
    throw new MalformedRequestError(`invalid host in CONNECT target`);
  }
  return { host, port: parsePort(match[3]!), authority: formatAuthority(host, parsePort(match[3]!)) };
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
  return {
    protocol: parsed.protocol,
    host,
    port,
    authority: formatAuthority(host, port),
    pathWithQuery: parsed.pathname + parsed.search,
    pathname: parsed.pathname,
  };
}

export function formatAuthority(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new MalformedRequestError('port out of range');
  return port;
}

function isValidHost(host: string): boolean {
  return host.length <= 253 && (isIP(host) === 4 || HOST_NAME.test(host));
}
