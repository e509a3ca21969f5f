/**
 * A deliberately lenient origin for pool-poisoning tests: the kind of server request smuggling exploits. It answers
 * one request per read (so what a read leaves over waits for the next one, as in a server that parses on each read),
 * ends a chunked body at its `0` line without reading a trailer section, and answers with the request's path.
 * Never point a real client at it.
 */
import type { RawOriginConnection } from '../helpers/relay-routes.js';

/** Serves `connection` leniently; `paths` collects the path of every request it answered, in order. */
export function serveLeniently(connection: RawOriginConnection, paths: string[]): void {
  let buffered = '';
  connection.socket.on('data', (data: Buffer) => {
    buffered += data.toString('latin1');
    const request = takeRequest(buffered);
    if (request === undefined) return;
    buffered = buffered.slice(request.length);
    paths.push(request.path);
    const answer = request.path === '' ? 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n' : `HTTP/1.1 200 OK\r\nContent-Length: ${request.path.length}\r\n\r\n${request.path}`;
    connection.socket.write(answer);
  });
}

/** The first request in `text`: its length and path ('' when its request line is not one); undefined if incomplete. */
function takeRequest(text: string): { length: number; path: string } | undefined {
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd === -1) return undefined;
  const head = text.slice(0, headEnd);
  const requestLine = /^[A-Z]+ (\S+) HTTP\/1\.[01]$/.exec(head.split('\r\n')[0] ?? '');
  const path = requestLine?.[1] ?? '';
  let at = headEnd + 4;
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (length !== null) {
    at += Number(length[1]);
    return at <= text.length ? { length: at, path } : undefined;
  }
  if (!/\r\ntransfer-encoding: *chunked/i.test(head)) return { length: at, path };
  // Lenient chunked: the body ends with its `0` line; a CRLF right after it is taken as the end, anything else is
  // left for the next request (a trailer section is never read).
  for (;;) {
    const lineEnd = text.indexOf('\r\n', at);
    if (lineEnd === -1) return undefined;
    const size = parseInt(text.slice(at, lineEnd), 16);
    at = lineEnd + 2;
    if (size === 0) {
      if (text.startsWith('\r\n', at)) at += 2;
      return { length: at, path };
    }
    at += size + 2;
    if (at > text.length) return undefined;
  }
}
