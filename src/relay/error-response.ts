/**
 * Answers a client with one of our own errors: a short text/plain body, the status the error maps to, and an
 * `X-Egress-Proxy-Error` code. Written as raw bytes: the proxy listener and the MITM relay speak HTTP/1.1 on the
 * socket themselves.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { RejectError, type ProxyError } from '../errors.js';

/**
 * A complete HTTP/1.1 error response; `closeConnection` adds `Connection: close`, `fields` any header fields the
 * refusal carries (a 407's `Proxy-Authenticate`). `headRequest`: the answer to a HEAD has no body (RFC 9110
 * §9.3.2), whatever its Content-Length says; a client would read one as the start of the next response.
 */
export function errorResponseText(
  statusCode: number,
  message: string,
  code: string | undefined,
  closeConnection: boolean,
  fields: ReadonlyArray<readonly [string, string]> = [],
  headRequest = false,
): string {
  const body = `${message}\n`;
  let extra = '';
  for (const [name, value] of fields) extra += `${name}: ${value}\r\n`;
  return (
    `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? ''}\r\n` +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    (code ? `X-Egress-Proxy-Error: ${code}\r\n` : '') +
    extra +
    (closeConnection ? 'Connection: close\r\n' : '') +
    '\r\n' +
    (headRequest ? '' : body)
  );
}

/**
 * Writes a refusal (with the header fields it carries: a 407's challenge, a Retry-After) and closes; `lingerMs` as
 * for lingerThenClose.
 */
export function writeRawRefusal(socket: Duplex, error: RejectError, lingerMs = LINGER_MS): void {
  writeRawErrorResponse(socket, error.statusCode, error.publicMessage, error.code, error.responseFields, lingerMs);
}

/** The answer to a client for one of our errors (`method`: of the request it answers, when there was one). */
export function errorAnswer(error: ProxyError, closeConnection: boolean, method = ''): string {
  return errorResponseText(error.statusCode, error.publicMessage, error.code, closeConnection, error instanceof RejectError ? error.responseFields : [], method === 'HEAD');
}

/** How long a rejected socket may linger, reading and discarding, so our answer is not lost to a TCP reset. */
const LINGER_MS = 2000;
/** A client that takes none of our last bytes for this long is not waited for any more. */
const STALLED_MS = 10_000;

/**
 * Writes a complete HTTP/1.1 response and closes. The socket keeps reading (and discarding) for a moment:
 * closing with unread data in the receive buffer sends a RST, and the client may then lose the response we just
 * wrote (RFC 9112 §9.6 describes this "lingering close").
 */
export function writeRawErrorResponse(
  socket: Duplex,
  statusCode: number,
  message: string,
  code?: string,
  fields: ReadonlyArray<readonly [string, string]> = [],
  lingerMs = LINGER_MS,
): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(errorResponseText(statusCode, message, code, true, fields));
  lingerThenClose(socket, lingerMs);
}

/**
 * After our last write (`end()` already called): read and discard what the client still sends, then close a moment
 * after everything written has left (see above). The moment counts from the flush, not from the end() call, so a
 * slow reader still gets the whole of a large last response; a client that takes nothing for STALLED_MS is closed.
 * `lingerMs` 0 closes as soon as everything written has left (a refusal that has no linger budget left).
 */
export function lingerThenClose(socket: Duplex, lingerMs = LINGER_MS): void {
  socket.on('error', () => socket.destroy());
  socket.resume();
  const closeLater = (): void => {
    if (lingerMs <= 0) socket.destroy();
    else setTimeout(() => socket.destroy(), lingerMs).unref();
  };
  if (socket.writableFinished) {
    closeLater();
    return;
  }
  socket.once('finish', closeLater);
  let unsent = socket.writableLength;
  const stallCheck = setInterval(() => {
    if (socket.destroyed || socket.writableFinished) {
      clearInterval(stallCheck);
    } else if (socket.writableLength >= unsent) {
      clearInterval(stallCheck);
      socket.destroy();
    } else {
      unsent = socket.writableLength;
    }
  }, STALLED_MS).unref();
}
