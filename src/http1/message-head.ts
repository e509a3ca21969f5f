/**
 * Parses HTTP/1.x message heads (RFC 9112 §2-§5) for the intercepting relay, which passes messages through as
 * bytes and only needs to know where each one ends and what to record. Strict where leniency has been used to
 * smuggle requests past intermediaries: no obs-fold, no whitespace before the colon, no bare CR or LF, token
 * characters only in methods and field names.
 */

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

const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const REQUEST_LINE = new RegExp(`^(${TOKEN}) ([^\\x00-\\x20\\x7f]+) HTTP/1\\.([01])$`);
// A reason phrase is optional, and some servers omit the space before the empty one (RFC 9112 §4 asks clients
// to accept that).
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: (.*))?$/;
/** RFC 9112 §4: HTAB, SP, VCHAR, obs-text. */
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;
const FIELD_LINE = new RegExp(`^(${TOKEN}):[ \\t]*(.*?)[ \\t]*$`);
/** Controls other than HTAB are never allowed in a field value (RFC 9110 §5.5). */
const INVALID_FIELD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

/** `head` is the head's text (latin1) without its final blank line. */
export function parseRequestHead(head: string): RequestHead {
  const lines = splitLines(head);
  const match = REQUEST_LINE.exec(lines[0] as string);
  if (match === null) throw new MessageHeadError('invalid request line');
  return {
    method: match[1] as string,
    target: match[2] as string,
    minorVersion: Number(match[3]),
    headers: parseFieldLines(lines),
  };
}

/**
 * A relay that passes the status line on as it came refuses a reason phrase with control characters; one that
 * writes a status line of its own (plain forwarding) can drop the phrase instead, as Node's HTTP client did.
 */
export function parseResponseHead(head: string, acceptInvalidReason = false): ResponseHead {
  const lines = splitLines(head);
  const match = STATUS_LINE.exec(lines[0] as string);
  if (match === null) throw new MessageHeadError('invalid status line');
  let reason: string | undefined = match[3] ?? '';
  if (!REASON_PHRASE.test(reason)) {
    if (!acceptInvalidReason) throw new MessageHeadError('invalid status line');
    reason = undefined;
  }
  return { statusCode: Number(match[2]), minorVersion: Number(match[1]), reason, headers: parseFieldLines(lines) };
}

/** Every value of the named field (lower-case name), in order. */
export function fieldValues(headers: readonly HeaderField[], name: string): string[] {
  const values: string[] = [];
  for (const field of headers) if (field.name === name) values.push(field.value);
  return values;
}

/** Whether a comma-separated field (Connection, say) lists `token`, case-insensitively. */
export function fieldHasToken(headers: readonly HeaderField[], name: string, token: string): boolean {
  return fieldValues(headers, name).some((value) => value.split(',').some((item) => item.trim().toLowerCase() === token));
}

/** A CR not followed by LF, or an LF not preceded by CR. */
const BARE_CR_OR_LF = /\r(?!\n)|(?<!\r)\n/;

function splitLines(head: string): string[] {
  // Bare line ends are how requests get split differently by two parsers.
  if (BARE_CR_OR_LF.test(head)) throw new MessageHeadError('bare CR or LF in head');
  return head.split('\r\n');
}

function parseFieldLines(lines: readonly string[]): HeaderField[] {
  const headers: HeaderField[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    // obs-fold (a line starting with whitespace continues the previous one): RFC 9112 §5.2 lets a server reject it.
    const match = FIELD_LINE.exec(line);
    if (match === null) throw new MessageHeadError(line.startsWith(' ') || line.startsWith('\t') ? 'obsolete line folding' : 'invalid header field');
    const value = match[2] as string;
    if (INVALID_FIELD_VALUE.test(value)) throw new MessageHeadError('control character in header value');
    headers.push({ name: (match[1] as string).toLowerCase(), value });
  }
  return headers;
}
