/**
 * The byte relay behind plain forwarding (src/proxy/client-connection.ts, forward-exchange.ts, forwarded-heads.ts,
 * origin-slots.ts). The proxy listener now reads and writes HTTP/1.1 itself instead of relying on Node's HTTP
 * server and client, so everything those used to give for free has to be earned again. This file checks, on real
 * loopback sockets, what forward.test.ts, error-responses.test.ts and hostile-upstreams.test.ts do not:
 *
 * - request heads: 431 over 16 KiB, 408 for a slow or absent head (timeouts.client_headers), and no 408 while a
 *   keep-alive connection waits between requests (timeouts.client_keepalive governs that); 400 at once for bare
 *   LF line ends and for an HTTP/1.1 request without exactly one Host; header bytes outside ASCII passed unchanged
 * - one client connection, many messages: pipelined requests answered in order, a CONNECT after a forwarded
 *   request, a client that half-closes with its request in flight (it has given up: no answer, the request is
 *   abandoned upstream), no-body and chunked responses keeping both sides alive
 * - HTTP/1.0 clients and close-delimited responses: `Connection: close` and a closed connection
 * - interim responses: passed to HTTP/1.1 clients, never to HTTP/1.0 ones
 * - limits.upstream_max_sockets_per_host: the cap holds, failed or abandoned requests give their slot back, and a
 *   request whose client closed while it waited for a slot is never sent
 * - failures: a 502 keeps the connection; an early answer, a malformed chunked body or a cut response close it; a
 *   malformed body once the response has begun cuts the connection (no 400 inside it); bare LFs upstream: 502
 * - flow control: 4 MiB each way through a slow reader, byte-identical, and the last response before a close
 *   reaches a client that stops reading for longer than the lingering close whole
 * - upstream keep-alive: reused across client connections, but not after the origin sent more than its response
 * - `https://` targets over verified TLS (refused without the origin's CA, accepted with --upstream-ca), and a
 *   broken TLS record from an origin, on a pooled connection or after a closing response, is not a crash
 * - bookkeeping: no request left in flight and no client connection left open after all of the above
 *
 * Raw sockets are used wherever the bytes on the wire are the point. A conversation with several steps on one
 * connection uses RawConversation below: raw-client.ts's readUntil starts a new transcript on every call and drops
 * what arrives between calls, which a pipelined exchange cannot afford.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net, { type LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import tls from 'node:tls';
import { ProxyAgent, request } from 'undici';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';
import {
  closedPort,
  echoHandler,
  startHttpOrigin,
  startHttpsOrigin,
  startTcpServer,
  type EchoReply,
  type OriginServer,
} from '../helpers/origin-servers.js';
import { rawExchange, statusOf } from '../helpers/raw-client.js';
import { createTestPki } from '../helpers/test-pki.js';
import { sample } from '../helpers/metrics-text.js';

/** Every test is bounded: a hang is a failure, not a stuck run. */
const BOUNDED = { timeout: 20_000 };
const HEADERS_TIMEOUT_MS = 300;
const KEEPALIVE_MS = 1500;

// ---------------------------------------------------------------------------------------------------------------
// Helpers: building requests, reading raw responses, small origins
// ---------------------------------------------------------------------------------------------------------------

/** A request head in absolute form; `extra` is further header lines, each ending in CRLF. */
function get(url: string, extra = '', method = 'GET'): string {
  return `${method} ${url} HTTP/1.1\r\nHost: ignored.example\r\n${extra}\r\n`;
}

interface RawResponse {
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
function parseResponses(text: string, closed = false, noBodyAt: ReadonlySet<number> = new Set()): { responses: RawResponse[]; rest: string } {
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

const finalsOf = (responses: RawResponse[]): RawResponse[] => responses.filter((r) => r.status >= 200);

/** One raw client connection and the whole transcript of what it received. */
class RawConversation {
  readonly socket: net.Socket;
  text = '';
  closed = false;
  readonly #wakers = new Set<() => void>();

  static async open(port: number): Promise<RawConversation> {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const conversation = new RawConversation(socket);
    await once(socket, 'connect');
    return conversation;
  }

  private constructor(socket: net.Socket) {
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
    socket.on('error', () => undefined);
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

  #wake(): void {
    for (const waker of [...this.#wakers]) waker();
  }
}

/** Polls `condition` until it holds or `timeoutMs` passes; returns whether it held. */
async function eventually(condition: () => boolean, timeoutMs = 2000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) return false;
    await delay(10);
  }
  return true;
}

/**
 * An origin answering `label METHOD url HTTP/version bodyLength` in text once the body is read, `?delay=ms` later,
 * so a test can tell from the body which origin answered which request.
 */
function labelledHandler(label: string) {
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

/** Runs `body` with the servers it starts closed afterwards, whatever happens. */
async function withServers<T extends { close(): Promise<unknown> }>(servers: Promise<T>[], body: (started: T[]) => Promise<void>): Promise<void> {
  const started = await Promise.all(servers);
  try {
    await body(started);
  } finally {
    for (const server of started) await server.close();
  }
}

/** Polls `target`'s egress_proxy_requests_in_flight until it is 0 or `timeoutMs` passes; returns the last value. */
async function inFlightSettles(target: TestProxy, timeoutMs = 1000): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const inFlight = sample(await target.metricsText(), 'egress_proxy_requests_in_flight');
    if (inFlight === 0 || Date.now() >= deadline) return inFlight;
    await delay(20);
  }
}

/** A TLS record no session can decrypt: application data (type 23), 32 bytes of junk. */
const BROKEN_TLS_RECORD = Buffer.from([0x17, 0x03, 0x03, 0x00, 0x20, ...Buffer.alloc(32, 0x42)]);

/**
 * An https origin whose TLS runs over a duplex of ours, so a broken record can follow its own encrypted bytes in the
 * same TCP write. `onRequest` gets the TLS socket once a request head is in, and `breakNextWrite()`, which glues
 * BROKEN_TLS_RECORD onto the encrypted bytes of the next write on it. `brokenRecordsSent` counts them.
 */
async function startBreakingTlsOrigin(
  credentials: { key: string; cert: string },
  onRequest: (socket: tls.TLSSocket, breakNextWrite: () => void) => void,
): Promise<{ port: number; brokenRecordsSent: number; close(): Promise<void> }> {
  const state = { brokenRecordsSent: 0 };
  const server = await startTcpServer((raw) => {
    let breakNext = false;
    const encrypted = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        if (breakNext) {
          breakNext = false;
          raw.write(Buffer.concat([chunk, BROKEN_TLS_RECORD]));
          state.brokenRecordsSent++;
        } else {
          raw.write(chunk);
        }
        callback();
      },
    });
    raw.on('data', (data: Buffer) => encrypted.push(data));
    raw.on('close', () => encrypted.destroy());
    const secure = new tls.TLSSocket(encrypted, { isServer: true, ...credentials });
    secure.on('error', () => raw.destroy());
    let received = '';
    secure.on('data', (data: Buffer) => {
      const headWasIn = received.includes('\r\n\r\n');
      received += data.toString('latin1');
      if (!headWasIn && received.includes('\r\n\r\n')) onRequest(secure, () => (breakNext = true));
    });
  });
  return Object.assign(state, { port: server.port, close: () => server.close() });
}

/** Runs `body`, failing if anything in this process throws uncaught meanwhile (the proxy runs in-process). */
async function withoutUncaughtExceptions(body: () => Promise<void>): Promise<void> {
  const uncaught: unknown[] = [];
  const record = (err: unknown): void => {
    uncaught.push(err);
  };
  process.on('uncaughtException', record);
  try {
    await body();
  } finally {
    process.off('uncaughtException', record);
  }
  assert.deepEqual(uncaught.map((err) => (err instanceof Error ? err.message : String(err))), [], 'an uncaught exception would have killed the proxy');
}

// ---------------------------------------------------------------------------------------------------------------
// The main proxy: short client timeouts so the timeout paths run in test time
// ---------------------------------------------------------------------------------------------------------------

let proxy: TestProxy;
let echo: OriginServer;

before(async () => {
  echo = await startHttpOrigin();
  proxy = await startTestProxy({}, (config) => {
    config.timeouts.clientHeadersMs = HEADERS_TIMEOUT_MS;
    config.timeouts.clientKeepAliveMs = KEEPALIVE_MS;
    config.timeouts.upstreamResponseMs = 5000;
  });
});
after(async () => {
  await proxy.stop(100);
  await echo.close();
});

describe('request heads on the proxy port', () => {
  test('a head over 16 KiB gets 431 and the connection closes, whether or not its end has arrived', BOUNDED, async () => {
    const requestsBefore = echo.requests;
    const cases = {
      'complete head': get(`${echo.url}/big`, `X-Big: ${'a'.repeat(17 * 1024)}\r\n`),
      'head with no end yet': `GET ${echo.url}/big HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20 * 1024)}`,
    };
    for (const [name, bytes] of Object.entries(cases)) {
      const result = await rawExchange(proxy.port, bytes);
      // 431, not 408: refused for its size as soon as it is too big, not left to run into the headers timeout.
      assert.equal(statusOf(result.text), 431, `${name}: ${result.text.slice(0, 200)}`);
      assert.match(result.text, /\r\nConnection: close\r\n/i, name);
      assert.ok(result.closedByServer, `${name}: connection closed`);
    }
    assert.equal(echo.requests, requestsBefore, 'nothing reached the origin');
  });

  test('the path and query reach the origin exactly as sent, dot segments and encodings untouched (RFC 9110 §7.1)', BOUNDED, async () => {
    const path = '/a/../b/%2e%2e/c?sig=a%2Fb&q={"x":[1]}';
    const result = await rawExchange(proxy.port, get(`${echo.url}${path}`, 'Connection: close\r\n'));
    const [response] = parseResponses(result.text).responses;
    assert.equal(response?.status, 200, result.text.slice(0, 200));
    assert.equal((JSON.parse(response.body) as EchoReply).url, path);
    const backslash = await rawExchange(proxy.port, get(`${echo.url}/a\\..\\b`));
    assert.equal(statusOf(backslash.text), 400, 'a backslash, which URL parsers read as a slash, is refused');
  });

  test('a head just under 16 KiB is forwarded whole', BOUNDED, async () => {
    const big = 'b'.repeat(15 * 1024);
    const result = await rawExchange(proxy.port, get(`${echo.url}/almost-big`, `X-Big: ${big}\r\nConnection: close\r\n`));
    const [response] = parseResponses(result.text).responses;
    assert.equal(response?.status, 200, result.text.slice(0, 200));
    assert.equal((JSON.parse(response.body) as EchoReply).headers['x-big'], big);
  });

  test('a head that trickles in slower than client_headers gets 408 and the connection closes', BOUNDED, async () => {
    const requestsBefore = echo.requests;
    const client = await RawConversation.open(proxy.port);
    const started = Date.now();
    client.write(`GET ${echo.url}/slowloris HTTP/1.1\r\n`);
    // One header line every 40 ms: a head that would take seconds to complete, each byte resetting nothing.
    const drip = setInterval(() => client.write('X-Drip: 1\r\n'), 40);
    try {
      await client.until((t) => t.includes('\r\n\r\n'), 'the 408');
      const elapsed = Date.now() - started;
      assert.equal(statusOf(client.text), 408, client.text);
      assert.match(client.text, /\r\nConnection: close\r\n/i);
      assert.ok(elapsed >= HEADERS_TIMEOUT_MS - 50, `answered after ${elapsed} ms, before the timeout`);
      assert.ok(elapsed < HEADERS_TIMEOUT_MS + 1500, `answered after ${elapsed} ms`);
      assert.ok(await client.closedWithin(3000), 'connection closed');
      assert.equal(echo.requests, requestsBefore, 'nothing reached the origin');
    } finally {
      clearInterval(drip);
      client.destroy();
    }
  });

  test('a connection that sends nothing gets 408 after client_headers and is closed', BOUNDED, async () => {
    const client = await RawConversation.open(proxy.port);
    const started = Date.now();
    try {
      await client.until((t) => t.includes('\r\n\r\n'), 'the 408');
      const elapsed = Date.now() - started;
      assert.equal(statusOf(client.text), 408, client.text);
      assert.match(client.text, /\r\nConnection: close\r\n/i);
      assert.ok(elapsed >= HEADERS_TIMEOUT_MS - 50 && elapsed < HEADERS_TIMEOUT_MS + 1500, `answered after ${elapsed} ms`);
      assert.ok(await client.closedWithin(3000), 'connection closed');
    } finally {
      client.destroy();
    }
  });

  test('between requests a keep-alive connection waits for client_keepalive, not client_headers, then closes quietly', BOUNDED, async () => {
    const client = await RawConversation.open(proxy.port);
    try {
      client.write(get(`${echo.url}/first`));
      await client.responses(1);
      await delay(HEADERS_TIMEOUT_MS * 2);
      assert.equal(client.closed, false, 'an idle keep-alive connection is not a slow head');
      client.write(get(`${echo.url}/second`));
      const [, second] = await client.responses(2);
      assert.equal(second?.status, 200);
      const idleFrom = Date.now();
      assert.ok(await client.closedWithin(KEEPALIVE_MS + 2000), 'closed once idle for client_keepalive');
      const idle = Date.now() - idleFrom;
      assert.ok(idle >= KEEPALIVE_MS - 300, `closed after ${idle} ms idle`);
      const { responses, rest } = parseResponses(client.text);
      assert.equal(responses.length, 2, 'no 408 or other answer on the idle close');
      assert.equal(rest, '');
    } finally {
      client.destroy();
    }
  });

  test('the headers timeout runs again for a later request head on a kept connection', BOUNDED, async () => {
    const client = await RawConversation.open(proxy.port);
    try {
      client.write(get(`${echo.url}/first`));
      await client.responses(1);
      const started = Date.now();
      client.write(`GET ${echo.url}/never-finished HTTP/1.1\r\nHost: x\r\n`);
      await client.responses(2);
      const elapsed = Date.now() - started;
      const second = parseResponses(client.text).responses[1];
      assert.equal(second?.status, 408, client.text);
      assert.ok(elapsed >= HEADERS_TIMEOUT_MS - 50, `answered after ${elapsed} ms`);
      assert.ok(await client.closedWithin(3000), 'connection closed');
    } finally {
      client.destroy();
    }
  });

  test('a head with bare LF line ends gets 400 at once, not 408 at the headers timeout', BOUNDED, async () => {
    const requestsBefore = echo.requests;
    const cases = {
      'all bare LF': `GET ${echo.url}/bare-lf HTTP/1.1\nHost: x\n\n`,
      'CRLF lines, ended by a bare LF': `GET ${echo.url}/bare-lf HTTP/1.1\r\nHost: x\r\n\n`,
    };
    for (const [name, bytes] of Object.entries(cases)) {
      const started = Date.now();
      const result = await rawExchange(proxy.port, bytes);
      const elapsed = Date.now() - started;
      // The head never ends by our reading (no CRLF CRLF): only refusing it as it comes answers before the timeout.
      assert.equal(statusOf(result.text), 400, `${name}: ${JSON.stringify(result.text.slice(0, 200))}`);
      assert.match(result.text, /\r\nConnection: close\r\n/i, name);
      assert.ok(result.closedByServer, `${name}: connection closed`);
      assert.ok(elapsed < HEADERS_TIMEOUT_MS, `${name}: answered after ${elapsed} ms`);
    }
    assert.equal(echo.requests, requestsBefore, 'nothing reached the origin');
  });

  test('an HTTP/1.1 request without Host, or with two Host fields, gets 400 and the connection closes', BOUNDED, async () => {
    const requestsBefore = echo.requests;
    const cases = {
      'no Host': `GET ${echo.url}/no-host HTTP/1.1\r\nAccept: */*\r\n\r\n`,
      'two Host fields': `GET ${echo.url}/two-hosts HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n`,
    };
    for (const [name, bytes] of Object.entries(cases)) {
      const result = await rawExchange(proxy.port, bytes);
      assert.equal(statusOf(result.text), 400, `${name}: ${JSON.stringify(result.text.slice(0, 200))}`);
      assert.match(result.text, /\r\nConnection: close\r\n/i, name);
      assert.ok(result.closedByServer, `${name}: connection closed`);
    }
    assert.equal(echo.requests, requestsBefore, 'nothing reached the origin');
    // HTTP/1.0 has no Host requirement: the same request without one is forwarded.
    const old = await rawExchange(proxy.port, `GET ${echo.url}/no-host-1.0 HTTP/1.0\r\n\r\n`);
    assert.equal(parseResponses(old.text, true).responses[0]?.status, 200, old.text.slice(0, 200));
  });

  test('header bytes outside ASCII pass unchanged both ways (latin1 in, raw UTF-8 out)', BOUNDED, async () => {
    let seenByOrigin: Buffer | undefined;
    await withServers([startTcpServer((socket) => {
      let received = Buffer.alloc(0);
      socket.on('data', (data: Buffer) => {
        received = Buffer.concat([received, data]);
        if (seenByOrigin !== undefined || !received.includes('\r\n\r\n')) return;
        seenByOrigin = received;
        // A raw UTF-8 file name (C3 BC, "ü"), as Content-Disposition often carries one.
        socket.write(Buffer.concat([
          Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Disposition: attachment; filename="'),
          Buffer.from([0xc3, 0xbc]),
          Buffer.from('.txt"\r\n\r\nok'),
        ]));
      });
    })], async ([origin]) => {
      const client = await RawConversation.open(proxy.port);
      try {
        client.write(Buffer.concat([
          Buffer.from(`GET http://127.0.0.1:${origin!.port}/obs-text HTTP/1.1\r\nHost: x\r\nX-Name: caf`),
          Buffer.from([0xe9]),
          Buffer.from('\r\nConnection: close\r\n\r\n'),
        ]));
        const [response] = await client.responses(1);
        assert.equal(response?.status, 200);
        const sent = /\r\nx-name: ([^\r]*)\r\n/i.exec(seenByOrigin?.toString('latin1') ?? '')?.[1];
        assert.equal(Buffer.from(sent ?? '', 'latin1').toString('hex'), '636166e9', 'X-Name as the origin received it');
        const filename = /filename="([^"]*)"/.exec(response.head)?.[1];
        assert.equal(Buffer.from(filename ?? '', 'latin1').toString('hex'), 'c3bc2e747874', 'the file name as the client received it');
      } finally {
        client.destroy();
      }
    });
  });
});

describe('many messages on one client connection', () => {
  test('pipelined requests to two origins, written at once, are answered in order', BOUNDED, async () => {
    await withServers([startHttpOrigin(labelledHandler('A')), startHttpOrigin(labelledHandler('B'))], async ([a, b]) => {
      // The first is the slowest: an answer out of order would put B's first.
      const bytes =
        `POST ${a!.url}/one?delay=150 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello` +
        get(`${b!.url}/two`) +
        get(`${a!.url}/three`, 'Connection: close\r\n');
      const result = await rawExchange(proxy.port, bytes);
      const { responses, rest } = parseResponses(result.text);
      assert.deepEqual(
        responses.map((r) => r.body),
        ['A POST /one?delay=150 HTTP/1.1 5', 'B GET /two HTTP/1.1 0', 'A GET /three HTTP/1.1 0'],
      );
      assert.equal(rest, '', 'nothing after the third response');
      assert.equal(responses[0]?.fields.get('connection'), undefined, 'kept alive after the first');
      assert.equal(responses[1]?.fields.get('connection'), undefined, 'kept alive after the second');
      assert.deepEqual(responses[2]?.fields.get('connection'), ['close']);
      assert.ok(result.closedByServer, 'closed after the request that asked for it');
    });
  });

  test('a CONNECT after a forwarded request turns the same connection into a tunnel', BOUNDED, async () => {
    const greeting = 'hello from upstream\n';
    await withServers([startTcpServer((socket) => {
      socket.write(greeting);
      socket.pipe(socket);
    })], async ([tcp]) => {
      const client = await RawConversation.open(proxy.port);
      try {
        client.write(get(`${echo.url}/before-tunnel`));
        const [forwarded] = await client.responses(1);
        assert.equal(forwarded?.status, 200);
        const mark = client.text.length;
        client.write(`CONNECT 127.0.0.1:${tcp!.port} HTTP/1.1\r\nHost: 127.0.0.1:${tcp!.port}\r\n\r\n`);
        await client.until((t) => t.slice(mark).includes(greeting), 'the upstream greeting through the tunnel');
        assert.equal(client.text.slice(mark), `HTTP/1.1 200 Connection established\r\n\r\n${greeting}`);
        // Bytes that look like a request go through as bytes: the proxy no longer reads this connection as HTTP.
        const probe = `GET ${echo.url}/not-for-the-proxy HTTP/1.1\r\nHost: x\r\n\r\n`;
        client.write(probe);
        await client.until((t) => t.endsWith(probe), 'the echo of the probe');
        assert.equal(client.text.slice(mark), `HTTP/1.1 200 Connection established\r\n\r\n${greeting}${probe}`);
        // Half-close: the echo server ends in turn, and the tunnel closes.
        client.socket.end();
        assert.ok(await client.closedWithin(3000), 'tunnel closed after both sides ended');
      } finally {
        client.destroy();
      }
    });
  });

  test('a CONNECT pipelined behind a forwarded request, with tunnel bytes behind it, all in one write', BOUNDED, async () => {
    await withServers([startTcpServer()], async ([tcp]) => {
      const client = await RawConversation.open(proxy.port);
      try {
        const early = 'early bytes for the tunnel\n';
        client.write(get(`${echo.url}/before-tunnel`) + `CONNECT 127.0.0.1:${tcp!.port} HTTP/1.1\r\nHost: x\r\n\r\n` + early);
        await client.until((t) => t.endsWith(early), 'the echo of the early bytes');
        const { responses, rest } = parseResponses(client.text, false, new Set([1]));
        assert.equal(responses[0]?.status, 200);
        assert.equal((JSON.parse(responses[0].body) as EchoReply).url, '/before-tunnel');
        assert.equal(responses[1]?.status, 200, 'CONNECT answered');
        assert.equal(rest, early, 'the early bytes went into the tunnel, once, after the 200');
        client.write('and more\n');
        await client.until((t) => t.endsWith(early + 'and more\n'), 'the echo of later bytes');
      } finally {
        client.destroy();
      }
    });
  });

  // A half-close and a close look alike, and a client that closes has given up (timed out, say). As with Node's
  // HTTP server, squid (half_closed_clients off) and nginx, its request is abandoned and nothing is answered.
  test('a client that half-closes with its request in flight gets no answer: the connection closes, the origin sees the request dropped', BOUNDED, async () => {
    const ORIGIN_DELAY_MS = 300;
    let started = 0;
    let answered = 0;
    let dropped = 0;
    await withServers([startHttpOrigin((_req, res) => {
      started++;
      const timer = setTimeout(() => {
        answered++;
        res.writeHead(200, { 'Content-Length': 8 });
        res.end('too late');
      }, ORIGIN_DELAY_MS);
      res.on('close', () => {
        if (res.writableFinished) return;
        dropped++;
        clearTimeout(timer);
      });
    })], async ([origin]) => {
      // FIN in the same flight as the request, and FIN once the origin is working on it.
      for (const when of ['with the request', 'once the origin has it']) {
        const startedBefore = started;
        const client = await RawConversation.open(proxy.port);
        try {
          client.write(get(`${origin!.url}/half-closed`));
          if (when === 'once the origin has it') {
            assert.ok(await eventually(() => started === startedBefore + 1), `${when}: the origin got the request`);
          }
          client.socket.end();
          const endedAt = Date.now();
          assert.ok(await client.closedWithin(ORIGIN_DELAY_MS + 1000), `${when}: connection closed by the proxy`);
          assert.equal(client.text, '', `${when}: no response bytes`);
          assert.ok(Date.now() - endedAt < ORIGIN_DELAY_MS, `${when}: closed after ${Date.now() - endedAt} ms, not at once`);
          assert.equal(await inFlightSettles(proxy), 0, `${when}: requests_in_flight back to 0`);
          assert.ok(await eventually(() => dropped === started), `${when}: the origin's request was dropped (started ${started}, dropped ${dropped})`);
        } finally {
          client.destroy();
        }
      }
      assert.equal(started, dropped);
      assert.ok(started >= 1);
      await delay(ORIGIN_DELAY_MS + 100);
      assert.equal(answered, 0, 'the origin never got to answer');
    });
  });

  test('chunked, HEAD, 204 and 304 responses keep both connections reusable (one upstream connection)', BOUNDED, async () => {
    await withServers([startHttpOrigin((req, res) => {
      if (req.url === '/chunked') {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.write('abc');
        setTimeout(() => res.end('def'), 20);
      } else if (req.url === '/head') {
        res.writeHead(200, { 'Content-Length': 1234 });
        res.end();
      } else if (req.url === '/no-content') {
        res.writeHead(204);
        res.end();
      } else {
        res.writeHead(304, { ETag: '"v1"' });
        res.end();
      }
    })], async ([origin]) => {
      const bytes =
        get(`${origin!.url}/chunked`) +
        get(`${origin!.url}/head`, '', 'HEAD') +
        get(`${origin!.url}/no-content`) +
        get(`${origin!.url}/not-modified`, 'If-None-Match: "v1"\r\n') +
        get(`${origin!.url}/chunked`, 'Connection: close\r\n');
      const result = await rawExchange(proxy.port, bytes);
      const { responses, rest } = parseResponses(result.text, false, new Set([1]));
      assert.deepEqual(responses.map((r) => r.status), [200, 200, 204, 304, 200], result.text);
      assert.equal(responses[0]?.body, 'abcdef');
      assert.deepEqual(responses[0]?.fields.get('transfer-encoding'), ['chunked']);
      assert.deepEqual(responses[1]?.fields.get('content-length'), ['1234'], 'HEAD keeps the length of the body it omits');
      assert.equal(responses[4]?.body, 'abcdef');
      assert.equal(rest, '');
      assert.ok(result.closedByServer);
      assert.equal(origin!.requests, 5);
      assert.equal(origin!.connections, 1, 'one upstream connection for all five');
    });
  });
});

describe('HTTP/1.0 clients and close-delimited responses', () => {
  test('an HTTP/1.0 request goes upstream as 1.0; the client gets Connection: close and the connection closes', BOUNDED, async () => {
    await withServers([startHttpOrigin(labelledHandler('A'))], async ([a]) => {
      // We do not keep HTTP/1.0 connections alive at all, even when the client asks for it.
      for (const extra of ['', 'Connection: keep-alive\r\n']) {
        const result = await rawExchange(proxy.port, `GET ${a!.url}/old HTTP/1.0\r\nHost: x\r\n${extra}\r\n`);
        const { responses, rest } = parseResponses(result.text, true);
        assert.equal(responses.length, 1, result.text);
        assert.equal(responses[0]?.status, 200);
        assert.equal(responses[0]?.body, 'A GET /old HTTP/1.0 0');
        assert.deepEqual(responses[0]?.fields.get('connection'), ['close'], `with ${JSON.stringify(extra)}`);
        assert.equal(responses[0]?.fields.get('transfer-encoding'), undefined);
        assert.equal(rest, '');
        assert.ok(result.closedByServer, `closed, with ${JSON.stringify(extra)}`);
      }
    });
  });

  test('a close-delimited response reaches an HTTP/1.1 client whole, re-framed as chunked, and the connection stays', BOUNDED, async () => {
    const body = Buffer.alloc(300_000, 'abcdefghijklmnopqrstuvwxyz').toString('latin1');
    await withServers([startTcpServer((socket) => {
      socket.once('data', () => socket.end(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n${body}`, 'latin1'));
    })], async ([origin]) => {
      const client = await RawConversation.open(proxy.port);
      try {
        client.write(get(`http://127.0.0.1:${origin!.port}/stream`));
        const [response] = await client.responses(1);
        assert.equal(response?.status, 200);
        assert.equal(response?.fields.get('connection'), undefined, 'kept alive: the chunked framing says where the body ends');
        assert.deepEqual(response?.fields.get('transfer-encoding'), ['chunked']);
        assert.equal(response?.fields.get('content-length'), undefined);
        assert.equal(response?.body.length, body.length);
        assert.ok(response?.body === body, 'body byte-identical');
        client.write(get(`${echo.url}/after-close-delimited`));
        const [, next] = await client.responses(2);
        assert.equal(next?.status, 200);
      } finally {
        client.destroy();
      }
      // An HTTP/1.0 client cannot read chunked: it gets the body until the close.
      const old = await rawExchange(proxy.port, `GET http://127.0.0.1:${origin!.port}/stream HTTP/1.0\r\n\r\n`);
      const [response] = parseResponses(old.text, true).responses;
      assert.deepEqual(response?.fields.get('connection'), ['close']);
      assert.equal(response?.fields.get('transfer-encoding'), undefined);
      assert.ok(response?.body === body, 'body byte-identical');
      assert.ok(old.closedByServer);
    });
  });
});

describe('interim responses', () => {
  test('Expect: 100-continue: the 100 from the origin reaches the client before it sends its body', BOUNDED, async () => {
    const client = await RawConversation.open(proxy.port);
    try {
      client.write(`POST ${echo.url}/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
      await client.until((t) => t.includes('\r\n\r\n'), 'the 100 Continue');
      assert.match(client.text, /^HTTP\/1\.1 100 Continue\r\n/);
      assert.equal(finalsOf(parseResponses(client.text).responses).length, 0, 'no final response before the body');
      client.write('hello');
      const responses = await client.responses(1);
      assert.deepEqual(responses.map((r) => r.status), [100, 200]);
      const reply = JSON.parse(responses[1]!.body) as EchoReply;
      assert.equal(reply.bodyLength, 5);
      assert.equal(reply.headers.expect, '100-continue', 'Expect is end-to-end: the origin saw it');
      client.write(get(`${echo.url}/after-continue`));
      const [, , third] = await client.responses(2);
      assert.equal(third?.status, 200, 'the connection stays usable after an interim response');
    } finally {
      client.destroy();
    }
  });

  test('an HTTP/1.0 client never receives a 1xx; an HTTP/1.1 client gets each one, in order', BOUNDED, async () => {
    // An origin that sends 100 and 103 to every request, HTTP/1.0 or not, then answers once the body is in.
    await withServers([startTcpServer((socket) => {
      let received = '';
      let interimSent = false;
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        if (!interimSent) {
          interimSent = true;
          socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n');
        }
        if (received.endsWith('\r\n\r\nhello')) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
      });
    })], async ([origin]) => {
      const url = `http://127.0.0.1:${origin!.port}/upload`;
      const old = await rawExchange(proxy.port, `POST ${url} HTTP/1.0\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello`);
      assert.doesNotMatch(old.text, /(^|\r\n)HTTP\/1\.[01] 1\d\d /, `1xx sent to an HTTP/1.0 client: ${old.text}`);
      const [final] = parseResponses(old.text, true).responses;
      assert.equal(final?.status, 200);
      assert.equal(final?.body, 'ok');
      assert.ok(old.closedByServer);

      const current = await rawExchange(proxy.port, `POST ${url} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`);
      const { responses } = parseResponses(current.text, true);
      assert.deepEqual(responses.map((r) => r.status), [100, 103, 200], current.text);
      assert.deepEqual(responses[1]?.fields.get('link'), ['</style.css>; rel=preload']);
      assert.equal(responses[2]?.body, 'ok');
    });
  });
});

describe('failures', () => {
  test('an upstream failure answers 502 and keeps the connection: the next request on it is served', BOUNDED, async () => {
    const port = await closedPort();
    const client = await RawConversation.open(proxy.port);
    try {
      // With a body: it must be consumed as this request's body, not read as the next request.
      client.write(`POST http://127.0.0.1:${port}/v1/write HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world`);
      const [failed] = await client.responses(1);
      assert.equal(failed?.status, 502);
      assert.ok(failed?.fields.get('x-egress-proxy-error')?.[0]?.startsWith('EPROXY_UPSTREAM_'), failed?.head);
      assert.equal(failed?.fields.get('connection'), undefined, 'the 502 does not close the connection');
      client.write(get(`${echo.url}/after-502`));
      const [, served] = await client.responses(2);
      assert.equal(served?.status, 200);
      assert.equal((JSON.parse(served.body) as EchoReply).url, '/after-502');
      assert.equal(client.closed, false);
    } finally {
      client.destroy();
    }
  });

  test('a 502 in the middle of a pipeline: the requests behind it are still answered, in order', BOUNDED, async () => {
    const port = await closedPort();
    const result = await rawExchange(
      proxy.port,
      get(`${echo.url}/one`) + get(`http://127.0.0.1:${port}/two`) + get(`${echo.url}/three`, 'Connection: close\r\n'),
    );
    const { responses, rest } = parseResponses(result.text);
    assert.deepEqual(responses.map((r) => r.status), [200, 502, 200], result.text);
    assert.equal((JSON.parse(responses[0]!.body) as EchoReply).url, '/one');
    assert.equal((JSON.parse(responses[2]!.body) as EchoReply).url, '/three');
    assert.equal(rest, '');
    assert.ok(result.closedByServer);
  });

  test('an origin that answers before the 2 MiB body is all in: the client gets it with Connection: close; the proxy carries on', BOUNDED, async () => {
    let upstreamClosed = 0;
    await withServers([startTcpServer((socket) => {
      // Answers at the first bytes, then reads and discards whatever else the proxy sends.
      socket.once('data', () => socket.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\n\r\ntoo large'));
      socket.on('close', () => upstreamClosed++);
    })], async ([origin]) => {
      const size = 2 * 1024 * 1024;
      const body = Buffer.alloc(size, 0x61);
      const client = await RawConversation.open(proxy.port);
      try {
        // A quarter of the body, then nothing until the answer: the answer comes while the body is unfinished.
        client.write(`POST http://127.0.0.1:${origin!.port}/upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
        client.write(body.subarray(0, size / 4));
        const [response] = await client.responses(1, 5000);
        assert.equal(response?.status, 413);
        assert.equal(response?.body, 'too large');
        assert.deepEqual(response?.fields.get('connection'), ['close'], 'the rest of the body is never read: framing ends here');
        // The client, not knowing better yet, sends the rest: it is discarded, not read as a next request.
        client.write(body.subarray(size / 4));
        assert.ok(await client.closedWithin(5000), 'client connection closed');
        assert.equal(parseResponses(client.text).rest, '', 'nothing after the 413');
      } finally {
        client.destroy();
      }
      // Its request was never finished: that upstream connection cannot be reused.
      assert.ok(await eventually(() => upstreamClosed === 1), 'the upstream connection was closed, not pooled');
      const next = await rawExchange(proxy.port, get(`${echo.url}/after-413`, 'Connection: close\r\n'));
      assert.equal(statusOf(next.text), 200);
    });
  });

  test('a chunked request body malformed mid-way gets 400 and the connection closes; the origin gets no complete request', BOUNDED, async () => {
    let started = 0;
    let completed = 0;
    let aborted = 0;
    await withServers([startHttpOrigin((req, res) => {
      started++;
      req.on('data', () => undefined);
      req.on('end', () => {
        completed++;
        res.end('complete');
      });
      req.on('close', () => {
        if (!req.complete) aborted++;
      });
    })], async ([origin]) => {
      const head = `POST ${origin!.url}/chunks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`;
      const bad = 'zz\r\nnot a chunk size\r\n0\r\n\r\n';
      for (const split of [false, true]) {
        const client = await RawConversation.open(proxy.port);
        try {
          if (split) {
            // The exchange is under way (the origin has the head and a chunk) when the garbage comes.
            client.write(head);
            assert.ok(await eventually(() => started === 1), 'the origin got the head');
            client.write(bad);
          } else {
            client.write(head + bad);
          }
          await client.until((t) => t.includes('\r\n\r\n'), 'the 400');
          assert.equal(statusOf(client.text), 400, `split=${split}: ${client.text}`);
          assert.match(client.text, /\r\nConnection: close\r\n/i);
          assert.ok(await client.closedWithin(3000), `split=${split}: connection closed`);
        } finally {
          client.destroy();
        }
      }
      assert.ok(await eventually(() => aborted === started), `the origin's request was cut (started ${started}, aborted ${aborted})`);
      assert.equal(completed, 0, 'no complete request reached the origin');
    });
  });

  test('a malformed chunk in the request body after the response has begun: the connection is cut, no 400 inside the response', BOUNDED, async () => {
    const start = 'a'.repeat(20);
    await withServers([startTcpServer((socket) => {
      // Answers at the head, before the body is done: 200 bytes announced, 20 sent, the rest never.
      socket.once('data', () => socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n${start}`));
    })], async ([origin]) => {
      const client = await RawConversation.open(proxy.port);
      try {
        client.write(`POST http://127.0.0.1:${origin!.port}/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`);
        await client.until((t) => t.endsWith(start), 'the start of the response');
        client.write('zz\r\n'); // not a chunk size
        assert.ok(await client.closedWithin(3000), 'connection cut');
        // Our 400 written now would be read as bytes 21 on of the origin's body.
        assert.doesNotMatch(client.text, /HTTP\/1\.1 400/, JSON.stringify(client.text));
        assert.equal(statusOf(client.text), 200);
        assert.ok(client.text.endsWith(`\r\n\r\n${start}`), `nothing after what the origin sent: ${JSON.stringify(client.text)}`);
        assert.equal(parseResponses(client.text).responses.length, 0, 'no response that looks complete');
      } finally {
        client.destroy();
      }
    });
  });

  test('a response head with bare LF line ends, the connection left open: 502 at once, not 504 at the response timeout', BOUNDED, async () => {
    const answers = {
      'all bare LF': 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok',
      'CRLF lines, ended by a bare LF': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\nok',
    };
    for (const [name, answer] of Object.entries(answers)) {
      await withServers([startTcpServer((socket) => socket.once('data', () => socket.write(answer)))], async ([origin]) => {
        const client = await RawConversation.open(proxy.port);
        try {
          const started = Date.now();
          client.write(get(`http://127.0.0.1:${origin!.port}/bare-lf`));
          // Long enough to see the 504 that a head which never ends by our reading would get.
          const [response] = await client.responses(1, 6000);
          const elapsed = Date.now() - started;
          assert.equal(response?.status, 502, `${name}: ${response?.head}`);
          assert.ok(elapsed < 1000, `${name}: answered after ${elapsed} ms (upstream_response is 5 s)`);
        } finally {
          client.destroy();
        }
      });
    }
  });

  test('an upstream that closes or garbles mid-body: the client connection is cut at once, never given a response that looks complete', BOUNDED, async () => {
    const answers = {
      'Content-Length, then close': { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b', close: true },
      'chunked, then close': { bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', close: true },
      // Left open: only the proxy noticing the bad chunk size can end this before the client's 3 s wait.
      'chunked, then a bad chunk size': { bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n', close: false },
    };
    for (const [framing, { bytes: answer, close }] of Object.entries(answers)) {
      await withServers([startTcpServer((socket) => socket.once('data', () => (close ? socket.end(answer) : socket.write(answer))))], async ([origin]) => {
        const result = await rawExchange(proxy.port, get(`http://127.0.0.1:${origin!.port}/cut`));
        assert.ok(result.closedByServer, `${framing}: connection cut`);
        // The head may have gone out before the cut, or still have been held with the body bytes read with it
        // (they leave in one write): either way the client must not see a complete response.
        if (result.text !== '') assert.equal(statusOf(result.text), 200, `${framing}: only the origin's head came before the cut`);
        assert.equal(parseResponses(result.text).responses.length, 0, `${framing}: no complete response: ${JSON.stringify(result.text)}`);
      });
    }
    const next = await rawExchange(proxy.port, get(`${echo.url}/after-cut`, 'Connection: close\r\n'));
    assert.equal(statusOf(next.text), 200);
  });
});

describe('flow control', () => {
  test('a 4 MiB response read slowly by the client arrives byte-identical', BOUNDED, async () => {
    const payload = randomBytes(4 * 1024 * 1024);
    const expected = createHash('sha256').update(payload).digest('hex');
    await withServers([startHttpOrigin((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': payload.length });
      res.end(payload);
    })], async ([origin]) => {
      const socket = net.connect({ port: proxy.port, host: '127.0.0.1' });
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      const chunks: Buffer[] = [];
      const received = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out with ${chunks.reduce((n, c) => n + c.length, 0)} bytes`)), 15_000);
        socket.on('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      socket.pause();
      socket.write(get(`${origin!.url}/big`, 'Connection: close\r\n'));
      // Nothing read for a while, so every buffer on the way fills up; then small sips with pauses.
      await delay(300);
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        socket.pause();
        setTimeout(() => socket.resume(), 2);
      });
      socket.resume();
      await received;
      const all = Buffer.concat(chunks);
      const headEnd = all.indexOf('\r\n\r\n');
      assert.equal(statusOf(all.subarray(0, headEnd).toString('latin1')), 200);
      const body = all.subarray(headEnd + 4);
      assert.equal(body.length, payload.length);
      assert.equal(createHash('sha256').update(body).digest('hex'), expected);
    });
  });

  test('a 4 MiB upload to an origin that reads slowly arrives byte-identical', BOUNDED, async () => {
    const payload = randomBytes(4 * 1024 * 1024);
    await withServers([startHttpOrigin((req, res) => {
      req.pause();
      setTimeout(() => {
        echoHandler(req, res);
        req.resume();
      }, 300);
    })], async ([origin]) => {
      const client = await RawConversation.open(proxy.port);
      try {
        client.write(`POST ${origin!.url}/upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${payload.length}\r\nConnection: close\r\n\r\n`);
        client.write(payload);
        const [response] = await client.responses(1, 15_000);
        assert.equal(response?.status, 200);
        const reply = JSON.parse(response.body) as EchoReply;
        assert.equal(reply.bodyLength, payload.length);
        assert.equal(reply.bodySha256, createHash('sha256').update(payload).digest('hex'));
      } finally {
        client.destroy();
      }
    });
  });
});

describe('the last response before a close, to a client that stops reading', () => {
  // After the last response the proxy closes lingering (reading and discarding for 2 s, so the client does not get
  // a reset). The 2 s must count from when everything written has left the proxy, not from when the response
  // ended: a client that is not reading leaves the tail of a large response in the proxy's socket buffer.
  const STALL_MS = 2500;
  let patient: TestProxy;
  before(async () => {
    // A proxy of its own, with the default client timeouts: none of the main proxy's short ones plays a part here.
    patient = await startTestProxy();
  });
  after(async () => {
    await patient.stop(100);
  });

  for (const framing of ['chunked', 'close-delimited'] as const) {
    test(`a large ${framing} response (the kernel's buffers full: ~4 MiB), the client stalled for ${STALL_MS} ms once it ended, arrives whole`, BOUNDED, async () => {
      const accepted: net.Socket[] = [];
      const onAccept = (message: unknown): void => {
        accepted.push((message as { socket: net.Socket }).socket);
      };
      diagnosticsChannel.subscribe('net.server.socket', onAccept);
      let proxySide: net.Socket | undefined;
      const sentHash = createHash('sha256');
      let sentBytes = 0;
      let originDone = false;
      // Small pieces, one at a time, until the proxy's socket to the client holds bytes the kernel would not take
      // (the client is not reading); then one more piece and the end of the response. Small, so the proxy is still
      // reading from the origin when the end comes and writes all of it before the client reads anything.
      const stream = async (socket: net.Socket): Promise<void> => {
        socket.write(framing === 'chunked' ? 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' : 'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n');
        const deadline = Date.now() + 12_000;
        for (;;) {
          const last = (proxySide?.writableLength ?? 0) > 0 || sentBytes >= 64 * 1024 * 1024 || Date.now() > deadline;
          const piece = randomBytes(4096);
          sentHash.update(piece);
          sentBytes += piece.length;
          if (framing === 'close-delimited') {
            if (last) socket.end(piece);
            else socket.write(piece);
          } else {
            socket.write(Buffer.concat([Buffer.from('1000\r\n'), piece, Buffer.from(last ? '\r\n0\r\n\r\n' : '\r\n')]));
          }
          if (last) break;
          await delay(1);
        }
        originDone = true;
      };
      try {
        await withServers([startTcpServer((socket) => socket.once('data', () => void stream(socket)))], async ([origin]) => {
          const client = await RawConversation.open(patient.port);
          try {
            client.socket.pause();
            const clientPort = client.socket.localPort;
            assert.ok(await eventually(() => (proxySide = accepted.find((s) => s.remotePort === clientPort && s.localPort === patient.port)) !== undefined));
            client.write(get(`http://127.0.0.1:${origin!.port}/big`, 'Connection: close\r\n'));
            assert.ok(await eventually(() => originDone, 15_000), 'the origin sent its whole response');
            assert.ok(await eventually(() => proxySide!.writableEnded, 2000), 'the proxy ended the client connection after the response');
            // The case that matters: part of the response is still in the proxy's buffer, waiting for the client.
            assert.ok(proxySide!.writableLength > 0, 'precondition: the tail of the response was still buffered when the proxy ended');
            await delay(STALL_MS);
            client.socket.resume();
            assert.ok(await client.closedWithin(5000), 'connection closed once the client had read everything');
          } finally {
            client.destroy();
          }
          const { responses } = parseResponses(client.text, true);
          assert.equal(responses.length, 1, `a complete response (${client.text.length} bytes received)`);
          assert.equal(responses[0]?.status, 200);
          assert.deepEqual(responses[0]?.fields.get('connection'), ['close']);
          const body = Buffer.from(responses[0].body, 'latin1');
          assert.equal(body.length, sentBytes, `got ${body.length} of ${sentBytes} bytes`);
          assert.equal(createHash('sha256').update(body).digest('hex'), sentHash.digest('hex'), 'byte-identical');
          assert.ok(sentBytes > 1024 * 1024, `the response was ${sentBytes} bytes: the kernel took all of it?`);
        });
      } finally {
        diagnosticsChannel.unsubscribe('net.server.socket', onAccept);
      }
    });
  }
});

describe('a graceful stop with a client that reads nothing of its last response', () => {
  test('stop(500) returns in bounded time while the tail of a finished response waits for a client that keeps sending', BOUNDED, async () => {
    const stopping = await startTestProxy();
    const accepted: net.Socket[] = [];
    const onAccept = (message: unknown): void => {
      accepted.push((message as { socket: net.Socket }).socket);
    };
    diagnosticsChannel.subscribe('net.server.socket', onAccept);
    let proxySide: net.Socket | undefined;
    let originDone = false;
    // As above: pieces until the proxy's socket to the client holds bytes the kernel would not take, then the end,
    // so the response is complete (the connection no longer serving a request) with its tail still unsent.
    const stream = async (socket: net.Socket): Promise<void> => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n');
      const deadline = Date.now() + 12_000;
      for (;;) {
        const last = (proxySide?.writableLength ?? 0) > 0 || Date.now() > deadline;
        if (last) {
          socket.end(randomBytes(4096));
          break;
        }
        socket.write(randomBytes(4096));
        await delay(1);
      }
      originDone = true;
    };
    try {
      await withServers([startTcpServer((socket) => socket.once('data', () => void stream(socket)))], async ([origin]) => {
        const client = await RawConversation.open(stopping.port);
        // Bytes from the client keep the connection's idle timer from firing: only a bound on the stop ends this.
        const trickle = setInterval(() => client.write('x'), 200);
        try {
          client.socket.pause();
          const clientPort = client.socket.localPort;
          assert.ok(await eventually(() => (proxySide = accepted.find((s) => s.remotePort === clientPort && s.localPort === stopping.port)) !== undefined));
          client.write(get(`http://127.0.0.1:${origin!.port}/big`, 'Connection: close\r\n'));
          assert.ok(await eventually(() => originDone, 15_000), 'the origin sent its whole response');
          assert.ok(await eventually(() => proxySide!.writableEnded, 2000), 'the proxy ended the client connection after the response');
          assert.ok(proxySide!.writableLength > 0, 'precondition: the tail of the response was still buffered when the proxy ended');
          const started = Date.now();
          await stopping.stop(500);
          const elapsed = Date.now() - started;
          assert.ok(elapsed < 4000, `stop took ${elapsed} ms`);
          assert.ok(proxySide!.destroyed, 'the lingering connection was closed by the stop');
        } finally {
          clearInterval(trickle);
          client.destroy();
        }
      });
    } finally {
      diagnosticsChannel.unsubscribe('net.server.socket', onAccept);
      await stopping.stop(100);
    }
  });
});

describe('upstream keep-alive', () => {
  test('two client connections one after the other reuse one upstream connection', BOUNDED, async () => {
    await withServers([startHttpOrigin()], async ([origin]) => {
      for (const path of ['/first', '/second']) {
        const result = await rawExchange(proxy.port, get(`${origin!.url}${path}`, 'Connection: close\r\n'));
        const [response] = parseResponses(result.text).responses;
        assert.equal(response?.status, 200);
        assert.equal((JSON.parse(response.body) as EchoReply).url, path);
        assert.ok(result.closedByServer);
      }
      assert.equal(origin!.requests, 2);
      assert.equal(origin!.connections, 1, 'the client\'s Connection: close is hop-by-hop: the upstream one was pooled');
    });
  });
  // Each answer comes in one write, so the proxy reads the extra bytes with the response, before it pools the
  // connection. An origin that disagrees with us about where its messages end cannot be trusted with the next
  // request: the MITM relay drops such a connection ("response without a request"), and Node's HTTP client, which
  // plain forwarding used before, destroyed a socket that got a double response.
  const overlongAnswers = {
    'a second, unsolicited response': {
      method: 'GET',
      answer: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirstHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond',
      expected: 'first',
    },
    'a body on a response to HEAD': { method: 'HEAD', answer: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', expected: '' },
  };
  for (const [name, { method, answer, expected }] of Object.entries(overlongAnswers)) {
    test(`an upstream connection that brought more than the response is not reused: ${name}`, BOUNDED, async () => {
      let connections = 0;
      await withServers([startTcpServer((socket) => {
        connections++;
        socket.on('data', () => socket.write(answer));
      })], async ([origin]) => {
        for (const path of ['/first', '/second']) {
          const result = await rawExchange(proxy.port, get(`http://127.0.0.1:${origin!.port}${path}`, 'Connection: close\r\n', method));
          const { responses, rest } = parseResponses(result.text, false, method === 'HEAD' ? new Set([0]) : new Set());
          assert.equal(responses[0]?.status, 200, result.text);
          assert.equal(responses[0]?.body, expected);
          assert.equal(rest, '', 'nothing of the extra bytes reaches the client');
        }
        assert.equal(connections, 2, 'the second request went over the connection the extra bytes came on');
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// limits.upstream_max_sockets_per_host = 2
// ---------------------------------------------------------------------------------------------------------------

describe('limits.upstream_max_sockets_per_host', () => {
  let limited: TestProxy;
  before(async () => {
    limited = await startTestProxy({}, (config) => {
      config.limits.upstreamMaxSocketsPerHost = 2;
      config.timeouts.upstreamResponseMs = 10_000;
    });
  });
  after(async () => {
    await limited.stop(100);
  });

  test('six concurrent requests to a slow origin: never more than two connections open, all six answered', BOUNDED, async () => {
    let active = 0;
    let maxActive = 0;
    await withServers([startHttpOrigin((req, res) => {
      active++;
      maxActive = Math.max(maxActive, active);
      setTimeout(() => {
        active--;
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(req.url ?? '') });
        res.end(req.url);
      }, 150);
    })], async ([origin]) => {
      let open = 0;
      let maxOpen = 0;
      origin!.server.on('connection', (socket: net.Socket) => {
        open++;
        maxOpen = Math.max(maxOpen, open);
        socket.on('close', () => open--);
      });
      const dispatcher = new ProxyAgent({ uri: limited.url, proxyTunnel: false });
      try {
        const started = Date.now();
        const results = await Promise.all(
          Array.from({ length: 6 }, async (_, i) => {
            const res = await request(`${origin!.url}/slow/${i}`, { dispatcher });
            return { status: res.statusCode, body: await res.body.text() };
          }),
        );
        const elapsed = Date.now() - started;
        assert.deepEqual(results, Array.from({ length: 6 }, (_, i) => ({ status: 200, body: `/slow/${i}` })));
        assert.ok(maxOpen <= 2, `origin saw ${maxOpen} connections open at once`);
        assert.ok(maxActive <= 2, `origin saw ${maxActive} requests at once`);
        // Three rounds of two: the others really waited (without the cap all six take one round).
        assert.ok(elapsed >= 3 * 150 - 50, `six requests took ${elapsed} ms`);
        assert.equal(origin!.requests, 6);
      } finally {
        await dispatcher.close();
      }
    });
  });

  test('failed upstream connections give their slots back: more failures than slots, then requests that work', BOUNDED, async () => {
    let healthy = false;
    await withServers([startTcpServer((socket) => {
      socket.on('data', () => {
        if (healthy) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        else socket.destroy();
      });
    })], async ([origin]) => {
      const url = `http://127.0.0.1:${origin!.port}/flaky`;
      for (let i = 0; i < 4; i++) {
        const failed = await rawExchange(limited.port, get(url, 'Connection: close\r\n'), { timeoutMs: 2000 });
        assert.equal(statusOf(failed.text), 502, `failure ${i + 1}: ${failed.text.split('\r\n')[0]}`);
      }
      const refusedPort = await closedPort();
      for (let i = 0; i < 4; i++) {
        const refused = await rawExchange(limited.port, get(`http://127.0.0.1:${refusedPort}/`, 'Connection: close\r\n'), { timeoutMs: 2000 });
        assert.equal(statusOf(refused.text), 502, `refused ${i + 1}: ${refused.text.split('\r\n')[0]}`);
      }
      healthy = true;
      for (let i = 0; i < 3; i++) {
        const ok = await rawExchange(limited.port, get(url, 'Connection: close\r\n'), { timeoutMs: 2000 });
        assert.equal(statusOf(ok.text), 200, `request ${i + 1} after the failures waited for a slot that never came back`);
      }
    });
  });

  test('clients that reset while holding or waiting for a slot give it back', BOUNDED, async () => {
    await withServers([startHttpOrigin((req, res) => {
      if (req.url === '/hang') return; // never answers
      res.writeHead(200, { 'Content-Length': 2 });
      res.end('ok');
    })], async ([origin]) => {
      const clients: RawConversation[] = [];
      try {
        for (let i = 0; i < 3; i++) {
          const client = await RawConversation.open(limited.port);
          client.write(get(`${origin!.url}/hang`));
          clients.push(client);
        }
        assert.ok(await eventually(() => origin!.requests === 2), 'two requests hold the two slots');
        await delay(100);
        assert.equal(origin!.requests, 2, 'the third waits for a slot');
        for (const client of clients) client.socket.resetAndDestroy();
        const ok = await rawExchange(limited.port, get(`${origin!.url}/ok`, 'Connection: close\r\n'), { timeoutMs: 2000 });
        assert.equal(statusOf(ok.text), 200, `slots not given back: ${JSON.stringify(ok.text)}`);
        assert.equal(origin!.requests, 3, 'the abandoned waiter was never sent upstream');
      } finally {
        for (const client of clients) client.destroy();
      }
    });
  });
});

describe('limits.upstream_max_sockets_per_host = 1: a client that closes while its request waits', () => {
  const UPSTREAM_RESPONSE_MS = 1000;
  let single: TestProxy;
  before(async () => {
    single = await startTestProxy({}, (config) => {
      config.limits.upstreamMaxSocketsPerHost = 1;
      // Short, so that A's slot is given back within the test even by a proxy that would keep it until a timeout.
      config.timeouts.upstreamResponseMs = UPSTREAM_RESPONSE_MS;
    });
  });
  after(async () => {
    await single.stop(100);
  });

  test('a POST waiting for the only slot, its client gone: never sent upstream, even once the slot is free', BOUNDED, async () => {
    const seen: string[] = [];
    let dropped = 0;
    await withServers([startHttpOrigin((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.on('close', () => {
        if (!res.writableFinished) dropped++;
      });
      if (req.url !== '/next') return; // the others are never answered
      res.writeHead(200, { 'Content-Length': 2 });
      res.end('ok');
    })], async ([origin]) => {
      const a = await RawConversation.open(single.port);
      const b = await RawConversation.open(single.port);
      try {
        a.write(get(`${origin!.url}/holds-the-slot`));
        assert.ok(await eventually(() => seen.length === 1), 'A holds the slot');
        b.write(`POST ${origin!.url}/from-b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc`);
        await delay(150);
        assert.deepEqual(seen, ['GET /holds-the-slot'], 'B waits for the slot');
        // B gives up, then A: A's slot is free from here on.
        b.socket.end();
        await delay(50);
        a.socket.end();
        const endedAt = Date.now();
        const inFlightSoon = await inFlightSettles(single, 500);
        const settledAfter = Date.now() - endedAt;
        // Past the point where even a slot held until the upstream response timeout would have been given back.
        await delay(UPSTREAM_RESPONSE_MS + 500);
        assert.deepEqual(seen, ['GET /holds-the-slot'], 'B\'s request, abandoned by its client, reached the origin');
        assert.equal(inFlightSoon, 0, `requests_in_flight ${settledAfter} ms after both clients closed`);
        assert.ok(b.closed, 'B\'s connection closed');
        assert.equal(b.text, '', 'no answer to B');
        assert.ok(a.closed, 'A\'s connection closed');
        assert.equal(a.text, '', 'no answer to A');
        assert.equal(dropped, 1, 'A\'s request was dropped upstream');
        // The slot is free for the next request.
        const next = await rawExchange(single.port, get(`${origin!.url}/next`, 'Connection: close\r\n'), { timeoutMs: 2000 });
        assert.equal(statusOf(next.text), 200, next.text.slice(0, 200));
        assert.deepEqual(seen, ['GET /holds-the-slot', 'GET /next']);
      } finally {
        a.destroy();
        b.destroy();
      }
    });
  });
});

describe('limits.upstream_max_sockets_per_host = 1: a request that cannot get a slot in time', () => {
  const CONNECT_MS = 300;
  let capped: TestProxy;
  before(async () => {
    capped = await startTestProxy({}, (config) => {
      config.limits.upstreamMaxSocketsPerHost = 1;
      config.timeouts.connectMs = CONNECT_MS;
      config.timeouts.upstreamResponseMs = 10_000;
    });
  });
  after(async () => {
    await capped.stop(100);
  });

  test('waiting for a slot is bounded like connecting: 504 after timeouts.connect, never sent upstream', BOUNDED, async () => {
    const seen: string[] = [];
    await withServers([startHttpOrigin((req) => {
      seen.push(req.url ?? ''); // never answered: the one slot stays taken
    })], async ([origin]) => {
      const holder = await RawConversation.open(capped.port);
      const waiter = await RawConversation.open(capped.port);
      try {
        holder.write(get(`${origin!.url}/holds-the-slot`));
        assert.ok(await eventually(() => seen.length === 1), 'the first request holds the slot');
        const started = Date.now();
        waiter.write(get(`${origin!.url}/waits`));
        await waiter.until((t) => /\r\n\r\n[\s\S]*\n$/.test(t), 'the answer to the waiting request');
        const elapsed = Date.now() - started;
        assert.equal(statusOf(waiter.text), 504, waiter.text);
        assert.match(waiter.text, /EPROXY_UPSTREAM_CONNECT_TIMEOUT/);
        assert.ok(elapsed >= CONNECT_MS - 50 && elapsed < CONNECT_MS + 2000, `answered after ${elapsed} ms`);
        assert.deepEqual(seen, ['/holds-the-slot'], 'the timed-out request never reached the origin');
      } finally {
        holder.destroy();
        waiter.destroy();
      }
    });
    assert.equal(await inFlightSettles(capped, 1000), 0);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// https:// absolute URIs: forwarded over TLS, verified against the trusted roots (plus --upstream-ca)
// ---------------------------------------------------------------------------------------------------------------

describe('https:// targets', () => {
  let origin: OriginServer;
  let strict: TestProxy;
  let trusting: TestProxy;
  /** A certificate for 127.0.0.1 from the CA `trusting` trusts. */
  let credentials: { key: string; cert: string };
  // `wrong-name.test` resolves to the origin's address, which its certificate does not name.
  const lookup: LookupFunction = (hostname, options, callback) => {
    if (hostname !== 'wrong-name.test') {
      const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      process.nextTick(() => (callback as (e: Error) => void)(err));
    } else if ((options as { all?: boolean }).all) {
      process.nextTick(() => (callback as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: '127.0.0.1', family: 4 }]));
    } else {
      process.nextTick(() => callback(null, '127.0.0.1', 4));
    }
  };

  before(async () => {
    const pki = await createTestPki();
    credentials = await pki.serverCert('127.0.0.1');
    origin = await startHttpsOrigin(credentials);
    const caFile = join(await mkdtemp(join(tmpdir(), 'egress-forward-ca-')), 'origin-ca.pem');
    await writeFile(caFile, pki.caPem);
    strict = await startTestProxy();
    trusting = await startTestProxy({ upstreamCaFile: caFile }, undefined, { lookup });
  });
  after(async () => {
    await strict.stop(100);
    await trusting.stop(100);
    await origin.close();
  });

  test('without the origin\'s CA: 502 (verification is on), and the client connection is kept', BOUNDED, async () => {
    const requestsBefore = origin.requests;
    const client = await RawConversation.open(strict.port);
    try {
      client.write(get(`${origin.url}/v1/write/metric`));
      const [refused] = await client.responses(1);
      assert.equal(refused?.status, 502, refused?.head);
      assert.deepEqual(refused?.fields.get('x-egress-proxy-error'), ['EPROXY_UPSTREAM_TLS']);
      assert.equal(refused?.fields.get('connection'), undefined);
      client.write(get(`${echo.url}/after-tls-failure`));
      const [, served] = await client.responses(2);
      assert.equal(served?.status, 200);
    } finally {
      client.destroy();
    }
    assert.equal(origin.requests, requestsBefore, 'no request was sent over the unverified connection');
    assert.equal(sample(await strict.metricsText(), 'egress_proxy_upstream_errors_total{reason="tls"}'), 1);
  });

  test('with --upstream-ca: forwarded over verified TLS; two client connections share one TLS connection', BOUNDED, async () => {
    const connectionsBefore = origin.connections;
    for (const path of ['/v1/write/metric?token=t', '/v1/write/logging']) {
      const result = await rawExchange(trusting.port, get(`${origin.url}${path}`, 'Connection: close\r\n'));
      const [response] = parseResponses(result.text).responses;
      assert.equal(response?.status, 200, result.text.slice(0, 300));
      const reply = JSON.parse(response.body) as EchoReply;
      assert.equal(reply.url, path);
      assert.equal(reply.headers.host, `127.0.0.1:${origin.port}`);
      assert.equal(reply.headers.via, '1.1 egress-proxy');
    }
    assert.equal(origin.connections - connectionsBefore, 1, 'the verified TLS connection was pooled and reused');
  });

  test('with --upstream-ca, a certificate for another name is still refused (502)', BOUNDED, async () => {
    const result = await rawExchange(trusting.port, get(`https://wrong-name.test:${origin.port}/`, 'Connection: close\r\n'));
    assert.equal(statusOf(result.text), 502, result.text.slice(0, 300));
    assert.match(result.text, /\r\nX-Egress-Proxy-Error: EPROXY_UPSTREAM_TLS\r\n/i);
  });

  // A TLS error can still be on its way after the socket is destroyed (OpenSSL is in the middle of the read that
  // holds the broken record), and an 'error' with no listener is an uncaught exception: the end of the proxy.
  const brokenRecordCases = {
    'on a connection idle in the pool': (socket: tls.TLSSocket, breakNextWrite: () => void): void => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      // Later, to the connection now parked: bytes nobody asked for, a broken record right behind them.
      setTimeout(() => {
        breakNextWrite();
        socket.write('unsolicited');
      }, 300);
    },
    'right after a Connection: close response, in the same TCP write': (socket: tls.TLSSocket, breakNextWrite: () => void): void => {
      breakNextWrite();
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
    },
  };
  for (const [name, onRequest] of Object.entries(brokenRecordCases)) {
    test(`a broken TLS record from an origin ${name}: the proxy survives and serves on`, BOUNDED, async () => {
      await withoutUncaughtExceptions(async () => {
        const broken = await startBreakingTlsOrigin(credentials, onRequest);
        const client = await RawConversation.open(trusting.port);
        try {
          client.write(get(`https://127.0.0.1:${broken.port}/broken-later`));
          const [response] = await client.responses(1);
          assert.equal(response?.status, 200, response?.head);
          assert.equal(response?.body, 'ok');
          assert.ok(await eventually(() => broken.brokenRecordsSent === 1), 'the broken record was sent');
          // Time for the proxy to read it, and for an error to escape if one does.
          await delay(300);
          client.write(get(`${echo.url}/after-broken-record`));
          const [, next] = await client.responses(2);
          assert.equal(next?.status, 200, 'the same client connection is served');
        } finally {
          client.destroy();
          await broken.close();
        }
        const fresh = await rawExchange(trusting.port, get(`${origin.url}/after-broken-record`, 'Connection: close\r\n'));
        assert.equal(statusOf(fresh.text), 200, fresh.text.slice(0, 200));
      });
    });
  }
});

describe('bookkeeping', () => {
  test('after everything above, no request of the main proxy is left in flight and every client connection is gone', BOUNDED, async () => {
    let metrics = '';
    const deadline = Date.now() + 5000;
    for (;;) {
      metrics = await proxy.metricsText();
      const inFlight = sample(metrics, 'egress_proxy_requests_in_flight');
      const connections = sample(metrics, 'egress_proxy_client_connections_active');
      if ((inFlight === 0 && connections === 0) || Date.now() > deadline) break;
      await delay(50);
    }
    assert.equal(sample(metrics, 'egress_proxy_requests_in_flight'), 0);
    assert.equal(sample(metrics, 'egress_proxy_client_connections_active'), 0);
  });
});
