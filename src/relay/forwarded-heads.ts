/**
 * The heads plain forwarding writes: a request head for the origin built from the client's absolute-form request,
 * and a response head for the client built from the origin's. Bodies pass through as the bytes that arrived, so
 * each head keeps exactly the framing fields its body was scanned with (src/http1/body-framing.ts) and drops
 * everything that describes only one connection.
 *
 * RFC 9110 §7.6.1: a proxy removes `Connection`, every field it names, and the hop-by-hop fields (Keep-Alive, TE,
 * Trailer, Upgrade, Proxy-Connection, Proxy-Authorization, Proxy-Authenticate). Transfer-Encoding is hop-by-hop
 * too, but the chunked bytes are relayed untouched, so the field that frames them goes on with them.
 */
import { STATUS_CODES } from 'node:http';
import { isIP } from 'node:net';
import type { BodyFraming } from '../http1/body-framing.js';
import type { HeaderField, RequestHead, ResponseHead } from '../http1/message-head.js';
import type { AbsoluteTarget } from './request-target.js';

export const VIA_PSEUDONYM = 'egress-proxy';

const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'upgrade',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
]);

/**
 * Fields a `Connection` header may not remove: they frame the body that is relayed as it is. A client listing
 * Content-Length in Connection is trying to make us forward a body without its length (request smuggling).
 */
const FRAMING_FIELDS: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding']);

/** Host is replaced by the target's authority (RFC 9112 §3.2.2: a proxy ignores it for an absolute target). */
const REPLACED_IN_REQUEST: ReadonlySet<string> = new Set(['host']);
const NOTHING_REPLACED: ReadonlySet<string> = new Set();

/**
 * The request as the origin gets it: origin-form target, Host from the URI, end-to-end fields in their order,
 * framing as scanned, our Via. The version is the client's: an HTTP/1.0 request stays one, so the origin answers
 * in a form an HTTP/1.0 client can read (no chunked coding, RFC 9112 §6.1) and closes after it.
 */
export function forwardedRequestHead(head: RequestHead, target: AbsoluteTarget): string {
  const version = `1.${head.minorVersion}`;
  let text = `${head.method} ${target.pathWithQuery} HTTP/${version}\r\nHost: ${hostFieldValue(target)}\r\n`;
  text += endToEndFields(head.headers, REPLACED_IN_REQUEST);
  return `${text}Via: ${version} ${VIA_PSEUDONYM}\r\n\r\n`;
}

/**
 * The response as the client gets it, in our own version (RFC 9110 §6.2). `closeAfter` says the client connection
 * ends after this response, which the client must be told. A reason phrase the origin spoiled with control
 * characters is replaced by the standard one.
 */
export function forwardedResponseHead(head: ResponseHead, framing: BodyFraming, closeAfter: boolean): string {
  const reason = head.reason ?? STATUS_CODES[head.statusCode] ?? '';
  let text = `HTTP/1.1 ${head.statusCode} ${reason}\r\n`;
  text += endToEndFields(head.headers, NOTHING_REPLACED);
  text += `Via: 1.${head.minorVersion} ${VIA_PSEUDONYM}\r\n`;
  if (closeAfter) text += 'Connection: close\r\n';
  else if (framing.kind === 'close') throw new Error('a body delimited by the close must close the connection');
  return `${text}\r\n`;
}

/** An interim (1xx) response, passed on to an HTTP/1.1 client: status line, end-to-end fields, our Via. */
export function forwardedInterimHead(head: ResponseHead): string {
  const reason = head.reason ?? STATUS_CODES[head.statusCode] ?? '';
  return `HTTP/1.1 ${head.statusCode} ${reason}\r\n${endToEndFields(head.headers, NOTHING_REPLACED)}Via: 1.${head.minorVersion} ${VIA_PSEUDONYM}\r\n\r\n`;
}

function endToEndFields(headers: readonly HeaderField[], replaced: ReadonlySet<string>): string {
  let connectionNamed: Set<string> | undefined;
  for (const field of headers) {
    if (field.name !== 'connection') continue;
    connectionNamed ??= new Set();
    for (const token of field.value.split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '' && !FRAMING_FIELDS.has(name)) connectionNamed.add(name);
    }
  }
  let text = '';
  for (const field of headers) {
    if (HOP_BY_HOP.has(field.name) || replaced.has(field.name) || connectionNamed?.has(field.name)) continue;
    // Names are sent lower-case: field names are case-insensitive (RFC 9110 §5.1), and the parsed head keeps no other.
    text += `${field.name}: ${field.value}\r\n`;
  }
  return text;
}

/** The Host value for the target: the port is omitted when it is the scheme's default (RFC 9110 §7.2). */
export function hostFieldValue(target: AbsoluteTarget): string {
  const defaultPort = target.protocol === 'https:' ? 443 : 80;
  if (target.port !== defaultPort) return target.authority;
  return isIP(target.host) === 6 ? `[${target.host}]` : target.host;
}
