/**
 * The heads the relay writes, for both routes: a request head for the origin and a response head for the client,
 * each built from the head that arrived. Bodies pass through as the bytes that arrived (or, for a close-delimited
 * body going to an HTTP/1.1 client, re-framed as chunked), so each head keeps exactly the framing fields its body
 * was scanned with (src/http1/body-framing.ts) and drops everything that describes only one connection.
 *
 * Field lines that go on are copied as they arrived (name case, value bytes): the strict parser has read each one,
 * and a proxy has no business re-spelling them. What changes:
 * - RFC 9110 §7.6.1: `Connection`, every field it names, and the hop-by-hop fields (Keep-Alive, TE, Trailer,
 *   Upgrade, Proxy-Connection, Proxy-Authorization, Proxy-Authenticate) are dropped. Transfer-Encoding is
 *   hop-by-hop too, but the chunked bytes are relayed untouched, so the field that frames them goes on with them.
 * - An upgrade (RFC 9110 §7.8) keeps its `Upgrade` field and gets `Connection: Upgrade` back, as Go's ReverseProxy
 *   does: the switch must be asked of the origin for it to happen.
 * - RFC 9110 §7.6.3: our `Via` is added to every message, and the status line is ours (§6.2: a proxy sends its own
 *   version).
 */
import { STATUS_CODES } from 'node:http';
import { isIP } from 'node:net';
import type { HeaderField, RequestHead, ResponseHead } from '../http1/message-head.js';
import type { AbsoluteTarget } from './request-target.js';


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

/** What a message's Connection fields say (RFC 9110 §7.6.1), read once per head. */
export interface ConnectionOptions {
  close: boolean;
  keepAlive: boolean;
  upgrade: boolean;
  /** Field names listed that are to be dropped with it, besides the hop-by-hop ones (undefined: none). */
  named: ReadonlySet<string> | undefined;
}

const NO_OPTIONS: ConnectionOptions = { close: false, keepAlive: false, upgrade: false, named: undefined };

/**
 * The options of the Connection fields of `headers`. Content-Length and Transfer-Encoding are never among the
 * fields it names: they frame the body that is relayed as it is (listing them is an attempt at request smuggling).
 */
export function connectionOptions(headers: readonly HeaderField[]): ConnectionOptions {
  let found = false;
  let close = false;
  let keepAlive = false;
  let upgrade = false;
  let named: Set<string> | undefined;
  for (const field of headers) {
    if (field.name !== 'connection') continue;
    found = true;
    // Item by item, without an array of them: nearly every value is one token (`keep-alive`, `close`).
    const value = field.value;
    for (let start = 0; start <= value.length; ) {
      let end = value.indexOf(',', start);
      if (end === -1) end = value.length;
      const token = (start === 0 && end === value.length ? value : value.slice(start, end)).trim().toLowerCase();
      if (token === 'close') close = true;
      else if (token === 'keep-alive') keepAlive = true;
      else if (token === 'upgrade') upgrade = true;
      else if (token !== '' && !HOP_BY_HOP.has(token) && !FRAMING_FIELDS.has(token)) (named ??= new Set()).add(token);
      start = end + 1;
    }
  }
  return found ? { close, keepAlive, upgrade, named } : NO_OPTIONS;
}

/** What the request head for the origin is made of, besides the fields that arrived. */
export interface RequestHeadRewrite {
  /** The request-target in origin-form (`/path?query`), as the origin gets it. */
  originForm: string;
  /** A Host value replacing the client's (forwarding: from the URI), or undefined to keep the client's Host line. */
  host: string | undefined;
  /** The request asks to switch protocols and the route lets it: Upgrade and `Connection: Upgrade` go on. */
  upgrade: boolean;
  /** Our Via pseudonym (RelaySettings.via). */
  via: string;
}

/**
 * The request as the origin gets it. `text` is the head's text as it arrived (what the parser read), `head` its
 * parse. The version is the client's: an HTTP/1.0 request stays one, so the origin answers in a form an HTTP/1.0
 * client can read (no chunked coding, RFC 9112 §6.1) and closes after it.
 */
export function requestHeadForOrigin(head: RequestHead, text: string, options: ConnectionOptions, rewrite: RequestHeadRewrite): string {
  const version = head.minorVersion === 0 ? '1.0' : '1.1';
  let out = `${head.method} ${rewrite.originForm} HTTP/${version}\r\n`;
  if (rewrite.host !== undefined) out += `Host: ${rewrite.host}\r\n`;
  out += keptFieldLines(text, head.headers, options.named, rewrite.host !== undefined, rewrite.upgrade);
  if (rewrite.upgrade) out += 'Connection: Upgrade\r\n';
  return `${out}Via: ${version} ${rewrite.via}\r\n\r\n`;
}

/** How the response head for the client differs from the origin's. */
export interface ResponseHeadRewrite {
  /** A close-delimited body re-framed as chunked for an HTTP/1.1 client: the head says so. */
  chunked: boolean;
  /** The client connection ends after this response, which the client must be told. */
  close: boolean;
  /** A 101 for a request that asked to switch: Upgrade and `Connection: Upgrade` go on. */
  upgrade: boolean;
  /** Our Via pseudonym (RelaySettings.via). */
  via: string;
}

/**
 * The response as the client gets it, in our own version (RFC 9110 §6.2), for a final, interim (1xx) or switching
 * (101) response alike. One reason-phrase policy for both routes: the origin's phrase when it is clean text, the
 * standard one when the parser found control characters in it (it then reports none).
 */
export function responseHeadForClient(head: ResponseHead, text: string, options: ConnectionOptions, rewrite: ResponseHeadRewrite): string {
  const reason = head.reason ?? STATUS_CODES[head.statusCode] ?? '';
  let out = `HTTP/1.1 ${head.statusCode} ${reason}\r\n`;
  out += keptFieldLines(text, head.headers, options.named, false, rewrite.upgrade);
  if (rewrite.chunked) out += 'Transfer-Encoding: chunked\r\n';
  out += `Via: 1.${head.minorVersion} ${rewrite.via}\r\n`;
  if (rewrite.upgrade) out += 'Connection: Upgrade\r\n';
  else if (rewrite.close) out += 'Connection: close\r\n';
  return `${out}\r\n`;
}

/** The Host value for the target: the port is omitted when it is the scheme's default (RFC 9110 §7.2). */
export function hostFieldValue(target: AbsoluteTarget): string {
  const defaultPort = target.protocol === 'https:' ? 443 : 80;
  if (target.port !== defaultPort) return target.authority;
  return isIP(target.host) === 6 ? `[${target.host}]` : target.host;
}

/**
 * The field lines of `text` that go on, each ending in CRLF, copied as they arrived. `headers[i]` is the parse of
 * the (i+1)th line of `text` (line 0 is the start line); runs of kept lines are copied as one slice. Should the
 * parse ever not map one field per line, the fields are written from the parse instead.
 */
function keptFieldLines(
  text: string,
  headers: readonly HeaderField[],
  named: ReadonlySet<string> | undefined,
  dropHost: boolean,
  keepUpgrade: boolean,
): string {
  let out = '';
  let at = text.indexOf('\r\n') + 2;
  if (at === 1) return headers.length === 0 ? '' : fieldsFromParse(headers, dropHost, keepUpgrade, named);
  let runStart = at;
  for (const field of headers) {
    if (at > text.length) return fieldsFromParse(headers, dropHost, keepUpgrade, named);
    let end = text.indexOf('\r\n', at);
    if (end === -1) end = text.length;
    if (isDropped(field.name, dropHost, keepUpgrade, named)) {
      if (at > runStart) out += text.slice(runStart, at);
      runStart = end + 2;
    }
    at = end + 2;
  }
  if (at !== text.length + 2) return fieldsFromParse(headers, dropHost, keepUpgrade, named);
  // The last line has no CRLF in `text` (the parser gets the head without its final CRLF CRLF).
  if (runStart < text.length) out += `${text.slice(runStart)}\r\n`;
  return out;
}

function fieldsFromParse(headers: readonly HeaderField[], dropHost: boolean, keepUpgrade: boolean, named: ReadonlySet<string> | undefined): string {
  let out = '';
  for (const field of headers) if (!isDropped(field.name, dropHost, keepUpgrade, named)) out += `${field.name}: ${field.value}\r\n`;
  return out;
}

/**
 * Whether a field (lower-case name) stays behind. By length first: the parser makes a new string for every name,
 * and hashing each one for a Set lookup cost more than these few comparisons (two heads per request).
 */
function isDropped(name: string, dropHost: boolean, keepUpgrade: boolean, named: ReadonlySet<string> | undefined): boolean {
  switch (name.length) {
    case 2:
      if (name === 'te') return true;
      break;
    case 4:
      if (name === 'host') return dropHost;
      break;
    case 7:
      if (name === 'trailer') return true;
      if (name === 'upgrade') return !keepUpgrade;
      break;
    case 10:
      if (name === 'connection' || name === 'keep-alive') return true;
      break;
    case 16:
      if (name === 'proxy-connection') return true;
      break;
    case 18:
      if (name === 'proxy-authenticate') return true;
      break;
    case 19:
      if (name === 'proxy-authorization') return true;
      break;
    default:
      break;
  }
  return named?.has(name) === true;
}
