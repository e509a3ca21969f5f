/**
 * Reading raw HTTP/1.1 off a client connection in tests: a conversation that keeps the whole transcript of what
 * the client received (a pipelined exchange cannot afford raw-client.ts's readUntil, which starts afresh on every
 * call), a parser for the responses in it, and small waiting helpers. The socket may be plain TCP or TLS.
 */
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

export interface RawResponse {
  status: number;
  head: string;
  /** Lower-cased field name → its values, in order. */
  fields: Map<string, string[]>;
  /** The body as latin1 text, chunked coding removed. */
  body: string;
}

/**
 * The complete responses at the start of `text` (latin1), interim ones included. A body with no framing runs to
 * the end of `text` once `closed`. `noBodyAt` holds the indexes (among final responses) of those that answer a HEAD
 * or a CONNECT, which have no body whatever their fields say.
 */
export function parseResponses(text: string, closed = false, noBodyAt: ReadonlySet<number> = new Set()): { responses: RawResponse[]; rest: string } {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const headEnd = text.indexOf('\r\n\r\n', at);
    if (headEnd < 0) break;
    const head = text.slice(at, headEnd);
    const [statusLine = '', ...lines] = head.split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
    const fields = new Map<string, string[]>();
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      fields.set(name, [...(fields.get(name) ?? []), line.slice(colon + 1).trim()]);
    }
    const bodyStart = headEnd + 4;
    const finals = responses.filter((r) => r.status >= 200).length;
    let body: string;
    let end: number;
    if (status < 200 || status === 204 || status === 304 || (status >= 200 && noBodyAt.has(finals))) {
      body = '';
      end = bodyStart;
    } else if (fields.get('transfer-encoding')?.some((v) => /chunked/i.test(v))) {
      const decoded = decodeChunked(text, bodyStart);
      if (decoded === undefined) break;
      ({ body, end } = decoded);
    } else if (fields.has('content-length')) {
      const length = Number(fields.get('content-length')?.[0]);
      if (text.length - bodyStart < length) break;
      body = text.slice(bodyStart, bodyStart + length);
      end = bodyStart + length;
    } else {
      if (!closed) break;
      body = text.slice(bodyStart);
      end = text.length;
    }
    responses.push({ status, head, fields, body });
    at = end;
  }
  return { responses, rest: text.slice(at) };
}

function decodeChunked(text: string, start: number): { body: string; end: number } | undefined {
  let at = start;
  let body = '';
  for (;;) {
    const lineEnd = text.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(text.slice(at, lineEnd).split(';')[0] ?? '', 16);
    at = lineEnd + 2;
    if (size === 0) {
      for (;;) {
        const trailerEnd = text.indexOf('\r\n', at);
        if (trailerEnd < 0) return undefined;
        const line = text.slice(at, trailerEnd);
        at = trailerEnd + 2;
        if (line === '') return { body, end: at };
      }
    }
    if (text.length < at + size + 2) return undefined;
    body += text.slice(at, at + size);
    at += size + 2;
  }
}

export const finalsOf = (responses: RawResponse[]): RawResponse[] => responses.filter((r) => r.status >= 200);

/** The status code of a raw HTTP/1.1 response text (0 when there is none). */
export function statusOf(text: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
}

/** The TCP socket under a TLS client socket (which has no reset of its own), for the harnesses to record. */
export const tcpUnder = new WeakMap<net.Socket, net.Socket>();

/** One raw client connection (TCP or TLS) and the whole transcript of what it received. */
export class RawConversation {
  readonly socket: net.Socket;
  text = '';
  closed = false;
  /** The connection ended with an error (a reset, for one). */
  errored: NodeJS.ErrnoException | undefined;
  readonly #wakers = new Set<() => void>();

  static async open(port: number, host = '127.0.0.1'): Promise<RawConversation> {
    const socket = net.connect({ port, host });
    const conversation = new RawConversation(socket);
    await once(socket, 'connect');
    return conversation;
  }

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.text += chunk.toString('latin1');
      this.#wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    // Writes racing the server's close fail with EPIPE/ECONNRESET; `closed` is what the tests look at.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.errored ??= err;
    });
  }

  write(data: string | Buffer): void {
    if (this.socket.writable) this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Resolves once the transcript satisfies `predicate`; rejects on timeout or a close that leaves it unsatisfied. */
  until(predicate: (text: string) => boolean, what: string, timeoutMs = 3000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (predicate(this.text)) {
          finish();
          resolve(this.text);
        } else if (this.closed) {
          finish();
          reject(new Error(`closed before ${what}; received: ${JSON.stringify(this.text.slice(0, 2000))}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out waiting for ${what}; received: ${JSON.stringify(this.text.slice(0, 2000))}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.#wakers.delete(check);
      };
      this.#wakers.add(check);
      check();
    });
  }

  /** Waits for `count` final responses; returns every response received (interim ones included). */
  async responses(count: number, timeoutMs = 3000, noBodyAt?: ReadonlySet<number>): Promise<RawResponse[]> {
    const parse = (text: string): RawResponse[] => parseResponses(text, this.closed, noBodyAt).responses;
    const text = await this.until((t) => finalsOf(parse(t)).length >= count, `${count} final response(s)`, timeoutMs);
    return parse(text);
  }

  /** Whether the server closed the connection within `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    if (this.closed) return true;
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await delay(10);
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Closes with a TCP reset, as a client that crashes or times out hard does. */
  reset(): void {
    (tcpUnder.get(this.socket) ?? this.socket).resetAndDestroy();
    this.socket.destroy();
  }

  #wake(): void {
    for (const waker of [...this.#wakers]) waker();
  }
}

/** Polls `condition` until it holds or `timeoutMs` passes; returns whether it held. */
export async function eventually(condition: () => boolean, timeoutMs = 2000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) return false;
    await delay(10);
  }
  return true;
}

/**
 * An origin handler answering `label METHOD url HTTP/version bodyLength` in text once the body is read, `?delay=ms`
 * later, so a test can tell from the body which origin answered which request.
 */
export function labelledHandler(label: string) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    let length = 0;
    req.on('data', (c: Buffer) => (length += c.length));
    req.on('end', () => {
      const wait = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('delay') ?? 0);
      setTimeout(() => {
        const body = `${label} ${req.method} ${req.url} HTTP/${req.httpVersion} ${length}`;
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      }, wait);
    });
  };
}
