/**
 * How long a message body is (RFC 9112 §6.3), decided from its head. Anything ambiguous is an error rather than
 * a guess: two parties that disagree on where a message ends are how requests are smuggled.
 */
import { fieldValues, MessageHeadError, type HeaderField } from './message-head.js';

export type BodyFraming =
  | { kind: 'none' }
  | { kind: 'length'; bytes: number }
  | { kind: 'chunked' }
  /** Response only: the body runs until the server closes the connection. */
  | { kind: 'close' };

const NO_BODY: BodyFraming = { kind: 'none' };
const CHUNKED: BodyFraming = { kind: 'chunked' };
const UNTIL_CLOSE: BodyFraming = { kind: 'close' };
const DIGITS = /^\d{1,15}$/;

export function requestBodyFraming(headers: readonly HeaderField[]): BodyFraming {
  const transferEncoding = fieldValues(headers, 'transfer-encoding');
  const contentLength = fieldValues(headers, 'content-length');
  if (transferEncoding.length > 0) {
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
export function responseBodyFraming(requestMethod: string, statusCode: number, headers: readonly HeaderField[]): BodyFraming {
  if (requestMethod === 'HEAD' || statusCode < 200 || statusCode === 204 || statusCode === 304) return NO_BODY;
  const transferEncoding = fieldValues(headers, 'transfer-encoding');
  if (transferEncoding.length > 0) {
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
  const codings = values.join(',').split(',').map((coding) => coding.trim().toLowerCase()).filter((coding) => coding !== '');
  return codings.at(-1) === 'chunked' && codings.indexOf('chunked') === codings.length - 1;
}

/** §6.3 item 5: repeated or listed values must all be the same valid number. */
function lengthFraming(values: readonly string[]): BodyFraming {
  // The common case, one plain number, without building lists.
  if (values.length === 1 && DIGITS.test(values[0] as string)) {
    const bytes = Number(values[0]);
    return bytes === 0 ? NO_BODY : { kind: 'length', bytes };
  }
  const lengths = new Set(values.join(',').split(',').map((value) => value.trim()));
  const [only] = lengths;
  if (lengths.size !== 1 || only === undefined || !DIGITS.test(only)) throw new MessageHeadError('invalid Content-Length');
  const bytes = Number(only);
  return bytes === 0 ? NO_BODY : { kind: 'length', bytes };
}
