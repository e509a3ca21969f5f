/**
 * Strips hop-by-hop headers before a message crosses the proxy. RFC 9110 §7.6.1: a proxy must remove the
 * Connection header and every field it names, plus the fields that only describe one connection (Keep-Alive, TE,
 * Trailer, Transfer-Encoding, Upgrade) and the proxy's own ones (Proxy-Connection, Proxy-Authorization,
 * Proxy-Authenticate). Forwarding them lets a client steer our connection to the upstream, or leak proxy
 * credentials to it. Transfer-Encoding is re-framed by Node on the next hop.
 */

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
]);

const TOKEN_SEPARATOR = /\s*,\s*/;

/**
 * Fields a `Connection` header may not remove: they frame the message. A client listing Content-Length in
 * Connection is trying to make us forward a body without its length.
 */
const NEVER_CONNECTION_NAMED = new Set(['content-length']);

/**
 * Returns rawHeaders (flat [name, value, ...], as Node gives them) without hop-by-hop fields and without any
 * name in `drop` (lower-case). Names and order are preserved, which keeps duplicate fields intact.
 */
export function stripHopByHop(rawHeaders: readonly string[], drop?: ReadonlySet<string>): string[] {
  let connectionNamed: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'connection') {
      connectionNamed ??= new Set();
      for (const token of rawHeaders[i + 1]!.split(TOKEN_SEPARATOR)) {
        const name = token.toLowerCase();
        if (name && !NEVER_CONNECTION_NAMED.has(name)) connectionNamed.add(name);
      }
    }
  }
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || connectionNamed?.has(lower) || drop?.has(lower)) continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  return out;
}

/**
 * Adds our Via entry (RFC 9110 §7.6.3). A separate field line after any received ones is equivalent to appending
 * to the list, and avoids rewriting the client's value.
 */
export function appendVia(headers: string[], httpVersion: string, pseudonym: string): void {
  headers.push('Via', `${httpVersion} ${pseudonym}`);
}
