/**
 * The HTTP/1.1 behaviour of the relay, as one table run over both routes (test/relay/http-relay-*.test.ts run it
 * for forwarding and for MITM, in parallel): on real loopback sockets, raw bytes wherever the bytes on the wire are
 * the point. A handful of checks only make sense on one route (absolute-URI details, CONNECT on the proxy port,
 * `https://` URIs, Host inside a tunnel) and say so.
 *
 * - request heads: 431 over 16 KiB, 408 for a slow or absent head, no 408 between requests (client_keepalive
 *   governs that), 400 at once for bare LF line ends and for a bad Host, header bytes outside ASCII unchanged
 * - one connection, many messages: pipelining in order, half-close with a request in flight, no-body and chunked
 *   responses keeping both sides alive, HTTP/1.0 clients, close-delimited bodies, interim responses
 * - failures: 502 keeps the connection; an early answer, a malformed chunked body or a cut response end it; a
 *   refusal never lands inside a response; bare LFs upstream: 502; out-of-range status codes: 502
 * - flow control both ways; upstream keep-alive and what spoils it; the per-origin slot cap
 * - upgrades (101) both ways; Proxy-Authorization never reaches the origin; drain
 * - bookkeeping: nothing left in flight
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type http from 'node:http';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { request } from 'undici';
import { curl } from './curl.js';
import { sample } from './metrics-text.js';
import { eventually, finalsOf, labelledHandler, parseResponses, RawConversation, statusOf } from './http-transcript.js';
import { echoHandler, type EchoReply, type OriginServer } from './origin-servers.js';
import { startRoute, type RouteHarness, type RouteName } from './relay-routes.js';

/** Every test is bounded: a hang is a failure, not a stuck run. */
export const BOUNDED = { timeout: 20_000 };
const HEADERS_TIMEOUT_MS = 300;
const KEEPALIVE_MS = 800;

/** Runs `body` with the harness's raw origins and conversations closed afterwards, whatever happens. */
async function using<T>(conversations: RawConversation[], body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } finally {
    for (const c of conversations) c.destroy();
  }
}

/** Polls the proxy's requests_in_flight until it is 0 or `timeoutMs` passes; returns the last value. */
export async function inFlightSettles(h: RouteHarness, timeoutMs = 1000): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const inFlight = sample(await h.proxy.metricsText(), 'egress_proxy_requests_in_flight');
    if (inFlight === 0 || Date.now() >= deadline) return inFlight;
    await delay(20);
  }
}

/** A raw origin that answers each request head (after `bodyBytes` of body) with `answer`. */
async function answeringOrigin(h: RouteHarness, answer: string | ((request: string) => string), end = false) {
  return h.rawOrigin((connection) => {
    let seen = 0;
    connection.socket.on('data', () => {
      const received = connection.received().toString('latin1');
      const heads = received.split('\r\n\r\n').length - 1;
      while (seen < heads) {
        seen++;
        const text = typeof answer === 'string' ? answer : answer(received);
        if (end) connection.socket.end(text, 'latin1');
        else connection.socket.write(text, 'latin1');
      }
    });
  });
}

export function relaySuite(route: RouteName): void {
  let h: RouteHarness;
  let echo: OriginServer;

  before(async () => {
    h = await startRoute(route, {
      tweak: (config) => {
        config.timeouts.clientHeadersMs = HEADERS_TIMEOUT_MS;
        config.timeouts.clientKeepAliveMs = KEEPALIVE_MS;
        config.timeouts.upstreamResponseMs = 5000;
      },
    });
    echo = await h.httpOrigin();
  });
  after(async () => {
    await h.close();
  });

  const get = (port: number, path: string, extra = '', method = 'GET'): string => h.head(port, path, extra, method);

  describe(`${route}: request heads`, () => {
    test('a head over 16 KiB gets 431 and the connection closes, whether or not its end has arrived', BOUNDED, async () => {
      const requestsBefore = echo.requests;
      const cases = {
        'complete head': get(echo.port, '/big', `X-Big: ${'a'.repeat(17 * 1024)}\r\n`),
        'head with no end yet': `GET ${h.target(echo.port, '/big')} HTTP/1.1\r\nHost: 127.0.0.1:${echo.port}\r\nX-Big: ${'a'.repeat(20 * 1024)}`,
      };
      for (const [name, bytes] of Object.entries(cases)) {
        const result = await h.exchange(echo.port, bytes);
        // 431, not 408: refused for its size as soon as it is too big, not left to run into the headers timeout.
        assert.equal(statusOf(result.text), 431, `${name}: ${result.text.slice(0, 200)}`);
        assert.match(result.text, /\r\nConnection: close\r\n/i, name);
        assert.ok(result.closedByServer, `${name}: connection closed`);
      }
      assert.equal(echo.requests, requestsBefore, 'nothing reached the origin');
    });

    test('a head just under 16 KiB is forwarded whole, its field lines as they arrived', BOUNDED, async () => {
      const big = 'b'.repeat(15 * 1024);
      const result = await h.exchange(echo.port, get(echo.port, '/almost-big', `X-Big: ${big}\r\nX-MiXeD-CaSe: kept\r\nConnection: close\r\n`));
      const [response] = parseResponses(result.text).responses;
      assert.equal(response?.status, 200, result.text.slice(0, 200));
      const reply = JSON.parse(response.body) as EchoReply;
      assert.equal(reply.headers['x-big'], big);
      assert.ok(reply.rawHeaders.includes('X-MiXeD-CaSe'), 'the field name kept its case');
    });

    test('a head that trickles in slower than client_headers gets 408 and the connection closes', BOUNDED, async () => {
      const requestsBefore = echo.requests;
      const client = await h.open(echo.port);
      await using([client], async () => {
        const started = Date.now();
        client.write(`GET ${h.target(echo.port, '/slowloris')} HTTP/1.1\r\n`);
        // One header line every 40 ms: a head that would take seconds to complete, each byte resetting nothing.
        const drip = setInterval(() => client.write('X-Drip: 1\r\n'), 40);
        try {
          await client.until((t) => t.includes('\r\n\r\n'), 'the 408');
        } finally {
          clearInterval(drip);
        }
        const elapsed = Date.now() - started;
        assert.equal(statusOf(client.text), 408, client.text);
        assert.match(client.text, /\r\nConnection: close\r\n/i);
        assert.ok(elapsed >= HEADERS_TIMEOUT_MS - 50, `answered after ${elapsed} ms, before the timeout`);
        assert.ok(elapsed < HEADERS_TIMEOUT_MS + 1500, `answered after ${elapsed} ms`);
        assert.ok(await client.closedWithin(3000), 'connection closed');
        assert.equal(echo.requests, requestsBefore, 'nothing reached the origin');
      });
      const metrics = await h.proxy.metricsText();
      assert.ok((sample(metrics, 'egress_proxy_client_failures_total{reason="headers_timeout"}') ?? 0) >= 1, 'counted as a client timeout');
    });

    test('a connection that sends nothing gets 408 after client_headers and is closed', BOUNDED, async () => {
      const client = await h.open(echo.port);
      await using([client], async () => {
        const started = Date.now();
        await client.until((t) => t.includes('\r\n\r\n'), 'the 408');
        const elapsed = Date.now() - started;
        assert.equal(statusOf(client.text), 408, client.text);
        assert.ok(elapsed < HEADERS_TIMEOUT_MS + 1500, `answered after ${elapsed} ms`);
        assert.ok(await client.closedWithin(3000), 'connection closed');
      });
    });

    test('between requests a keep-alive connection waits for client_keepalive, not client_headers, then closes quietly', BOUNDED, async () => {
      const client = await h.open(echo.port);
      await using([client], async () => {
        client.write(get(echo.port, '/first'));
        await client.responses(1);
        await delay(HEADERS_TIMEOUT_MS * 2);
        assert.equal(client.closed, false, 'an idle keep-alive connection is not a slow head');
        client.write(get(echo.port, '/second'));
        const [, second] = await client.responses(2);
        assert.equal(second?.status, 200);
        const idleFrom = Date.now();
        assert.ok(await client.closedWithin(KEEPALIVE_MS + 2000), 'closed once idle for client_keepalive');
        const idle = Date.now() - idleFrom;
        assert.ok(idle >= KEEPALIVE_MS - 300, `closed after ${idle} ms idle`);
        const { responses, rest } = parseResponses(client.text);
        assert.equal(responses.length, 2, 'no 408 or other answer on the idle close');
        assert.equal(rest, '');
      });
    });

    test('the headers timeout runs again for a later request head on a kept connection', BOUNDED, async () => {
      const client = await h.open(echo.port);
      await using([client], async () => {
        client.write(get(echo.port, '/first'));
        await client.responses(1);
        const started = Date.now();
        client.write(`GET ${h.target(echo.port, '/never-finished')} HTTP/1.1\r\nHost: 127.0.0.1:${echo.port}\r\n`);
        const [, second] = await client.responses(2);
        assert.equal(second?.status, 408, client.text);
        assert.ok(Date.now() - started >= HEADERS_TIMEOUT_MS - 50);
        assert.ok(await client.closedWithin(3000), 'connection closed');
      });
    });

    test('a head with bare LF line ends gets 400 at once, not 408 at the headers timeout', BOUNDED, async () => {
      const requestsBefore = echo.requests;
      const cases = {
        'all bare LF': `GET ${h.target(echo.port, '/bare-lf')} HTTP/1.1\nHost: x\n\n`,
        'CRLF lines, ended by a bare LF': `GET ${h.target(echo.port, '/bare-lf')} HTTP/1.1\r\nHost: 127.0.0.1:${echo.port}\r\n\n`,
      };
      for (const [name, bytes] of Object.entries(cases)) {
        const started = Date.now();
        const result = await h.exchange(echo.port, bytes);
        const elapsed = Date.now() - started;
        assert.equal(statusOf(result.text), 400, `${name}: ${JSON.stringify(result.text.slice(0, 200))}`);
        assert.match(result.text, /\r\nConnection: close\r\n/i, name);
        assert.ok(result.closedByServer, `${name}: connection closed`);
        assert.ok(elapsed < HEADERS_TIMEOUT_MS + 200, `${name}: answered after ${elapsed} ms`);
      }
      assert.equal(echo.requests, requestsBefore, 'nothing reached the origin');
    });

    test('an HTTP/1.1 request without Host, or with two Host fields, gets 400 and the connection closes', BOUNDED, async () => {
      const requestsBefore = echo.requests;
      const target = h.target(echo.port, '/host');
      const cases = {
        'no Host': `GET ${target} HTTP/1.1\r\nAccept: */*\r\n\r\n`,
        'two Host fields': `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${echo.port}\r\nHost: 127.0.0.1:${echo.port}\r\n\r\n`,
      };
      for (const [name, bytes] of Object.entries(cases)) {
        const result = await h.exchange(echo.port, bytes);
        assert.equal(statusOf(result.text), 400, `${name}: ${JSON.stringify(result.text.slice(0, 200))}`);
        assert.match(result.text, /\r\nConnection: close\r\n/i, name);
        assert.ok(result.closedByServer, `${name}: connection closed`);
      }
      assert.equal(echo.requests, requestsBefore, 'nothing reached the origin');
      // HTTP/1.0 has no Host requirement: the same request without one is relayed.
      const old = await h.exchange(echo.port, `GET ${target} HTTP/1.0\r\n\r\n`);
      assert.equal(parseResponses(old.text, true).responses[0]?.status, 200, old.text.slice(0, 200));
    });

    if (route === 'mitm') {
      test('inside a tunnel Host must name the CONNECT authority, and an absolute target must too (400 otherwise)', BOUNDED, async () => {
        const requestsBefore = echo.requests;
        for (const bytes of [
          `GET /x HTTP/1.1\r\nHost: 127.0.0.1:${echo.port + 1}\r\n\r\n`,
          'GET /x HTTP/1.1\r\nHost: elsewhere.example\r\n\r\n',
          'GET https://elsewhere.example/x HTTP/1.1\r\nHost: elsewhere.example\r\n\r\n',
        ]) {
          const result = await h.exchange(echo.port, bytes);
          assert.equal(statusOf(result.text), 400, JSON.stringify(bytes));
          assert.ok(result.closedByServer);
        }
        assert.equal(echo.requests, requestsBefore, 'nothing reached the origin');
        const absolute = await h.exchange(echo.port, `GET https://127.0.0.1:${echo.port}/absolute?q=1 HTTP/1.1\r\nHost: 127.0.0.1:${echo.port}\r\nConnection: close\r\n\r\n`);
        const [response] = parseResponses(absolute.text).responses;
        assert.equal((JSON.parse(response!.body) as EchoReply).url, '/absolute?q=1', 'goes on in origin-form');
      });
    }

    if (route === 'forward') {
      test('the path and query reach the origin exactly as sent, dot segments and encodings untouched (RFC 9110 §7.1)', BOUNDED, async () => {
        const path = '/a/../b/%2e%2e/c?sig=a%2Fb&q={"x":[1]}';
        const result = await h.exchange(echo.port, get(echo.port, path, 'Connection: close\r\n'));
        const [response] = parseResponses(result.text).responses;
        assert.equal(response?.status, 200, result.text.slice(0, 200));
        assert.equal((JSON.parse(response.body) as EchoReply).url, path);
        const backslash = await h.exchange(echo.port, get(echo.port, '/a\\..\\b'));
        assert.equal(statusOf(backslash.text), 400, 'a backslash, which URL parsers read as a slash, is refused');
      });
    }

    test('header bytes outside ASCII pass unchanged both ways (latin1 in, raw UTF-8 out)', BOUNDED, async () => {
      let seenByOrigin: Buffer | undefined;
      const origin = await h.rawOrigin((connection) => {
        connection.socket.on('data', () => {
          const received = connection.received();
          if (seenByOrigin !== undefined || !received.includes('\r\n\r\n')) return;
          seenByOrigin = received;
          // A raw UTF-8 file name (C3 BC, "ü"), as Content-Disposition often carries one.
          connection.socket.write(Buffer.concat([
            Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Disposition: attachment; filename="'),
            Buffer.from([0xc3, 0xbc]),
            Buffer.from('.txt"\r\n\r\nok'),
          ]));
        });
      });
      const client = await h.open(origin.port);
      await using([client], async () => {
        client.write(Buffer.concat([
          Buffer.from(`GET ${h.target(origin.port, '/obs-text')} HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\nX-Name: caf`),
          Buffer.from([0xe9]),
          Buffer.from('\r\nConnection: close\r\n\r\n'),
        ]));
        const [response] = await client.responses(1);
        assert.equal(response?.status, 200);
        const sent = /\r\nx-name: ([^\r]*)\r\n/i.exec(seenByOrigin?.toString('latin1') ?? '')?.[1];
        assert.equal(Buffer.from(sent ?? '', 'latin1').toString('hex'), '636166e9', 'X-Name as the origin received it');
        const filename = /filename="([^"]*)"/.exec(response.head)?.[1];
        assert.equal(Buffer.from(filename ?? '', 'latin1').toString('hex'), 'c3bc2e747874', 'the file name as the client received it');
      });
    });

    test('Proxy-Authorization and Proxy-Connection, meant for the proxy, never reach the origin', BOUNDED, async () => {
      const result = await h.exchange(echo.port, get(echo.port, '/v1/creds', 'Proxy-Authorization: Basic c2VjcmV0\r\nProxy-Connection: keep-alive\r\nX-Kept: yes\r\nConnection: close\r\n'));
      const reply = JSON.parse(parseResponses(result.text).responses[0]!.body) as EchoReply;
      assert.equal(reply.headers['proxy-authorization'], undefined);
      assert.equal(reply.headers['proxy-connection'], undefined);
      assert.equal(reply.headers['x-kept'], 'yes');
      assert.equal(reply.headers.via, `1.1 ${h.proxy.via}`);
    });
  });

  describe(`${route}: many messages on one client connection`, () => {
    test('pipelined requests (Content-Length, chunked, bodiless), written at once, are answered in order, each counted', BOUNDED, async () => {
      const origin = await h.httpOrigin(labelledHandler('A'));
      const api = `/v1/write/pipelined-${route}`;
      const big = randomBytes(100_000);
      const client = await h.open(origin.port);
      await using([client], async () => {
        // The first is the slowest: an answer out of order would put a later one first.
        client.write(Buffer.concat([
          Buffer.from(get(origin.port, `${api}?delay=150`, `Content-Length: ${big.length}\r\n`, 'POST')),
          big,
          Buffer.from(`${get(origin.port, api, 'Transfer-Encoding: chunked\r\n', 'POST')}5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n`),
          Buffer.from(get(origin.port, '/three', 'Connection: close\r\n')),
        ]));
        const responses = await client.responses(3, 5000);
        assert.deepEqual(
          responses.map((r) => r.body),
          [`A POST ${api}?delay=150 HTTP/1.1 100000`, `A POST ${api} HTTP/1.1 11`, 'A GET /three HTTP/1.1 0'],
        );
        assert.equal(responses[0]?.fields.get('connection'), undefined, 'kept alive after the first');
        assert.deepEqual(responses[2]?.fields.get('connection'), ['close']);
        assert.ok(await client.closedWithin(2000), 'closed after the request that asked for it');
      });
      const metrics = await h.proxy.metricsText();
      assert.equal(sample(metrics, `datakit_input_proxy_api_total{api="${api}",method="POST"}`), 2);
    });

    // A half-close and a close look alike, and a client that closes has given up (timed out, say). As with Node's
    // HTTP server, squid (half_closed_clients off) and nginx, its request is abandoned and nothing is answered.
    test('a client that half-closes with its request in flight gets no answer; the origin sees the request dropped at once', BOUNDED, async () => {
      const ORIGIN_DELAY_MS = 300;
      let started = 0;
      let answered = 0;
      let dropped = 0;
      const origin = await h.httpOrigin((_req, res) => {
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
      });
      // FIN in the same flight as the request, and FIN once the origin is working on it.
      for (const when of ['with the request', 'once the origin has it']) {
        const startedBefore = started;
        const client = await h.open(origin.port);
        await using([client], async () => {
          client.write(get(origin.port, '/half-closed'));
          if (when === 'once the origin has it') {
            assert.ok(await eventually(() => started === startedBefore + 1), `${when}: the origin got the request`);
          }
          client.socket.end();
          const endedAt = Date.now();
          assert.ok(await client.closedWithin(ORIGIN_DELAY_MS + 1000), `${when}: connection closed by the proxy`);
          assert.equal(client.text, '', `${when}: no response bytes`);
          assert.ok(Date.now() - endedAt < ORIGIN_DELAY_MS, `${when}: closed after ${Date.now() - endedAt} ms, not at once`);
          assert.equal(await inFlightSettles(h), 0, `${when}: requests_in_flight back to 0`);
          assert.ok(await eventually(() => dropped === started), `${when}: the origin's request was dropped (started ${started}, dropped ${dropped})`);
        });
      }
      await delay(ORIGIN_DELAY_MS + 100);
      assert.equal(answered, 0, 'the origin never got to answer');
      assert.ok((sample(await h.proxy.metricsText(), 'egress_proxy_client_failures_total{reason="aborted"}') ?? 0) >= 1);
    });

    test('chunked, HEAD, 204 and 304 responses keep both connections reusable (one upstream connection)', BOUNDED, async () => {
      const origin = await h.httpOrigin((req, res) => {
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
      });
      const bytes =
        get(origin.port, '/chunked') +
        get(origin.port, '/head', '', 'HEAD') +
        get(origin.port, '/no-content') +
        get(origin.port, '/not-modified', 'If-None-Match: "v1"\r\n') +
        get(origin.port, '/chunked', 'Connection: close\r\n');
      const result = await h.exchange(origin.port, bytes);
      const { responses, rest } = parseResponses(result.text, false, new Set([1]));
      assert.deepEqual(responses.map((r) => r.status), [200, 200, 204, 304, 200], result.text);
      assert.equal(responses[0]?.body, 'abcdef');
      assert.deepEqual(responses[0]?.fields.get('transfer-encoding'), ['chunked']);
      assert.deepEqual(responses[1]?.fields.get('content-length'), ['1234'], 'HEAD keeps the length of the body it omits');
      assert.equal(responses[4]?.body, 'abcdef');
      assert.equal(rest, '');
      assert.ok(result.closedByServer);
      assert.equal(origin.requests, 5);
      assert.equal(origin.connections, 1, 'one upstream connection for all five');
    });

    if (route === 'forward') {
      test('pipelined requests to two origins are answered in order', BOUNDED, async () => {
        const a = await h.httpOrigin(labelledHandler('A'));
        const b = await h.httpOrigin(labelledHandler('B'));
        const result = await h.exchange(a.port, get(a.port, '/one?delay=150') + get(b.port, '/two') + get(a.port, '/three', 'Connection: close\r\n'));
        assert.deepEqual(
          parseResponses(result.text).responses.map((r) => r.body),
          ['A GET /one?delay=150 HTTP/1.1 0', 'B GET /two HTTP/1.1 0', 'A GET /three HTTP/1.1 0'],
        );
      });

      test('a CONNECT after a forwarded request turns the same connection into a tunnel; pipelined, its early bytes follow', BOUNDED, async () => {
        const greeting = 'hello from upstream\n';
        const tcp = await h.rawOrigin((connection) => {
          connection.socket.write(greeting);
          connection.socket.pipe(connection.socket);
        });
        const client = await h.open(echo.port);
        await using([client], async () => {
          client.write(get(echo.port, '/before-tunnel'));
          const [forwarded] = await client.responses(1);
          assert.equal(forwarded?.status, 200);
          const mark = client.text.length;
          client.write(`CONNECT 127.0.0.1:${tcp.port} HTTP/1.1\r\nHost: 127.0.0.1:${tcp.port}\r\n\r\n`);
          await client.until((t) => t.slice(mark).includes(greeting), 'the upstream greeting through the tunnel');
          assert.equal(client.text.slice(mark), `HTTP/1.1 200 Connection established\r\n\r\n${greeting}`);
          // Bytes that look like a request go through as bytes: the proxy no longer reads this connection as HTTP.
          const probe = get(echo.port, '/not-for-the-proxy');
          client.write(probe);
          await client.until((t) => t.endsWith(probe), 'the echo of the probe');
          client.socket.end();
          assert.ok(await client.closedWithin(3000), 'tunnel closed after both sides ended');
        });
        const pipelined = await h.open(echo.port);
        await using([pipelined], async () => {
          const early = 'early bytes for the tunnel\n';
          pipelined.write(get(echo.port, '/before-tunnel') + `CONNECT 127.0.0.1:${tcp.port} HTTP/1.1\r\nHost: x\r\n\r\n` + early);
          await pipelined.until((t) => t.endsWith(early), 'the echo of the early bytes');
          const { responses, rest } = parseResponses(pipelined.text, false, new Set([1]));
          assert.equal(responses[1]?.status, 200, 'CONNECT answered');
          assert.equal(rest, `${greeting}${early}`, 'the early bytes went into the tunnel, once, after the 200');
        });
      });
    }
  });

  describe(`${route}: HTTP/1.0 clients, close-delimited bodies, interim responses`, () => {
    test('an HTTP/1.0 request goes upstream as 1.0; the client gets Connection: close and the connection closes', BOUNDED, async () => {
      const origin = await h.httpOrigin(labelledHandler('A'));
      // We do not keep HTTP/1.0 connections alive at all, even when the client asks for it.
      for (const extra of ['', 'Connection: keep-alive\r\n']) {
        const result = await h.exchange(origin.port, h.head(origin.port, '/old', extra, 'GET', '1.0'));
        const { responses, rest } = parseResponses(result.text, true);
        assert.equal(responses.length, 1, result.text);
        assert.equal(responses[0]?.body, 'A GET /old HTTP/1.0 0');
        assert.deepEqual(responses[0]?.fields.get('connection'), ['close'], `with ${JSON.stringify(extra)}`);
        assert.equal(responses[0]?.fields.get('transfer-encoding'), undefined);
        assert.equal(rest, '');
        assert.ok(result.closedByServer, `closed, with ${JSON.stringify(extra)}`);
      }
    });

    test('a close-delimited body reaches an HTTP/1.1 client whole, re-framed as chunked, and the connection stays; an HTTP/1.0 one gets it until the close', BOUNDED, async () => {
      const body = Buffer.alloc(300_000, 'abcdefghijklmnopqrstuvwxyz').toString('latin1');
      const origin = await h.rawOrigin((connection) => {
        connection.socket.once('data', () => connection.socket.end(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n${body}`, 'latin1'));
      });
      const client = await h.open(origin.port);
      await using([client], async () => {
        client.write(get(origin.port, '/stream'));
        const [response] = await client.responses(1);
        assert.equal(response?.status, 200);
        assert.equal(response?.fields.get('connection'), undefined, 'kept alive: the chunked framing says where the body ends');
        assert.deepEqual(response?.fields.get('transfer-encoding'), ['chunked']);
        assert.ok(response?.body === body, 'body byte-identical');
        // A request behind it is answered too, on a new upstream connection.
        client.write(get(origin.port, '/after'));
        const [, next] = await client.responses(2);
        assert.equal(next?.status, 200);
        assert.equal(origin.connections.length, 2);
      });
      const old = await h.exchange(origin.port, h.head(origin.port, '/stream', '', 'GET', '1.0'));
      const [response] = parseResponses(old.text, true).responses;
      assert.deepEqual(response?.fields.get('connection'), ['close']);
      assert.equal(response?.fields.get('transfer-encoding'), undefined);
      assert.ok(response?.body === body, 'body byte-identical');
      assert.ok(old.closedByServer);
    });

    test('Expect: 100-continue: the 100 from the origin reaches the client before it sends its body', BOUNDED, async () => {
      const client = await h.open(echo.port);
      await using([client], async () => {
        client.write(get(echo.port, '/upload', 'Content-Length: 5\r\nExpect: 100-continue\r\n', 'POST'));
        await client.until((t) => t.includes('\r\n\r\n'), 'the 100 Continue');
        assert.match(client.text, /^HTTP\/1\.1 100 Continue\r\n/);
        assert.equal(finalsOf(parseResponses(client.text).responses).length, 0, 'no final response before the body');
        client.write('hello');
        const responses = await client.responses(1);
        assert.deepEqual(responses.map((r) => r.status), [100, 200]);
        const reply = JSON.parse(responses[1]!.body) as EchoReply;
        assert.equal(reply.bodyLength, 5);
        assert.equal(reply.headers.expect, '100-continue', 'Expect is end-to-end: the origin saw it');
        client.write(get(echo.port, '/after-continue'));
        const [, , third] = await client.responses(2);
        assert.equal(third?.status, 200, 'the connection stays usable after an interim response');
      });
    });

    test('an HTTP/1.0 client never receives a 1xx; an HTTP/1.1 client gets each one, in order', BOUNDED, async () => {
      // An origin that sends 100 and 103 to every request, HTTP/1.0 or not, then answers once the body is in.
      const origin = await h.rawOrigin((connection) => {
        let interimSent = false;
        connection.socket.on('data', () => {
          if (!interimSent) {
            interimSent = true;
            connection.socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n');
          }
          if (connection.received().toString('latin1').endsWith('\r\n\r\nhello')) {
            connection.socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
          }
        });
      });
      const old = await h.exchange(origin.port, `${h.head(origin.port, '/upload', 'Content-Length: 5\r\n', 'POST', '1.0')}hello`);
      assert.doesNotMatch(old.text, /(^|\r\n)HTTP\/1\.[01] 1\d\d /, `1xx sent to an HTTP/1.0 client: ${old.text}`);
      assert.equal(parseResponses(old.text, true).responses[0]?.body, 'ok');
      const current = await h.exchange(origin.port, `${get(origin.port, '/upload', 'Content-Length: 5\r\nConnection: close\r\n', 'POST')}hello`);
      const { responses } = parseResponses(current.text, true);
      assert.deepEqual(responses.map((r) => r.status), [100, 103, 200], current.text);
      assert.deepEqual(responses[1]?.fields.get('link'), ['</style.css>; rel=preload']);
    });
  });

  describe(`${route}: failures`, () => {
    test('an upstream failure answers 502 and keeps the connection: the next request on it is served', BOUNDED, async () => {
      // A port nothing listens on (through a tunnel the CONNECT is still answered: MITM dials per request).
      const closed = await h.rawOrigin(() => undefined);
      const port = closed.port;
      await closed.close();
      const client = await h.open(port);
      await using([client], async () => {
        // With a body: it must be consumed as this request's body, not read as the next request.
        client.write(`${get(port, '/v1/write', 'Content-Length: 11\r\n', 'POST')}hello world`);
        const [failed] = await client.responses(1);
        assert.equal(failed?.status, 502);
        assert.ok(failed?.fields.get('x-egress-proxy-error')?.[0]?.startsWith('EPROXY_UPSTREAM_'), failed?.head);
        assert.equal(failed?.fields.get('connection'), undefined, 'the 502 does not close the connection');
        // Through a tunnel every request goes to its one target: it fails again, on the same connection.
        const next = route === 'forward' ? get(echo.port, '/after-502') : get(port, '/after-502');
        client.write(next);
        const [, served] = await client.responses(2);
        assert.equal(served?.status, route === 'forward' ? 200 : 502);
        assert.equal(client.closed, false);
      });
    });

    test('an origin that answers before the 2 MiB body is all in: the client gets it with Connection: close, and the upload ends', BOUNDED, async () => {
      let upstreamClosed = 0;
      const origin = await h.rawOrigin((connection) => {
        // Answers at the first bytes, then reads and discards whatever else the proxy sends.
        connection.socket.once('data', () => connection.socket.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\n\r\ntoo large'));
        connection.socket.on('close', () => upstreamClosed++);
      });
      const size = 2 * 1024 * 1024;
      const body = Buffer.alloc(size, 0x61);
      const client = await h.open(origin.port);
      await using([client], async () => {
        // A quarter of the body, then nothing until the answer: the answer comes while the body is unfinished.
        client.write(get(origin.port, '/upload', `Content-Length: ${size}\r\n`, 'POST'));
        client.write(body.subarray(0, size / 4));
        const [response] = await client.responses(1, 5000);
        assert.equal(response?.status, 413);
        assert.equal(response?.body, 'too large');
        assert.deepEqual(response?.fields.get('connection'), ['close'], 'the rest of the body is never read: framing ends here');
        // The client, not knowing better yet, sends the rest: it is discarded, not read as a next request.
        client.write(body.subarray(size / 4));
        assert.ok(await client.closedWithin(5000), 'client connection closed');
        assert.equal(parseResponses(client.text).rest, '', 'nothing after the 413');
      });
      assert.ok(await eventually(() => upstreamClosed === 1), 'the upstream connection was closed, not pooled');
      const next = await h.exchange(echo.port, get(echo.port, '/after-413', 'Connection: close\r\n'));
      assert.equal(statusOf(next.text), 200);
    });

    test('requests that cannot be framed safely get 400 and the connection closes; nothing ambiguous goes on', BOUNDED, async () => {
      for (const [name, extra, body] of [
        ['both Transfer-Encoding and Content-Length', 'Transfer-Encoding: chunked\r\nContent-Length: 5\r\n', '0\r\n\r\n'],
        ['two different Content-Lengths', 'Content-Length: 5\r\nContent-Length: 6\r\n', 'hello!'],
        ['obs-fold', 'X-A: 1\r\n folded\r\n', ''],
      ] as const) {
        const requestsBefore = echo.requests;
        const result = await h.exchange(echo.port, get(echo.port, '/x', extra, 'POST') + body);
        assert.equal(statusOf(result.text), 400, `${name}: ${result.text.slice(0, 100)}`);
        assert.match(result.text, /\r\nConnection: close\r\n/, name);
        assert.ok(result.closedByServer, name);
        assert.equal(echo.requests, requestsBefore, `${name}: nothing reached the origin`);
      }
    });

    test('a request body malformed mid-way (chunked) gets 400 and the connection closes; the origin gets no complete request', BOUNDED, async () => {
      let started = 0;
      let completed = 0;
      let aborted = 0;
      const origin = await h.httpOrigin((req, res) => {
        started++;
        req.on('data', () => undefined);
        req.on('end', () => {
          completed++;
          res.end('complete');
        });
        req.on('close', () => {
          if (!req.complete) aborted++;
        });
      });
      const head = `${get(origin.port, '/chunks', 'Transfer-Encoding: chunked\r\n', 'POST')}5\r\nhello\r\n`;
      const bad = 'zz\r\nnot a chunk size\r\n0\r\n\r\n';
      for (const split of [false, true]) {
        const client = await h.open(origin.port);
        await using([client], async () => {
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
        });
      }
      assert.ok(await eventually(() => aborted === started), `the origin's request was cut (started ${started}, aborted ${aborted})`);
      assert.equal(completed, 0, 'no complete request reached the origin');
    });

    test('a malformed chunk in the request body after the response has begun: the connection is cut, no 400 inside the response', BOUNDED, async () => {
      const start = 'a'.repeat(20);
      // Answers at the head, before the body is done: 200 bytes announced, 20 sent, the rest never.
      const origin = await h.rawOrigin((connection) => {
        connection.socket.once('data', () => connection.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n${start}`));
      });
      const client = await h.open(origin.port);
      await using([client], async () => {
        client.write(`${get(origin.port, '/upload', 'Transfer-Encoding: chunked\r\n', 'POST')}5\r\nhello\r\n`);
        await client.until((t) => t.endsWith(start), 'the start of the response');
        client.write('zz\r\n'); // not a chunk size
        assert.ok(await client.closedWithin(3000), 'connection cut');
        // Our 400 written now would be read as bytes 21 on of the origin's body.
        assert.doesNotMatch(client.text, /HTTP\/1\.1 400/, JSON.stringify(client.text));
        assert.ok(client.text.endsWith(`\r\n\r\n${start}`), `nothing after what the origin sent: ${JSON.stringify(client.text)}`);
      });
    });

    test('a response head with bare LF line ends, the connection left open: 502 at once, not 504 at the response timeout', BOUNDED, async () => {
      for (const answer of ['HTTP/1.1 200 OK\nContent-Length: 2\n\nok', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\nok']) {
        const origin = await answeringOrigin(h, answer);
        const client = await h.open(origin.port);
        await using([client], async () => {
          const started = Date.now();
          client.write(get(origin.port, '/bare-lf'));
          const [response] = await client.responses(1, 6000);
          assert.equal(response?.status, 502, response?.head);
          assert.ok(Date.now() - started < 1000, `answered after ${Date.now() - started} ms (upstream_response is 5 s)`);
        });
      }
    });

    test('status codes outside 100-599 and a 101 nobody asked for: 502; control characters in a reason phrase: the standard one', BOUNDED, async () => {
      for (const answer of ['HTTP/1.1 099 Weird\r\nContent-Length: 0\r\n\r\n', 'HTTP/1.1 600 Weird\r\nContent-Length: 0\r\n\r\n', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n']) {
        const origin = await answeringOrigin(h, answer);
        const result = await h.exchange(origin.port, get(origin.port, '/v1/write/metric', 'Connection: close\r\n'));
        assert.equal(statusOf(result.text), 502, `${JSON.stringify(answer)}: ${result.text.slice(0, 100)}`);
      }
      const spoiled = await answeringOrigin(h, 'HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\n\r\nok');
      const result = await h.exchange(spoiled.port, get(spoiled.port, '/', 'Connection: close\r\n'));
      assert.match(result.text, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(result.text, /\r\n\r\nok$/);
    });

    test('an upstream that does not answer in time gets the request a 504; the failure is the upstream\'s', BOUNDED, async () => {
      const quick = await startRoute(route, { tweak: (config) => (config.timeouts.upstreamResponseMs = 400) });
      try {
        const silent = await quick.httpOrigin(() => undefined);
        const client = await quick.open(silent.port);
        await using([client], async () => {
          client.write(quick.head(silent.port, '/v1/silent'));
          const [response] = await client.responses(1);
          assert.equal(response?.status, 504, response?.head);
        });
        assert.equal(sample(await quick.proxy.metricsText(), 'egress_proxy_upstream_errors_total{reason="timeout"}'), 1);
      } finally {
        await quick.close();
      }
    });

    test('an upstream that closes or garbles mid-body: the client connection is reset at once, never given a response that looks complete', BOUNDED, async () => {
      const answers = {
        'Content-Length, then close': { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b', close: true },
        'chunked, then close': { bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', close: true },
        // Left open: only the proxy noticing the bad chunk size can end this before the client's 3 s wait.
        'chunked, then a bad chunk size': { bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n', close: false },
      };
      for (const [framing, { bytes, close }] of Object.entries(answers)) {
        const origin = await answeringOrigin(h, bytes, close);
        const client = await h.open(origin.port);
        await using([client], async () => {
          client.write(get(origin.port, '/cut'));
          assert.ok(await client.closedWithin(3000), `${framing}: connection cut`);
          if (client.text !== '') assert.equal(statusOf(client.text), 200, `${framing}: only the origin's head came before the cut`);
          assert.equal(parseResponses(client.text).responses.length, 0, `${framing}: no complete response: ${JSON.stringify(client.text)}`);
        });
      }
      const next = await h.exchange(echo.port, get(echo.port, '/after-cut', 'Connection: close\r\n'));
      assert.equal(statusOf(next.text), 200);
      assert.ok((sample(await h.proxy.metricsText(), 'egress_proxy_upstream_errors_total{reason="reset"}') ?? 0) >= 2, 'the cuts are counted');
    });

    test('a request refused while a response is being relayed: the connection is cut, never a 400 inside that response', BOUNDED, async () => {
      // The origin sends half of a 20-byte body, then waits: the refusal lands in the middle of it.
      const origin = await answeringOrigin(h, 'HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nAAAAAAAAAA');
      const client = await h.open(origin.port);
      await using([client], async () => {
        client.write(`${get(origin.port, '/first', 'Transfer-Encoding: chunked\r\n', 'POST')}5\r\nhello\r\n`);
        await client.until((t) => t.endsWith('AAAAAAAAAA'), 'half of the body');
        client.write('zz\r\n');
        assert.ok(await client.closedWithin(3000));
        assert.doesNotMatch(client.text, /HTTP\/1\.1 400/, JSON.stringify(client.text));
      });
    });
  });

  describe(`${route}: flow control`, () => {
    test('a 4 MiB response read slowly by the client arrives byte-identical', BOUNDED, async () => {
      const payload = randomBytes(4 * 1024 * 1024);
      const origin = await h.httpOrigin((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': payload.length });
        res.end(payload);
      });
      const socket = await h.connect(origin.port);
      socket.on('error', () => undefined);
      const chunks: Buffer[] = [];
      socket.pause();
      socket.write(get(origin.port, '/big', 'Connection: close\r\n'));
      // Nothing read for a while, so every buffer on the way fills up; then small sips with pauses.
      await delay(300);
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        socket.pause();
        setTimeout(() => socket.resume(), 2);
      });
      socket.resume();
      await Promise.race([once(socket, 'close'), delay(15_000, undefined, { ref: false })]);
      const all = Buffer.concat(chunks);
      const headEnd = all.indexOf('\r\n\r\n');
      assert.equal(statusOf(all.subarray(0, headEnd).toString('latin1')), 200);
      const body = all.subarray(headEnd + 4);
      assert.equal(body.length, payload.length);
      assert.ok(body.equals(payload), 'byte-identical');
    });

    test('a 4 MiB upload to an origin that reads slowly arrives byte-identical', BOUNDED, async () => {
      const payload = randomBytes(4 * 1024 * 1024);
      const origin = await h.httpOrigin((req, res) => {
        req.pause();
        setTimeout(() => {
          echoHandler(req, res);
          req.resume();
        }, 300);
      });
      const client = await h.open(origin.port);
      await using([client], async () => {
        client.write(get(origin.port, '/upload', `Content-Length: ${payload.length}\r\nConnection: close\r\n`, 'POST'));
        client.write(payload);
        const [response] = await client.responses(1, 15_000);
        const reply = JSON.parse(response!.body) as EchoReply;
        assert.equal(reply.bodyLength, payload.length);
        assert.equal(reply.bodySha256, createHash('sha256').update(payload).digest('hex'));
      });
    });
  });

  describe(`${route}: upstream keep-alive`, () => {
    test('client connections one after the other reuse one upstream connection (a client\'s Connection: close is hop-by-hop)', BOUNDED, async () => {
      const origin = await h.httpOrigin();
      for (const path of ['/first', '/second', '/third']) {
        const result = await h.exchange(origin.port, get(origin.port, path, 'Connection: close\r\n'));
        const [response] = parseResponses(result.text).responses;
        assert.equal((JSON.parse(response!.body) as EchoReply).url, path);
        assert.ok(result.closedByServer);
        await delay(20);
      }
      assert.equal(origin.connections, 1, 'the upstream connection was pooled');
    });

    test('an upstream that closes an idle keep-alive connection: the next request opens a new one', BOUNDED, async () => {
      const shortLived = await h.httpOrigin((req, res) => {
        res.on('finish', () => setTimeout(() => req.socket.end(), 50));
        echoHandler(req, res);
      });
      const client = await h.open(shortLived.port);
      await using([client], async () => {
        client.write(get(shortLived.port, '/one'));
        await client.responses(1);
        await delay(300);
        client.write(get(shortLived.port, '/two'));
        const [, second] = await client.responses(2);
        assert.equal((JSON.parse(second!.body) as EchoReply).url, '/two');
      });
      assert.equal(shortLived.connections, 2);
    });

    // Each answer comes in one write, so the proxy reads the extra bytes with the response, before it pools the
    // connection. An origin that disagrees with us about where its messages end cannot be trusted with the next
    // request.
    for (const [name, method, answer, expected] of [
      ['a second, unsolicited response', 'GET', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirstHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond', 'first'],
      ['a body on a response to HEAD', 'HEAD', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', ''],
    ] as const) {
      test(`an upstream connection that brought more than the response is not reused: ${name}`, BOUNDED, async () => {
        const origin = await h.rawOrigin((connection) => connection.socket.on('data', () => connection.socket.write(answer)));
        for (const path of ['/first', '/second']) {
          const result = await h.exchange(origin.port, get(origin.port, path, 'Connection: close\r\n', method));
          const { responses, rest } = parseResponses(result.text, false, method === 'HEAD' ? new Set([0]) : new Set());
          assert.equal(responses[0]?.status, 200, result.text);
          assert.equal(responses[0]?.body, expected);
          assert.equal(rest, '', 'nothing of the extra bytes reaches the client');
        }
        assert.equal(origin.connections.length, 2, 'the second request went over a new connection');
      });
    }
  });

  describe(`${route}: limits.upstream_max_sockets_per_host = 2`, () => {
    let limited: RouteHarness;
    before(async () => {
      limited = await startRoute(route, {
        tweak: (config) => {
          config.limits.upstreamMaxSocketsPerHost = 2;
          config.timeouts.upstreamResponseMs = 10_000;
        },
      });
    });
    after(async () => {
      await limited.close();
    });

    test('six concurrent requests to a slow origin: never more than two connections open, all six answered', BOUNDED, async () => {
      let active = 0;
      let maxActive = 0;
      const origin = await limited.httpOrigin((req, res) => {
        active++;
        maxActive = Math.max(maxActive, active);
        setTimeout(() => {
          active--;
          res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(req.url ?? '') });
          res.end(req.url);
        }, 150);
      });
      let open = 0;
      let maxOpen = 0;
      origin.server.on('connection', (socket: net.Socket) => {
        open++;
        maxOpen = Math.max(maxOpen, open);
        socket.on('close', () => open--);
      });
      const dispatchers = Array.from({ length: 6 }, () => limited.dispatcher(1));
      try {
        const started = Date.now();
        const results = await Promise.all(
          dispatchers.map(async (dispatcher, i) => {
            const res = await request(limited.url(origin.port, `/slow/${i}`), { dispatcher });
            return { status: res.statusCode, body: await res.body.text() };
          }),
        );
        assert.deepEqual(results, Array.from({ length: 6 }, (_, i) => ({ status: 200, body: `/slow/${i}` })));
        assert.ok(maxOpen <= 2, `origin saw ${maxOpen} connections open at once`);
        assert.ok(maxActive <= 2, `origin saw ${maxActive} requests at once`);
        // Three rounds of two: the others really waited (without the cap all six take one round).
        assert.ok(Date.now() - started >= 3 * 150 - 50, `six requests took ${Date.now() - started} ms`);
      } finally {
        for (const dispatcher of dispatchers) await dispatcher.close();
      }
    });

    test('failed upstream connections give their slots back: more failures than slots, then requests that work', BOUNDED, async () => {
      let healthy = false;
      const origin = await limited.rawOrigin((connection) => {
        connection.socket.on('data', () => {
          if (healthy) connection.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
          else connection.socket.destroy();
        });
      });
      for (let i = 0; i < 4; i++) {
        const failed = await limited.exchange(origin.port, limited.head(origin.port, '/flaky', 'Connection: close\r\n'), 2000);
        assert.equal(statusOf(failed.text), 502, `failure ${i + 1}: ${failed.text.split('\r\n')[0]}`);
      }
      healthy = true;
      for (let i = 0; i < 3; i++) {
        const ok = await limited.exchange(origin.port, limited.head(origin.port, '/flaky', 'Connection: close\r\n'), 2000);
        assert.equal(statusOf(ok.text), 200, `request ${i + 1} after the failures waited for a slot that never came back`);
      }
    });

    test('clients that reset while holding or waiting for a slot give it back, and the waiter is never sent', BOUNDED, async () => {
      const origin = await limited.httpOrigin((req, res) => {
        if (req.url === '/hang') return; // never answers
        res.writeHead(200, { 'Content-Length': 2 });
        res.end('ok');
      });
      const clients: RawConversation[] = [];
      await using(clients, async () => {
        for (let i = 0; i < 3; i++) {
          const client = await limited.open(origin.port);
          client.write(limited.head(origin.port, '/hang'));
          clients.push(client);
        }
        assert.ok(await eventually(() => origin.requests === 2), 'two requests hold the two slots');
        await delay(100);
        assert.equal(origin.requests, 2, 'the third waits for a slot');
        for (const client of clients) client.reset();
        const ok = await limited.exchange(origin.port, limited.head(origin.port, '/ok', 'Connection: close\r\n'), 2000);
        assert.equal(statusOf(ok.text), 200, `slots not given back: ${JSON.stringify(ok.text)}`);
        assert.equal(origin.requests, 3, 'the abandoned waiter was never sent upstream');
      });
    });
  });

  describe(`${route}: limits.upstream_max_sockets_per_host = 1`, () => {
    const UPSTREAM_RESPONSE_MS = 500;
    const CONNECT_MS = 300;
    let single: RouteHarness;
    before(async () => {
      single = await startRoute(route, {
        tweak: (config) => {
          config.limits.upstreamMaxSocketsPerHost = 1;
          // Short, so that A's slot is given back within the test even by a proxy that would keep it until a timeout.
          config.timeouts.upstreamResponseMs = UPSTREAM_RESPONSE_MS;
          config.timeouts.connectMs = CONNECT_MS;
        },
      });
    });
    after(async () => {
      await single.close();
    });

    test('a POST waiting for the only slot, its client gone: never sent upstream, even once the slot is free', BOUNDED, async () => {
      const seen: string[] = [];
      let dropped = 0;
      const origin = await single.httpOrigin((req, res) => {
        seen.push(`${req.method} ${req.url}`);
        res.on('close', () => {
          if (!res.writableFinished) dropped++;
        });
        if (req.url !== '/next') return; // the others are never answered
        res.writeHead(200, { 'Content-Length': 2 });
        res.end('ok');
      });
      const a = await single.open(origin.port);
      const b = await single.open(origin.port);
      await using([a, b], async () => {
        a.write(single.head(origin.port, '/holds-the-slot'));
        assert.ok(await eventually(() => seen.length === 1), 'A holds the slot');
        b.write(`${single.head(origin.port, '/from-b', 'Content-Length: 3\r\n', 'POST')}abc`);
        await delay(150);
        assert.deepEqual(seen, ['GET /holds-the-slot'], 'B waits for the slot');
        // B gives up, then A: A's slot is free from here on.
        b.socket.end();
        await delay(50);
        a.socket.end();
        assert.equal(await inFlightSettles(single, 500), 0, 'requests_in_flight back to 0 at once');
        // Past the point where even a slot held until the upstream response timeout would have been given back.
        await delay(UPSTREAM_RESPONSE_MS + 300);
        assert.deepEqual(seen, ['GET /holds-the-slot'], "B's request, abandoned by its client, reached the origin");
        assert.equal(b.text, '', 'no answer to B');
        assert.equal(a.text, '', 'no answer to A');
        assert.equal(dropped, 1, "A's request was dropped upstream");
        const next = await single.exchange(origin.port, single.head(origin.port, '/next', 'Connection: close\r\n'), 2000);
        assert.equal(statusOf(next.text), 200, next.text.slice(0, 200));
      });
    });

    test('waiting for a slot is bounded like connecting: 504 after timeouts.connect, never sent upstream', BOUNDED, async () => {
      const seen: string[] = [];
      const origin = await single.httpOrigin((req) => {
        seen.push(req.url ?? ''); // never answered: the one slot stays taken
      });
      const holder = await single.open(origin.port);
      const waiter = await single.open(origin.port);
      await using([holder, waiter], async () => {
        holder.write(single.head(origin.port, '/holds-the-slot'));
        assert.ok(await eventually(() => seen.length === 1), 'the first request holds the slot');
        const started = Date.now();
        waiter.write(single.head(origin.port, '/waits'));
        const [response] = await waiter.responses(1);
        const elapsed = Date.now() - started;
        assert.equal(response?.status, 504);
        assert.deepEqual(response?.fields.get('x-egress-proxy-error'), ['EPROXY_UPSTREAM_CONNECT_TIMEOUT']);
        assert.ok(elapsed >= CONNECT_MS - 50 && elapsed < CONNECT_MS + 2000, `answered after ${elapsed} ms`);
        assert.deepEqual(seen, ['/holds-the-slot'], 'the timed-out request never reached the origin');
      });
    });
  });

  describe(`${route}: protocol switches (101)`, () => {
    test('an upgrade turns the connection into a byte relay both ways, with bytes sent behind the request held for the answer', BOUNDED, async () => {
      const upgrading = await h.httpOrigin(echoHandler);
      upgrading.server.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
        socket.write(head);
        socket.pipe(socket);
      });
      const client = await h.open(upgrading.port);
      await using([client], async () => {
        client.write(`${get(upgrading.port, '/v1/upgrade', 'Connection: Upgrade\r\nUpgrade: echo\r\n')}EARLY-BYTES`);
        await client.until((t) => t.includes('101 Switching Protocols') && t.includes('EARLY-BYTES'), 'the 101 and the early bytes echoed');
        assert.match(client.text, /\r\nUpgrade: echo\r\n/);
        client.write('GET /not-http-any-more\r\n\r\n');
        await client.until((t) => t.includes('not-http-any-more'), 'raw bytes echoed');
        // Quiet for longer than client_headers: an upgraded connection is a tunnel now; no 408 lands in it.
        await delay(HEADERS_TIMEOUT_MS * 2);
        client.write('still here');
        await client.until((t) => t.includes('still here'), 'still relayed');
        assert.doesNotMatch(client.text, /408/);
      });
    });

    test('an upgrade refused (426): what the client sent behind it is read as HTTP again', BOUNDED, async () => {
      const origin = await h.rawOrigin((connection) => {
        let answered = 0;
        connection.socket.on('data', () => {
          const received = connection.received().toString('latin1');
          if (answered === 0 && received.includes('Upgrade: no')) {
            answered++;
            connection.socket.write('HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n');
          }
          if (answered === 1 && received.includes('GET /after-refusal')) {
            answered++;
            connection.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
          }
        });
      });
      const client = await h.open(origin.port);
      await using([client], async () => {
        client.write(get(origin.port, '/up', 'Connection: upgrade\r\nUpgrade: no\r\n') + get(origin.port, '/after-refusal'));
        const [refused, after] = await client.responses(2);
        assert.equal(refused?.status, 426);
        assert.equal(after?.body, 'ok');
      });
    });

    test('after a 101, an upstream that goes away takes the client connection with it', BOUNDED, async () => {
      const origin = await h.rawOrigin((connection) => {
        connection.socket.once('data', () => {
          connection.socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n');
          setTimeout(() => connection.socket.destroy(), 100);
        });
      });
      const client = await h.open(origin.port);
      await using([client], async () => {
        client.write(get(origin.port, '/up', 'Connection: upgrade\r\nUpgrade: x\r\n'));
        assert.ok(await client.closedWithin(2000), 'client closed with the upstream');
        assert.match(client.text, /^HTTP\/1\.1 101 /);
      });
    });
  });

  describe(`${route}: a drain`, () => {
    test('an idle connection is ended at once, and nothing the client sends after that is forwarded', BOUNDED, async () => {
      const draining = await startRoute(route);
      let received = '';
      const origin = await draining.rawOrigin((connection) => {
        connection.socket.on('data', (data: Buffer) => {
          received += data.toString('latin1');
          connection.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        });
      });
      const client = await draining.open(origin.port);
      try {
        client.write(draining.head(origin.port, '/one'));
        await client.responses(1);
        const started = Date.now();
        const stopping = draining.proxy.stop(1500);
        client.write(draining.head(origin.port, '/side-effect', 'Content-Length: 1\r\n', 'POST') + 'x');
        assert.ok(await client.closedWithin(1500), 'the idle connection was ended');
        const result = await stopping;
        assert.equal(result.forced, false);
        assert.ok(Date.now() - started < 1400, 'the stop did not wait for the idle connection');
        assert.doesNotMatch(received, /side-effect/);
      } finally {
        client.destroy();
        await draining.close();
      }
    });
  });

  describe(`${route}: issue 9 (each test failed before its fix)`, () => {
    const BODY_TIMEOUT_MS = 400;
    let i9: RouteHarness;
    before(async () => {
      i9 = await startRoute(route, {
        tweak: (config) => {
          config.verbose = true;
          config.timeouts.clientBodyMs = BODY_TIMEOUT_MS;
          config.timeouts.upstreamResponseMs = 3000;
          config.timeouts.connectMs = 2000;
          config.limits.upstreamMaxSocketsPerHost = 3;
          config.limits.upstreamMaxSocketsPerClient = 2;
        },
      });
    });
    after(async () => {
      await i9.close();
    });

    const metric = async (series: string): Promise<number> => sample(await i9.proxy.metricsText(), series) ?? 0;

    test('1. truncation is never silent: curl fails on a response cut short in any framing, and reads a whole close-delimited one', BOUNDED, async () => {
      const body = 'x'.repeat(100);
      const cases = [
        { name: 'close-delimited, then a reset', head: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n', reset: true },
        { name: 'Content-Length, then a close', head: 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n', reset: false },
        { name: 'chunked, then a close', head: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n', reset: false },
      ];
      for (const { name, head, reset } of cases) {
        const origin = await i9.rawOrigin((connection) => {
          connection.socket.once('data', () => {
            connection.socket.write(head + body);
            // A moment later, so the proxy has relayed what came before the cut.
            setTimeout(() => (reset ? connection.reset() : connection.socket.end()), 100);
          });
        });
        const result = await curl([...i9.curlArgs(origin.port, '/cut'), '--max-time', '10']);
        assert.notEqual(result.exitCode, 0, `${name}: curl took the cut response for a complete one (${result.stdout.length} bytes)`);
        assert.ok([18, 56].includes(result.exitCode), `${name}: curl exit ${result.exitCode}: ${result.stderr}`);
      }
      // A close-delimited body that does end with a close is complete, and reads as such.
      const complete = await i9.rawOrigin((connection) => {
        connection.socket.once('data', () => connection.socket.end(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n${body}`));
      });
      const whole = await curl([...i9.curlArgs(complete.port, '/whole'), '--max-time', '10']);
      assert.equal(whole.exitCode, 0, whole.stderr);
      assert.equal(whole.stdout, body);
    });

    test('5. a request body that stops arriving gets 408 after client_body, counted as a client timeout, and lets the upstream go', BOUNDED, async () => {
      let aborted = 0;
      const origin = await i9.httpOrigin((req) => {
        req.on('close', () => {
          if (!req.complete) aborted++;
        });
      });
      const timeoutsBefore = await metric('egress_proxy_upstream_errors_total{reason="timeout"}');
      const bodyTimeoutsBefore = await metric('egress_proxy_client_failures_total{reason="body_timeout"}');
      const client = await i9.open(origin.port);
      await using([client], async () => {
        const started = Date.now();
        client.write(`${i9.head(origin.port, '/v1/write/stalled', 'Content-Length: 10\r\n', 'POST')}abc`);
        const [response] = await client.responses(1, 5000);
        const elapsed = Date.now() - started;
        assert.equal(response?.status, 408, response?.head);
        assert.deepEqual(response?.fields.get('x-egress-proxy-error'), ['EPROXY_CLIENT_BODY_TIMEOUT']);
        assert.ok(elapsed >= BODY_TIMEOUT_MS - 50 && elapsed < BODY_TIMEOUT_MS + 1500, `answered after ${elapsed} ms`);
        assert.ok(await client.closedWithin(3000));
      });
      assert.ok(await eventually(() => aborted === 1), 'the upstream request was dropped');
      assert.equal(await metric('egress_proxy_client_failures_total{reason="body_timeout"}'), bodyTimeoutsBefore + 1);
      assert.equal(await metric('egress_proxy_upstream_errors_total{reason="timeout"}'), timeoutsBefore, 'not an upstream timeout');
    });

    test('5. one client trickling many request bodies holds only its share of an origin\'s slots; another client is served at once', BOUNDED, async () => {
      const started: string[] = [];
      const origin = await i9.httpOrigin((req, res) => {
        started.push(req.url ?? '');
        req.resume();
        req.on('end', () => res.end('done'));
      });
      const trickling: RawConversation[] = [];
      const drips: NodeJS.Timeout[] = [];
      await using(trickling, async () => {
        try {
          // Three uploads from 127.0.0.1, each a byte at a time: as many as the origin has slots.
          for (let i = 0; i < 3; i++) {
            const client = await i9.open(origin.port, '127.0.0.1');
            client.write(`${i9.head(origin.port, `/slow/${i}`, 'Content-Length: 1000\r\n', 'POST')}x`);
            drips.push(setInterval(() => client.write('x'), 100));
            trickling.push(client);
          }
          assert.ok(await eventually(() => started.length === 2), 'two uploads reach the origin');
          await delay(200);
          assert.equal(started.length, 2, 'the third waits: the client is at its share (2)');
          // Another client (another loopback address) gets the slot the share left free.
          const other = await i9.open(origin.port, '127.0.0.2');
          trickling.push(other);
          other.write(i9.head(origin.port, '/other'));
          const [response] = await other.responses(1, 1500);
          assert.equal(response?.status, 200, 'the other client was kept waiting');
        } finally {
          for (const drip of drips) clearInterval(drip);
        }
      });
    });

    test('6. a client that leaves mid-upload releases the upstream at once, recorded as aborted, not as an upstream timeout', BOUNDED, async () => {
      let abortedAt = 0;
      const origin = await i9.httpOrigin((req) => {
        req.on('close', () => {
          if (!req.complete) abortedAt = Date.now();
        });
      });
      assert.equal(await inFlightSettles(i9), 0, 'nothing of the tests before in flight');
      const abortsBefore = await metric('egress_proxy_client_failures_total{reason="aborted"}');
      const timeoutsBefore = await metric('egress_proxy_upstream_errors_total{reason="timeout"}');
      for (const how of ['end', 'reset'] as const) {
        abortedAt = 0;
        const client = await i9.open(origin.port);
        client.write(`${i9.head(origin.port, '/v1/write/upload', 'Content-Length: 100000\r\n', 'POST')}${'y'.repeat(1000)}`);
        await delay(100);
        const leftAt = Date.now();
        if (how === 'end') client.socket.end();
        else client.reset();
        assert.ok(await eventually(() => abortedAt !== 0, 1000), `${how}: the origin still holds the request`);
        assert.ok(abortedAt - leftAt < 500, `${how}: released after ${abortedAt - leftAt} ms`);
        client.destroy();
      }
      assert.equal(await inFlightSettles(i9), 0);
      assert.equal(await metric('egress_proxy_client_failures_total{reason="aborted"}'), abortsBefore + 2);
      assert.equal(await metric('egress_proxy_upstream_errors_total{reason="timeout"}'), timeoutsBefore);
    });

    test('8. a pooled connection the origin has closed: a GET is sent once more on a new connection; a POST with a body is not', BOUNDED, async () => {
      // The race, made certain: the origin closes a connection when a second request arrives on it, unanswered.
      const origin = await i9.rawOrigin((connection) => {
        let requests = 0;
        connection.socket.on('data', () => {
          const heads = connection.received().toString('latin1').split('\r\n\r\n').length - 1;
          if (heads <= requests) return;
          requests = heads;
          if (requests === 1) connection.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
          else connection.socket.destroy();
        });
      });
      const client = await i9.open(origin.port);
      await using([client], async () => {
        client.write(i9.head(origin.port, '/first'));
        await client.responses(1);
        client.write(i9.head(origin.port, '/second'));
        const [, second] = await client.responses(2);
        assert.equal(second?.status, 200, 'the GET was replayed');
        assert.equal(origin.connections.length, 2);
        client.write(`${i9.head(origin.port, '/upload', 'Content-Length: 5\r\n', 'POST')}hello`);
        const [, , third] = await client.responses(3);
        assert.equal(third?.status, 502, 'a POST whose body was sent is never sent twice');
        assert.equal(origin.connections.length, 2, 'no new connection for it');
      });
    });

    test('9. the bytes of a response cut short are counted as they went through, in the record and the metrics', BOUNDED, async () => {
      const kind = route === 'forward' ? 'forward' : 'mitm';
      const origin = await answeringOrigin(i9, `HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n${'z'.repeat(40)}`);
      const bytesBefore = await metric(`egress_proxy_bytes_total{direction="downstream",kind="${kind}"}`);
      const client = await i9.open(origin.port);
      await using([client], async () => {
        client.write(i9.head(origin.port, '/v1/cut-short'));
        await client.until((t) => t.endsWith('z'.repeat(40)), 'the 40 bytes');
        origin.connections[0]?.socket.end();
        assert.ok(await client.closedWithin(2000));
      });
      assert.ok(await eventually(() => i9.proxy.logs.some((l) => l.msg === 'request' && String(l.target).endsWith('/v1/cut-short'))));
      const line = i9.proxy.logs.find((l) => l.msg === 'request' && String(l.target).endsWith('/v1/cut-short'));
      assert.equal(line?.bytes_out, 40);
      assert.equal(line?.error, 'EPROXY_UPSTREAM_RESET');
      assert.equal(await metric(`egress_proxy_bytes_total{direction="downstream",kind="${kind}"}`), bytesBefore + 40);
    });
  });

  describe(`${route}: bookkeeping`, () => {
    test('after everything above, no request of the main proxy is left in flight and every client connection is gone', BOUNDED, async () => {
      assert.equal(await inFlightSettles(h, 5000), 0);
      let connections: number | undefined;
      const deadline = Date.now() + 5000;
      do {
        connections = sample(await h.proxy.metricsText(), 'egress_proxy_client_connections_active');
        if (connections !== 0) await delay(50);
      } while (connections !== 0 && Date.now() < deadline);
      assert.equal(connections, 0);
    });
  });
}
