/**
 * How long a message body is (RFC 9112 §6.3), decided from its head. Anything ambiguous is an error rather than
 * a guess: two parties that disagree on where a message ends are how requests are smuggled.
 */
import { TCHAR } from './byte-classes.js';
import { fieldValues, listItems, MessageHeadError, type HeaderField } from './message-head.js';

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
  const transferEncoding = fieldValues(headers, 'transfer-encoding');
  const contentLength = fieldValues(headers, 'content-length');
  if (transferEncoding.length > 0) {
    // §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing; HTTP/1.0 servers ignore the field.
    if (minorVersion === 0) throw new MessageHeadError('Transfer-Encoding in an HTTP/1.0 request');
    // §6.1: both present "ought to be handled as an error"; §6.3 item 4: a request whose final coding is not
    // chunked cannot be framed, answer 400 and close.
    if (contentLength.length > 0) throw new MessageHeadError('both Transfer-Encoding and Content-Length');
    if (!endsWithChunked(transferEncoding)) throw new MessageHeadError('Transfer-Encoding does not end in chunked');
    return CHUNKED;
  }
  if (contentLength.length > 0) return lengthFraming(contentLength);
  return NO_BODY;
}

/** `requestMethod` is the method of the request this response answers. */
export function responseBodyFraming(requestMethod: string, statusCode: number, minorVersion: number, headers: readonly HeaderField[]): BodyFraming {
  if (requestMethod === 'HEAD' || statusCode < 200 || statusCode === 204 || statusCode === 304) return NO_BODY;
  const transferEncoding = fieldValues(headers, 'transfer-encoding');
  if (transferEncoding.length > 0) {
    if (minorVersion === 0) throw new MessageHeadError('Transfer-Encoding in an HTTP/1.0 response');
    // Passed on as bytes, a response with both would be framed by Content-Length by some clients and by chunked
    // by others.
    if (fieldValues(headers, 'content-length').length > 0) throw new MessageHeadError('both Transfer-Encoding and Content-Length');
    return endsWithChunked(transferEncoding) ? CHUNKED : UNTIL_CLOSE;
  }
  const contentLength = fieldValues(headers, 'content-length');
  if (contentLength.length > 0) return lengthFraming(contentLength);
  return UNTIL_CLOSE;
}

function endsWithChunked(values: readonly string[]): boolean {
  const codings = values.flatMap(listItems).filter((coding) => coding !== '').map((coding) => coding.toLowerCase());
  // Only tokens: `chunked\xa0` must not pass for chunked here while the upstream reads it as something else.
  if (codings.some((coding) => !isToken(coding))) throw new MessageHeadError('invalid Transfer-Encoding');
  return codings.at(-1) === 'chunked' && codings.indexOf('chunked') === codings.length - 1;
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
