/**
 * What our scanner makes of a byte stream, read the way the relays read it (src/http1 plus the relays' rules on
 * where a connection's HTTP ends): the messages it accepts, each with its method, target and decoded body, and how
 * many bytes of the stream the relays would act on. The differential test sends those bytes to llhttp.
 */
import { requestBodyFraming, responseBodyFraming } from '../../src/http1/body-framing.js';
import { RejectError } from '../../src/errors.js';
import { fieldHasToken, fieldValues, MessageHeadError, parseRequestHead, parseResponseHead, type RequestHead, type ResponseHead } from '../../src/http1/message-head.js';
import { MAX_HEAD_BYTES, MessageScanner } from '../../src/http1/message-scanner.js';
import { decodeCanonicalChunked } from './canonical-chunked.js';

export interface ModelMessage {
  /** Request method, or the response's status code as text. */
  start: string;
  target: string;
  body: Buffer;
}

export type ModelResult =
  | { accepted: false; error: string }
  /** Outside what the test compares: a CONNECT or an upgrade request (both relays stop reading HTTP there). */
  | { accepted: 'skipped'; reason: string }
  | {
      accepted: true;
      /** Complete messages, in order. */
      messages: ModelMessage[];
      /** Interim (1xx) responses before the final one (responses only). */
      interim: number;
      /** The bytes the relays would act on: up to where they stop reading HTTP, or all of them. */
      consumed: number;
      /** The stream ends inside a message (head or body) that the scanner has not refused so far. */
      endsInMessage: boolean;
    };

/**
 * Requests, as a client connection's: messages up to the first that ends the connection's HTTP (HTTP/1.0 without
 * keep-alive, `Connection: close`), after which the relays read nothing more. `pieces` splits the pushes (split
 * invariance is part of what is checked).
 */
export function modelRequests(wire: Buffer, pieces: readonly number[]): ModelResult {
  const messages: ModelMessage[] = [];
  let current: { head: RequestHead; chunked: boolean; body: Buffer[] } | undefined;
  let closing = false;
  let skipped: string | undefined;
  const scanner = new MessageScanner<RequestHead>(parseRequestHead, {
    onHead: (head) => {
      if (head.method === 'CONNECT' || (fieldHasToken(head.headers, 'connection', 'upgrade') && fieldValues(head.headers, 'upgrade').length > 0)) {
        skipped = head.method === 'CONNECT' ? 'CONNECT' : 'upgrade';
        scanner.stop();
        return { kind: 'none' };
      }
      const framing = requestBodyFraming(head.minorVersion, head.headers);
      current = { head, chunked: framing.kind === 'chunked', body: [] };
      closing = head.minorVersion === 0 ? !fieldHasToken(head.headers, 'connection', 'keep-alive') : fieldHasToken(head.headers, 'connection', 'close');
      return framing;
    },
    onBody: (data) => current?.body.push(Buffer.from(data)),
    onMessageEnd: () => {
      if (current === undefined) return;
      messages.push(message(current.head.method, current.head.target, current.chunked, current.body));
      current = undefined;
      if (closing) scanner.stop();
    },
  }, MAX_HEAD_BYTES);
  let offset = 0;
  try {
    for (const piece of pieces) {
      const chunk = wire.subarray(offset, offset + piece);
      const used = scanner.push(chunk);
      offset += used;
      if (used < chunk.length) break;
    }
  } catch (err) {
    return refused(err);
  }
  if (skipped !== undefined) return { accepted: 'skipped', reason: skipped };
  return { accepted: true, messages, interim: 0, consumed: offset, endsInMessage: scanner.inMessage };
}

/** One response to a `method` request, as a relay reads it: interim responses, then one final response. */
export function modelResponse(method: string, wire: Buffer, pieces: readonly number[]): ModelResult {
  const messages: ModelMessage[] = [];
  let interim = 0;
  let current: { head: ResponseHead; chunked: boolean; body: Buffer[] } | undefined;
  let offset = 0;
  const scanner = new MessageScanner<ResponseHead>(parseResponseHead, {
    onHead: (head) => {
      // Both relays refuse a switch nobody asked for (our generated requests never ask).
      if (head.statusCode === 101) throw new MessageHeadError('switched protocols without being asked');
      const framing = responseBodyFraming(method, head.statusCode, head.minorVersion, head.headers);
      current = { head, chunked: framing.kind === 'chunked', body: [] };
      return framing;
    },
    onBody: (data) => current?.body.push(Buffer.from(data)),
    onMessageEnd: () => {
      if (current === undefined) return;
      if (current.head.statusCode < 200) {
        interim++;
      } else {
        messages.push(message(String(current.head.statusCode), '', current.chunked, current.body));
        scanner.stop();
      }
      current = undefined;
    },
  }, MAX_HEAD_BYTES);
  try {
    for (const piece of pieces) {
      const chunk = wire.subarray(offset, offset + piece);
      const used = scanner.push(chunk);
      offset += used;
      if (used < chunk.length || messages.length > 0) break;
    }
    if (messages.length === 0) scanner.end();
  } catch (err) {
    return refused(err);
  }
  return { accepted: true, messages, interim, consumed: messages.length > 0 ? offset : wire.length, endsInMessage: messages.length === 0 };
}

/** What the relays refuse (400, 501, 502) is a refusal; any other error is a bug in the scanner or this model. */
function refused(err: unknown): ModelResult {
  if (err instanceof MessageHeadError || err instanceof RejectError) return { accepted: false, error: err.message };
  throw err;
}

function message(start: string, target: string, chunked: boolean, body: readonly Buffer[]): ModelMessage {
  const bytes = Buffer.concat(body);
  return { start, target, body: chunked ? decodeCanonicalChunked(bytes) : bytes };
}
