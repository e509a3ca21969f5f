/**
 * How long a message body is (RFC 9112 §6.3), decided from its head. Anything ambiguous is an error rather than
 * a guess: two parties that disagree on where a message ends are how requests are smuggled.
 *
 * Transfer-Encoding frames a body only when it is one field holding exactly `chunked` (any case, OWS around it):
 * the only coding the relays follow, and the only one every parser reads alike. A request with other codings is
 * refused with 501 (UnsupportedTransferCodingError, as squid answers), a malformed list with 400; a response with
 * either is a MessageHeadError (the relay answers 502). docs/http1-parsing.md has the whole table.
 */
import { UnsupportedTransferCodingError } from '../errors.js';
import { TCHAR } from './byte-classes.js';
import { fieldHasToken, listItems, MessageHeadError, type HeaderField } from './message-head.js';

export type BodyFraming =
  | { kind: 'none' }
  | { kind: 'length'; bytes: number }
  | { kind: 'chunked' }
  /** Response only: the body runs until the server closes the connection. */
  | { kind: 'close' };

const NO_BODY: BodyFraming = { kind: 'none' };
const CHUNKED: BodyFraming = { kind: 'chunked' };
const UNTIL_CLOSE: BodyFraming = { kind: 'close' };
/** 15 digits: up to 10^15 - 1, an exact integer in a double. */
const MAX_LENGTH_DIGITS = 15;

/** `minorVersion`: 0 for HTTP/1.0, 1 for HTTP/1.1. */
export function requestBodyFraming(minorVersion: number, headers: readonly HeaderField[]): BodyFraming {
  const { transferEncoding, contentLength } = framingFields(headers, true);
  if (transferEncoding.length > 0) {
    // §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing; HTTP/1.0 servers ignore the field.
    if (minorVersion === 0) throw new MessageHeadError('Transfer-Encoding in an HTTP/1.0 request');
    // §6.1: both present "ought to be handled as an error".
    if (contentLength.length > 0) throw new MessageHeadError('both Transfer-Encoding and Content-Length');
    // §6.1: a server answers a transfer coding it does not apply with 501.
    if (transferCodings(transferEncoding) === 'chunked-after-others') throw new UnsupportedTransferCodingError();
    return CHUNKED;
  }
  if (contentLength.length > 0) return lengthFraming(contentLength);
  return NO_BODY;
}

/** `requestMethod` is the method of the request this response answers. */
export function responseBodyFraming(requestMethod: string, statusCode: number, minorVersion: number, headers: readonly HeaderField[]): BodyFraming {
  // The framing fields are checked even where the status or method says there is no body (HEAD, 1xx, 204, 304):
  // the head is passed on, and a client that reads `Content-Length: 5, 6` differently must never get it.
  const { transferEncoding, contentLength } = framingFields(headers, false);
  let framing = UNTIL_CLOSE;
  if (transferEncoding.length > 0) {
    if (minorVersion === 0) throw new MessageHeadError('Transfer-Encoding in an HTTP/1.0 response');
    // Passed on as bytes, a response with both would be framed by Content-Length by some clients and by chunked
    // by others.
    if (contentLength.length > 0) throw new MessageHeadError('both Transfer-Encoding and Content-Length');
    // §6.3 item 4 would frame other codings by the close; we pass on only what we can check the end of.
    if (transferCodings(transferEncoding) === 'chunked-after-others') throw new MessageHeadError('unsupported transfer coding');
    framing = CHUNKED;
  } else if (contentLength.length > 0) {
    framing = lengthFraming(contentLength);
  }
  if (statusCode < 200) {
    // RFC 9110 §15.2: no 1xx to HTTP/1.0, and an interim response cannot end the connection. llhttp reads either as
    // the last response on it, and refuses the final one that follows.
    if (minorVersion === 0 || fieldHasToken(headers, 'connection', 'close')) throw new MessageHeadError('an interim response that ends the connection');
    return NO_BODY;
  }
  if (requestMethod === 'HEAD' || statusCode === 204 || statusCode === 304) return NO_BODY;
  return framing;
}

/** The values of the two framing fields, in one pass over the head. */
function framingFields(headers: readonly HeaderField[], request: boolean): { transferEncoding: string[]; contentLength: string[] } {
  const transferEncoding: string[] = [];
  const contentLength: string[] = [];
  for (const { name, value } of headers) {
    if (name === 'transfer-encoding') transferEncoding.push(value);
    else if (name === 'content-length') contentLength.push(value);
    // CGI-style servers (and the frameworks that copy them) turn `-` into `_` in names, so they read
    // `Content_Length` as Content-Length where we, llhttp and the RFC do not (aws/http-desync-guardian classes it
    // as ambiguous). Only requests reach such servers through us.
    else if (request && (name === 'transfer_encoding' || name === 'content_length')) throw new MessageHeadError('a field name that imitates a framing field');
  }
  return { transferEncoding, contentLength };
}

/**
 * Checks a request's or response's Transfer-Encoding fields: 'chunked' when they are one field holding exactly
 * chunked, 'chunked-after-others' when codings we do not apply come before it (`gzip, chunked`); anything else
 * is malformed framing (MessageHeadError).
 */
function transferCodings(values: readonly string[]): 'chunked' | 'chunked-after-others' {
  // Two fields are one list to the RFC (§5.3) but not to every parser: some read only the first or the last.
  if (values.length !== 1) throw new MessageHeadError('more than one Transfer-Encoding field');
  const codings = listItems(values[0] as string);
  let chunked = 0;
  for (const coding of codings) {
    // Only tokens, no empty items (`chunked,`), no parameters: `chunked\xa0` must not pass for chunked here while
    // an origin reads it as something else.
    if (coding === '' || !isToken(coding)) throw new MessageHeadError('invalid Transfer-Encoding');
    if (coding.toLowerCase() === 'chunked') chunked++;
  }
  // §6.1: a sender must not apply chunked more than once; §6.3 item 4: a request whose final coding is not chunked
  // cannot be framed (400), and a response whose final coding is not chunked ends at the close, which we refuse.
  if (chunked !== 1 || (codings.at(-1) as string).toLowerCase() !== 'chunked') throw new MessageHeadError('Transfer-Encoding does not end in a single chunked');
  return codings.length === 1 ? 'chunked' : 'chunked-after-others';
}

function isToken(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (TCHAR[text.charCodeAt(i)] !== 1) return false;
  return text.length > 0;
}

/**
 * Exactly one Content-Length field holding one number. §6.3 item 5 lets a recipient accept a list of identical
 * values, but the relay passes the head on unchanged, and an origin that reads `5, 5` or `,5` differently (as 0,
 * say) would take the body for a second request on a connection that is later pooled for other tunnels.
 */
function lengthFraming(values: readonly string[]): BodyFraming {
  const text = values[0] as string;
  if (values.length !== 1 || text.length === 0 || text.length > MAX_LENGTH_DIGITS) throw new MessageHeadError('invalid Content-Length');
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (!(digit >= 0 && digit <= 9)) throw new MessageHeadError('invalid Content-Length');
    bytes = bytes * 10 + digit;
  }
  return bytes === 0 ? NO_BODY : { kind: 'length', bytes };
}
