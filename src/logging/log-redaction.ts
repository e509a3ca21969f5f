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
  // The authority ends at the first / ? or # after the scheme; userinfo is everything up to its last @.
  const rest = target.slice(afterScheme);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
  const at = authority.lastIndexOf('@');
  const host = at === -1 ? authority : authority.slice(at + 1);
  const path = authorityEnd === -1 ? '' : pathForLog(rest.slice(authorityEnd), options);
  return truncate(target.slice(0, afterScheme) + host + path);
}

function truncate(text: string): string {
  return text.length > MAX_LOGGED_TARGET ? `${text.slice(0, MAX_LOGGED_TARGET)}…` : text;
}
