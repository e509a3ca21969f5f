/**
 * Parses HTTP/1.x message heads (RFC 9112 §2-§5) for the relays, which pass messages through as bytes and only
 * need to know where each one ends and what to record. Strict where leniency has been used to smuggle requests past
 * intermediaries: no obs-fold, no whitespace before the colon, no bare CR or LF, token characters only in methods
 * and field names, no controls in values.
 *
 * Linear time on any input: every line is read once, byte by byte, against the tables in byte-classes.ts. No
 * regular expression touches a peer's bytes (see byte-classes.ts for the cost of one that backtracks).
 *
 * The checks read the head's bytes (a Uint8Array: one load per byte) and the strings it yields are slices of its
 * latin1 text: V8's `charCodeAt` dispatches on the string's representation at every call, which made reading a
 * field name against the known names ~3 ns a character, most of a head's parse.
 */
import { AUTHORITY_CHAR, CR, FIELD_VALUE_CHAR, HTAB, isOws, LF, SP, TARGET_CHAR, TCHAR } from './byte-classes.js';

export interface HeaderField {
  /** Lower-cased field name. */
  name: string;
  /** Value without surrounding whitespace. */
  value: string;
}

export interface RequestHead {
  method: string;
  /** The request-target exactly as sent: origin-form (`/path?q`), absolute-form, authority-form or `*`. */
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minorVersion: number;
  headers: HeaderField[];
}

export interface ResponseHead {
  statusCode: number;
  minorVersion: number;
  /** The reason phrase; undefined when it held control characters and the parse was told to accept that. */
  reason: string | undefined;
  headers: HeaderField[];
}

/** The head could not be parsed; `message` says what was wrong, without echoing the offending bytes. */
export class MessageHeadError extends Error {
  override readonly name: string = 'MessageHeadError';
}

/** The head outgrew the limit before it ended (a server answers 431). */
export class HeadTooLargeError extends MessageHeadError {
  override readonly name = 'HeadTooLargeError';
  constructor() {
    super('head too large');
  }
}

const CRLF = '\r\n';
const HTTP_1_1 = 'HTTP/1.1';

/**
 * The bytes a parse reads: `bytes[offset + i]` is `text.charCodeAt(i)` (the scanner's buffer, which `text` was
 * decoded from), or the latin1 encoding of `text` made for a caller that has only the text.
 */
function bytesOf(text: string, bytes: Uint8Array | undefined, offset: number): { bytes: Uint8Array; offset: number } {
  if (bytes !== undefined) return { bytes, offset };
  // Text only: its latin1 encoding keeps the low byte of a character above U+00FF, which could make a refused
  // character look like an accepted one. A head decoded from bytes never has one; refuse it rather than check
  // something other than what was given.
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) throw new MessageHeadError('character outside latin1 in head');
  return { bytes: Buffer.from(text, 'latin1'), offset: 0 };
}

/**
 * `head` is the head's text (latin1) without its final blank line; `bytes` from `offset` on are the same bytes,
 * when the caller has them (the scanner).
 */
export function parseRequestHead(head: string, bytes?: Uint8Array, offset = 0): RequestHead {
  ({ bytes, offset } = bytesOf(head, bytes, offset));
  const lineEnd = endOfLine(head, 0);
  // request-line = method SP request-target SP HTTP-version (RFC 9112 §3), single spaces only.
  const methodEnd = skipTokenChars(bytes, offset, 0, lineEnd);
  if (methodEnd === 0 || methodEnd === lineEnd || head.charCodeAt(methodEnd) !== SP) throw invalidLine(head.slice(0, lineEnd), 'invalid request line');
  let targetEnd = methodEnd + 1;
  while (targetEnd < lineEnd && TARGET_CHAR[bytes[offset + targetEnd] as number] === 1) targetEnd++;
  if (targetEnd === methodEnd + 1 || targetEnd === lineEnd || head.charCodeAt(targetEnd) !== SP) throw invalidLine(head.slice(0, lineEnd), 'invalid request line');
  const minorVersion = versionAt(head, targetEnd + 1, lineEnd);
  if (minorVersion === undefined) throw invalidLine(head.slice(0, lineEnd), 'invalid request line');
  const method = knownMethod(head, methodEnd) ?? head.slice(0, methodEnd);
  const target = head.slice(methodEnd + 1, targetEnd);
  if (!isRequestTargetForm(method, target)) throw new MessageHeadError('invalid request target');
  return { method, target, minorVersion, headers: parseFieldLines(head, bytes, offset, lineEnd) };
}

/** A response head; a reason phrase with control characters is refused. `bytes`, `offset`: as for parseRequestHead. */
export function parseResponseHead(head: string, bytes?: Uint8Array, offset = 0): ResponseHead {
  return responseHead(head, false, bytes, offset);
}

/**
 * A response head for a relay that writes a status line of its own: a reason phrase with control characters is
 * not refused but reported as none (the relay sends the standard one), as Node's HTTP client did.
 */
export function parseRelayedResponseHead(head: string, bytes?: Uint8Array, offset = 0): ResponseHead {
  return responseHead(head, true, bytes, offset);
}

function responseHead(head: string, acceptInvalidReason: boolean, bytes: Uint8Array | undefined, offset: number): ResponseHead {
  ({ bytes, offset } = bytesOf(head, bytes, offset));
  const lineEnd = endOfLine(head, 0);
  // status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4). Some servers omit the space
  // before an empty reason, which §4 asks clients to accept.
  const minorVersion = versionAt(head, 0, Math.min(HTTP_1_1.length, lineEnd));
  if (minorVersion === undefined || lineEnd <= HTTP_1_1.length || head.charCodeAt(HTTP_1_1.length) !== SP) throw invalidLine(head.slice(0, lineEnd), 'invalid status line');
  const statusCode = statusCodeAt(head, HTTP_1_1.length + 1, lineEnd);
  const reasonStart = HTTP_1_1.length + 5;
  // RFC 9110 §15: a status code is 100-599; anything else is not HTTP (the relay answers 502).
  if (statusCode === undefined || (lineEnd > reasonStart - 1 && head.charCodeAt(reasonStart - 1) !== SP)) {
    throw invalidLine(head.slice(0, lineEnd), 'invalid status line');
  }
  let reason: string | undefined;
  let i = reasonStart;
  while (i < lineEnd && FIELD_VALUE_CHAR[bytes[offset + i] as number] === 1) i++;
  if (i >= lineEnd) {
    reason = reasonStart < lineEnd ? head.slice(reasonStart, lineEnd) : '';
  } else {
    // RFC 9112 §4: HTAB, SP, VCHAR, obs-text; a control is refused, or the phrase dropped when the caller asked.
    // Never a bare CR or LF: a parser that ends the line there reads the rest as a field.
    for (; i < lineEnd; i++) {
      const code = bytes[offset + i] as number;
      if (FIELD_VALUE_CHAR[code] === 1) continue;
      if (!acceptInvalidReason || code === CR || code === LF) throw invalidLine(head.slice(0, lineEnd), 'invalid status line');
    }
    reason = undefined;
  }
  return { statusCode, minorVersion, reason, headers: parseFieldLines(head, bytes, offset, lineEnd) };
}

/** Every value of the named field (lower-case name), in order. */
export function fieldValues(headers: readonly HeaderField[], name: string): string[] {
  const values: string[] = [];
  for (const field of headers) if (field.name === name) values.push(field.value);
  return values;
}

/** Whether a comma-separated field (Connection, say) lists `token`, case-insensitively. */
export function fieldHasToken(headers: readonly HeaderField[], name: string, token: string): boolean {
  for (const field of headers) {
    if (field.name !== name) continue;
    for (const item of listItems(field.value)) if (item.toLowerCase() === token) return true;
  }
  return false;
}

/**
 * The items of a comma-separated list value (RFC 9110 §5.6.1), each without its optional whitespace (SP and HTAB
 * only: not String.trim(), which also strips characters such as NBSP that other parsers keep). Empty items are kept
 * as '' for callers to whom a malformed list matters.
 */
export function listItems(value: string): string[] {
  const items: string[] = [];
  let start = 0;
  for (;;) {
    const comma = value.indexOf(',', start);
    const end = comma === -1 ? value.length : comma;
    items.push(trimOws(value, start, end));
    if (comma === -1) return items;
    start = comma + 1;
  }
}

/**
 * RFC 9112 §3.2: origin-form (`/path`), absolute-form (`scheme://...`, a scheme of letters only, as llhttp reads
 * it), asterisk-form (`*`, OPTIONS only) or, for CONNECT, authority-form (checked by the proxy, request-target.ts).
 * Anything else (`v1/write`, `http:/x`, `?q`) is read differently by different servers, or refused.
 */
function isRequestTargetForm(method: string, target: string): boolean {
  if (method === 'CONNECT') return true;
  if (target.charCodeAt(0) === 0x2f) return true;
  if (target === '*') return method === 'OPTIONS';
  let schemeEnd = 0;
  while (schemeEnd < target.length && isAlpha(target.charCodeAt(schemeEnd))) schemeEnd++;
  if (schemeEnd === 0 || !target.startsWith('://', schemeEnd)) return false;
  // The authority, up to the path or query: RFC 3986 §3.2 characters only (`\`, `{`, `#`... are refused by llhttp,
  // and read as a path separator or the end of the host by URL parsers).
  for (let i = schemeEnd + 3; i < target.length; i++) {
    const code = target.charCodeAt(i);
    if (code === 0x2f || code === 0x3f) break;
    if (AUTHORITY_CHAR[code] !== 1) return false;
  }
  return true;
}

function isAlpha(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

/**
 * The field lines after the start line, in one pass: each line's value is read up to the first byte that is not a
 * field-value character, which must then be its CRLF (or the end of the head). No separate search for the line end
 * first: every byte is looked at once.
 */
function parseFieldLines(head: string, bytes: Uint8Array, offset: number, startLineEnd: number): HeaderField[] {
  const headers: HeaderField[] = [];
  const length = head.length;
  if (startLineEnd === length) return headers;
  for (let start = startLineEnd + CRLF.length; ; ) {
    // field-line = field-name ":" OWS field-value OWS (RFC 9112 §5)
    const nameEnd = skipTokenChars(bytes, offset, start, length);
    if (nameEnd === start) {
      // obs-fold (a line starting with whitespace continues the previous one): RFC 9112 §5.2 lets a server reject it.
      throw new MessageHeadError(start < length && isOws(head.charCodeAt(start)) ? 'obsolete line folding' : 'invalid header field');
    }
    // RFC 9112 §5.1: no whitespace between the name and the colon (a server must reject it: request smuggling).
    if (nameEnd === length || head.charCodeAt(nameEnd) !== 0x3a) throw invalidLine(head.slice(start, endOfLine(head, start)), 'invalid header field');
    let end = nameEnd + 1;
    while (end < length && FIELD_VALUE_CHAR[bytes[offset + end] as number] === 1) end++;
    if (end < length) {
      const code = head.charCodeAt(end);
      if (code === CR) {
        if (head.charCodeAt(end + 1) !== LF) throw new MessageHeadError('bare CR or LF in head');
      } else {
        throw new MessageHeadError(code === LF ? 'bare CR or LF in head' : 'control character in header value');
      }
    }
    headers.push(fieldAt(head, bytes, offset, start, nameEnd, end));
    if (end === length) return headers;
    start = end + CRLF.length;
  }
}

/** The field of a checked line: name in `[start, nameEnd)`, the colon, the value up to `end`. */
function fieldAt(head: string, bytes: Uint8Array, offset: number, start: number, nameEnd: number, end: number): HeaderField {
  const name = fieldName(head, bytes, offset, start, nameEnd);
  // The value without its optional whitespace (SP and HTAB only: see listItems).
  let valueStart = nameEnd + 1;
  let valueEnd = end;
  while (valueEnd > valueStart && isOws(bytes[offset + valueEnd - 1] as number)) valueEnd--;
  while (valueStart < valueEnd && isOws(bytes[offset + valueStart] as number)) valueStart++;
  // llhttp refuses a tab after a Content-Length value and does not read `chunked<HTAB>` as chunked: a framing field
  // whose trailing whitespace holds a tab would be read one way by us and another by a client or origin behind us.
  if (valueEnd < end && (name === 'content-length' || name === 'transfer-encoding') && trailingOwsHasTab(head, valueEnd, end)) {
    throw new MessageHeadError('a tab after a framing field value');
  }
  return { name, value: head.slice(valueStart, valueEnd) };
}

function trailingOwsHasTab(text: string, start: number, end: number): boolean {
  for (let i = end - 1; i >= start && isOws(text.charCodeAt(i)); i--) if (text.charCodeAt(i) === HTAB) return true;
  return false;
}

/** Where the line starting at `start` ends: its CRLF, or the end of the head. */
function endOfLine(head: string, start: number): number {
  const end = head.indexOf(CRLF, start);
  return end === -1 ? head.length : end;
}

/** The end of the run of tchars from `start` (positions in the text; `bytes[offset + i]` is its byte i). */
function skipTokenChars(bytes: Uint8Array, offset: number, start: number, end: number): number {
  let i = start;
  while (i < end && TCHAR[bytes[offset + i] as number] === 1) i++;
  return i;
}

function trimOws(text: string, start: number, end: number): string {
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

/** The minor version of `HTTP/1.1` or `HTTP/1.0` filling `[start, end)` of `text` exactly, else undefined. */
function versionAt(text: string, start: number, end: number): number | undefined {
  if (end - start !== HTTP_1_1.length || !text.startsWith('HTTP/1.', start)) return undefined;
  const minor = text.charCodeAt(end - 1);
  if (minor === 0x31) return 1;
  if (minor === 0x30) return 0;
  return undefined;
}

/**
 * Method names every request uses, as constants: the method is compared, looked up and recorded several times per
 * request, and a constant spares a new string each time and compares by reference.
 */
const KNOWN_METHODS = ['GET', 'PUT', 'POST', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH'];

function knownMethod(head: string, methodEnd: number): string | undefined {
  for (const method of KNOWN_METHODS) if (method.length === methodEnd && head.startsWith(method)) return method;
  return undefined;
}

/**
 * Field names common enough in DataKit's and ordinary clients' and origins' heads to be kept as constants, by
 * length: matching one (case-insensitively) spares the two strings of a slice and a toLowerCase(), and every later
 * comparison with the same constant is by reference.
 */
const KNOWN_FIELD_NAMES: ReadonlyArray<readonly string[] | undefined> = (() => {
  const names = [
    'te', 'via', 'host', 'date', 'etag', 'vary', 'accept', 'cookie', 'expect', 'server', 'pragma', 'origin', 'upgrade',
    'trailer', 'referer', 'location', 'connection', 'keep-alive', 'set-cookie', 'user-agent', 'content-type',
    'cache-control', 'authorization', 'last-modified', 'content-length', 'accept-encoding', 'accept-language',
    'x-forwarded-for', 'content-encoding', 'proxy-connection', 'transfer-encoding', 'proxy-authenticate',
    'proxy-authorization', 'x-datakit-uuid', 'x-precision', 'x-token',
  ];
  const byLength: Array<string[] | undefined> = [];
  for (const name of names) (byLength[name.length] ??= []).push(name);
  return byLength;
})();

/**
 * The lower-cased field name in `[start, end)` of `head` (already checked to be tchars). `| 0x20` lower-cases
 * A-Z and leaves a-z and `-` as they are; no other tchar becomes a letter or `-` with it, so a match is exact.
 */
function fieldName(head: string, bytes: Uint8Array, offset: number, start: number, end: number): string {
  const candidates = KNOWN_FIELD_NAMES[end - start];
  if (candidates !== undefined) {
    const at = offset + start;
    next: for (const name of candidates) {
      for (let i = 0; i < name.length; i++) if (((bytes[at + i] as number) | 0x20) !== name.charCodeAt(i)) continue next;
      return name;
    }
  }
  return head.slice(start, end).toLowerCase();
}
/** Three digits from `at` (before `end`), 100-599, or undefined. */
function statusCodeAt(line: string, at: number, end: number): number | undefined {
  if (at + 3 > end) return undefined;
  let code = 0;
  for (let i = at; i < at + 3; i++) {
    const digit = line.charCodeAt(i) - 0x30;
    if (!(digit >= 0 && digit <= 9)) return undefined;
    code = code * 10 + digit;
  }
  return code >= 100 && code <= 599 ? code : undefined;
}

/** The error for a malformed start or field line: a bare CR or LF in it is named as such (see message-scanner.ts). */
function invalidLine(line: string, message: string): MessageHeadError {
  return new MessageHeadError(line.includes('\r') || line.includes('\n') ? 'bare CR or LF in head' : message);
}
