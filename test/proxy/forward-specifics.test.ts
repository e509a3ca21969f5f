/**
 * What only plain forwarding does, beyond the relay behaviour both routes share (test/helpers/relay-suite.ts):
 * pipelined requests to several origins with a failure among them, `https://` absolute URIs (verified TLS, a broken
 * TLS record from an origin), and, on the proxy port's own TCP sockets, the lingering close after the last
 * response (a client that stops reading still gets all of it) and a stop bounded while such a tail waits.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdtemp, writeFile } from 'node:fs/promises';
import net, { type LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import tls from 'node:tls';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';
import { closedPort, startHttpOrigin, startHttpsOrigin, startTcpServer, type EchoReply, type OriginServer } from '../helpers/origin-servers.js';
import { rawExchange, statusOf } from '../helpers/raw-client.js';
import { eventually, parseResponses, RawConversation } from '../helpers/http-transcript.js';
import { createTestPki } from '../helpers/test-pki.js';
import { sample } from '../helpers/metrics-text.js';

/** Every test is bounded: a hang is a failure, not a stuck run. */
const BOUNDED = { timeout: 20_000 };

/** A request head in absolute form; `extra` is further header lines, each ending in CRLF. */
function get(url: string, extra = '', method = 'GET'): string {
  return `${method} ${url} HTTP/1.1\r\nHost: ignored.example\r\n${extra}\r\n`;
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

let proxy: TestProxy;
let echo: OriginServer;

before(async () => {
  echo = await startHttpOrigin();
  proxy = await startTestProxy();
});
after(async () => {
  await proxy.stop(100);
  await echo.close();
});

describe('pipelines across origins', () => {
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
      assert.equal(reply.headers.via, `1.1 ${trusting.via}`);
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

