/**
 * What of a request target may reach a log line. Never the query (DataKit puts its workspace token there), never
 * userinfo (`http://user:password@host/`, `CONNECT user:password@host:443`: the target parser refuses both, but
 * the refusal is logged), and path segments that look like identifiers or tokens only as `:id`, by the rule of the
 * `api` label (`/v1/check/token/tkn_...` is `/v1/check/token/:id` in both), unless `proxy.log_full_paths` asks for
 * paths as they are. Used for every target a log line carries, whatever produced it.
 */
import { redactIdentifierSegments } from '../metrics/api-path-label.js';

/** Longest target written: an attacker's 16 KiB request line is not worth 16 KiB of log per request. */
const MAX_LOGGED_TARGET = 200;

export interface TargetRedaction {
  /** Paths as sent (query and userinfo still dropped). */
  fullPaths: boolean;
}

/** A path (possibly with a query) as a log line may carry it. */
export function pathForLog(path: string, options: TargetRedaction): string {
  const query = path.search(/[?#]/);
  const pathOnly = query === -1 ? path : path.slice(0, query);
  return truncate(options.fullPaths ? pathOnly : redactIdentifierSegments(pathOnly));
}

/**
 * A request target as the client wrote it (absolute URI, CONNECT authority, origin-form path, or garbage), as a log
 * line may carry it.
 */
export function targetForLog(target: string, options: TargetRedaction): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(target);
  if (scheme === null && target.startsWith('/')) return pathForLog(target, options);
  const afterScheme = scheme === null ? 0 : scheme[0].length;
  // Userinfo is everything up to the last '@' of the whole target, not only of the authority: a password may hold
  // an unencoded / ? or # (`http://svc:pa/ss@host/`, which the parser refuses and the refusal is logged), and the
  // authority would then end inside it. Rejects and CONNECT authorities are all this sees; at worst a path segment
  // holding an '@' is missing from their log line.
  let rest = target.slice(afterScheme);
  const at = rest.lastIndexOf('@');
  if (at !== -1) rest = rest.slice(at + 1);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
  const path = authorityEnd === -1 ? '' : pathForLog(rest.slice(authorityEnd), options);
  return truncate(target.slice(0, afterScheme) + (HOST_AND_PORT.test(authority) ? authority : UNPARSED_AUTHORITY) + path);
}

/** A host (a name, an IPv4 address or a bracketed IPv6 one) with an optional numeric port. */
const HOST_AND_PORT = /^(?:\[[0-9a-f:.]*\]|[^:[\]]*)(?::\d*)?$/i;
/** What stands for an authority that is not host[:port] (`user:secret` with no '@' after it, say). */
const UNPARSED_AUTHORITY = '<unparsed>';

function truncate(text: string): string {
  return text.length > MAX_LOGGED_TARGET ? `${text.slice(0, MAX_LOGGED_TARGET)}…` : text;
}
