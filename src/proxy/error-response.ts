/**
 * Answers a client with one of our own errors: a short text/plain body and the status the error maps to.
 * Two forms: through Node's ServerResponse, and raw bytes on a socket (CONNECT and parse errors, where there is
 * no ServerResponse).
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProxyError } from '../errors.js';

export function sendErrorResponse(res: ServerResponse, error: ProxyError, closeConnection: boolean): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${error.publicMessage}\n`;
  res.shouldKeepAlive = res.shouldKeepAlive && !closeConnection;
  res.writeHead(error.statusCode, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'X-Egress-Proxy-Error': error.code,
    ...(closeConnection ? { Connection: 'close' } : {}),
  });
  res.end(body);
}

/** How long a rejected socket may linger, reading and discarding, so our answer is not lost to a TCP reset. */
const LINGER_MS = 2000;

/**
 * Writes a complete HTTP/1.1 response and closes. The socket keeps reading (and discarding) for a moment:
 * closing with unread data in the receive buffer sends a RST, and the client may then lose the response we just
 * wrote (RFC 9112 §9.6 describes this "lingering close").
 */
export function writeRawErrorResponse(socket: Duplex, statusCode: number, message: string, code?: string): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? ''}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      (code ? `X-Egress-Proxy-Error: ${code}\r\n` : '') +
      'Connection: close\r\n\r\n' +
      body,
  );
  socket.on('error', () => socket.destroy());
  socket.resume();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}
