/**
 * Parses HTTP/1.x message heads (RFC 9112 §2-§5) for the relays, which pass messages through as bytes and only
 * need to know where each one ends and what to record. Strict where leniency has been used to smuggle requests past
 * intermediaries: no obs-fold, no whitespace before the colon, no bare CR or LF, token characters only in methods
 * and field names, no controls in values.
 *
 * Linear time on any input: every line is read once, byte by byte, against the tables in byte-classes.ts. No
 * regular expression touches a peer's bytes (see byte-classes.ts for the cost of one that backtracks).
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
const HTTP_1_0 = 'HTTP/1.0';
const HTTP_1_1 = 'HTTP/1.1';

/** `head` is the head's text (latin1) without its final blank line. */
export function parseRequestHead(head: string): RequestHead {
  const lineEnd = endOfLine(head, 0);
  const line = head.slice(0, lineEnd);
  // request-line = method SP request-target SP HTTP-version (RFC 9112 §3), single spaces only.
  const methodEnd = skipTokenChars(line, 0);
  if (methodEnd === 0 || line.charCodeAt(methodEnd) !== SP) throw invalidLine(line, 'invalid request line');
  let targetEnd = methodEnd + 1;
  while (targetEnd < line.length && TARGET_CHAR[line.charCodeAt(targetEnd)] === 1) targetEnd++;
  if (targetEnd === methodEnd + 1 || line.charCodeAt(targetEnd) !== SP) throw invalidLine(line, 'invalid request line');
  const minorVersion = versionOf(line.slice(targetEnd + 1));
  if (minorVersion === undefined) throw invalidLine(line, 'invalid request line');
  const method = line.slice(0, methodEnd);
  const target = line.slice(methodEnd + 1, targetEnd);
  if (!isRequestTargetForm(method, target)) throw new MessageHeadError('invalid request target');
  return { method, target, minorVersion, headers: parseFieldLines(head, lineEnd) };
}

/**
 * A relay that passes the status line on as it came refuses a reason phrase with control characters; one that
 * writes a status line of its own (plain forwarding) can drop the phrase instead, as Node's HTTP client did.
 */
export function parseResponseHead(head: string, acceptInvalidReason = false): ResponseHead {
  const lineEnd = endOfLine(head, 0);
  const line = head.slice(0, lineEnd);
  // status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4). Some servers omit the space
  // before an empty reason, which §4 asks clients to accept.
  const minorVersion = versionOf(line.slice(0, HTTP_1_1.length));
  if (minorVersion === undefined || line.charCodeAt(HTTP_1_1.length) !== SP) throw invalidLine(line, 'invalid status line');
  const statusCode = statusCodeAt(line, HTTP_1_1.length + 1);
  const reasonStart = HTTP_1_1.length + 5;
  // RFC 9110 §15: a status code is 100-599; anything else is not HTTP (the relay answers 502).
  if (statusCode === undefined || (line.length > reasonStart - 1 && line.charCodeAt(reasonStart - 1) !== SP)) {
    throw invalidLine(line, 'invalid status line');
  }
  let reason: string | undefined = line.slice(reasonStart);
  for (let i = 0; i < reason.length; i++) {
    const code = reason.charCodeAt(i);
    if (FIELD_VALUE_CHAR[code] === 1) continue;
    // RFC 9112 §4: HTAB, SP, VCHAR, obs-text; a control is refused, or the phrase dropped when the caller asked.
    // Never a bare CR or LF: a parser that ends the line there reads the rest as a field.
    if (!acceptInvalidReason || code === CR || code === LF) throw invalidLine(line, 'invalid status line');
    reason = undefined;
    break;
  }
  return { statusCode, minorVersion, reason, headers: parseFieldLines(head, lineEnd) };
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

function parseFieldLines(head: string, startLineEnd: number): HeaderField[] {
  const headers: HeaderField[] = [];
  if (startLineEnd === head.length) return headers;
  for (let start = startLineEnd + CRLF.length; ; ) {
    const end = endOfLine(head, start);
    headers.push(parseFieldLine(head, start, end));
    if (end === head.length) return headers;
    start = end + CRLF.length;
  }
}

/** field-line = field-name ":" OWS field-value OWS (RFC 9112 §5), from `start` to `end` of `head`. */
function parseFieldLine(head: string, start: number, end: number): HeaderField {
  const nameEnd = skipTokenChars(head, start, end);
  if (nameEnd === start) {
    // obs-fold (a line starting with whitespace continues the previous one): RFC 9112 §5.2 lets a server reject it.
    throw new MessageHeadError(start < end && isOws(head.charCodeAt(start)) ? 'obsolete line folding' : 'invalid header field');
  }
  // RFC 9112 §5.1: no whitespace between the name and the colon (a server must reject it: request smuggling).
  if (nameEnd === end || head.charCodeAt(nameEnd) !== 0x3a) throw invalidLine(head.slice(start, end), 'invalid header field');
  for (let i = nameEnd + 1; i < end; i++) {
    const code = head.charCodeAt(i);
    if (FIELD_VALUE_CHAR[code] !== 1) throw new MessageHeadError(code === CR || code === LF ? 'bare CR or LF in head' : 'control character in header value');
  }
  const name = head.slice(start, nameEnd).toLowerCase();
  // llhttp refuses a tab after a Content-Length value and does not read `chunked<HTAB>` as chunked: a framing field
  // whose trailing whitespace holds a tab would be read one way by us and another by a client or origin behind us.
  if ((name === 'content-length' || name === 'transfer-encoding') && trailingOwsHasTab(head, nameEnd + 1, end)) {
    throw new MessageHeadError('a tab after a framing field value');
  }
  return { name, value: trimOws(head, nameEnd + 1, end) };
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

function skipTokenChars(text: string, start: number, end = text.length): number {
  let i = start;
  while (i < end && TCHAR[text.charCodeAt(i)] === 1) i++;
  return i;
}

function trimOws(text: string, start: number, end: number): string {
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

function versionOf(text: string): number | undefined {
  if (text === HTTP_1_1) return 1;
  if (text === HTTP_1_0) return 0;
  return undefined;
}

/** Three digits from `at`, 100-599, or undefined. */
function statusCodeAt(line: string, at: number): number | undefined {
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
