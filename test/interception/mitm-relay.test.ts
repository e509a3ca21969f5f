/**
 * The intercepting relay's HTTP/1.1 handling, driven with raw bytes over a real intercepted tunnel (the client
 * trusts the exported CA, the relay verifies the origin): pipelining, chunked bodies, 1xx, HEAD, bodies that run
 * until close, an upstream that closes between or in the middle of responses, protocol switches, and requests
 * that cannot be framed safely.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { sample } from '../helpers/metrics-text.js';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';
import { echoHandler, startHttpsOrigin, type EchoReply, type OriginServer } from '../helpers/origin-servers.js';
import { createTestPki, type TestPki } from '../helpers/test-pki.js';
import { openTunnel, readUntil } from '../helpers/raw-client.js';

let pki: TestPki;
let originCert: { key: string; cert: string };
let origin: OriginServer;
let dir: string;
let proxy: TestProxy;
let mitmCaPem: string;
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  pki = await createTestPki();
  originCert = await pki.serverCert('127.0.0.1');
  origin = await startHttpsOrigin(originCert, (req, res) => {
    if (req.url === '/head') {
      res.writeHead(200, { 'Content-Length': '1234' });
      res.end();
      return;
    }
    echoHandler(req, res);
  });
  dir = await mkdtemp(join(tmpdir(), 'egress-mitm-relay-'));
  await writeFile(join(dir, 'origin-ca.pem'), pki.caPem);
  proxy = await startTestProxy({ mitm: true, dataDir: join(dir, 'data'), upstreamCaFile: join(dir, 'origin-ca.pem') }, (config) => {
    config.timeouts.upstreamResponseMs = 500;
    config.timeouts.clientHeadersMs = 300;
  });
  mitmCaPem = await readFile(join(dir, 'data', 'ca.crt'), 'utf8');
});
after(async () => {
  for (const cleanup of cleanups) await cleanup();
  await proxy.stop(100);
  await origin.close();
});

/** A TLS session through an intercepted tunnel to 127.0.0.1:port, verifying the MITM leaf. */
async function intercepted(port: number): Promise<tls.TLSSocket> {
  const socket = await openTunnel(proxy.port, `127.0.0.1:${port}`);
  const secure = tls.connect({ socket, ca: mitmCaPem, host: '127.0.0.1' });
  await once(secure, 'secureConnect');
  return withTunnelHost(secure, port);
}

/** The requests below say `Host: x`; inside a tunnel Host must name the CONNECT authority (issue 9, item 7). */
function withTunnelHost(secure: tls.TLSSocket, port: number): tls.TLSSocket {
  const write: (data: string | Buffer) => boolean = secure.write.bind(secure);
  const fix = (text: string): string => text.replaceAll('Host: x\r\n', `Host: 127.0.0.1:${port}\r\n`);
  (secure as { write: (data: string | Buffer) => boolean }).write = (data) =>
    write(typeof data === 'string' ? fix(data) : data.length < 1024 * 1024 ? Buffer.from(fix(data.toString('latin1')), 'latin1') : data);
  return secure;
}

/** A TLS origin on the test PKI that speaks whatever `onSocket` writes: for upstreams that misbehave. */
async function rawOrigin(onSocket: (socket: tls.TLSSocket) => void): Promise<number> {
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer(originCert, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as import('node:net').AddressInfo).port;
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');
const echoes = (text: string): EchoReply[] =>
  [...text.matchAll(/\r\n\r\n(\{"method".*?"bodySha256":"[0-9a-f]{64}"\})/g)].map((m) => JSON.parse(m[1] as string) as EchoReply);

/** An origin on the test PKI with its own request handler, closed after the test file. */
async function customOrigin(handler: http.RequestListener): Promise<OriginServer> {
  const server = await startHttpsOrigin(originCert, handler);
  cleanups.push(() => server.close());
  return server;
}

test('pipelined requests (Content-Length, chunked, bodiless) are answered in order, bodies byte-identical, each counted', async () => {
  const big = randomBytes(100_000);
  const before = sample(await proxy.metricsText(), 'datakit_input_proxy_api_total{api="/v1/write/pipelined",method="POST"}') ?? 0;
  const secure = await intercepted(origin.port);
  secure.write(
    Buffer.concat([
      Buffer.from(`POST /v1/write/pipelined HTTP/1.1\r\nHost: x\r\nContent-Length: ${big.length}\r\n\r\n`),
      big,
      Buffer.from('POST /v1/write/pipelined HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n'),
      Buffer.from('GET /v1/ping HTTP/1.1\r\nHost: x\r\n\r\n'),
    ]),
  );
  const text = await readUntil(secure, (t) => echoes(t).length === 3, 5000);
  secure.destroy();
  const replies = echoes(text);
  assert.deepEqual(replies.map((r) => r.url), ['/v1/write/pipelined', '/v1/write/pipelined', '/v1/ping']);
  assert.deepEqual(replies.map((r) => r.bodySha256), [sha256(big), sha256('hello world'), sha256('')]);
  assert.match(String(replies[0]?.headers.via), /^1\.1 egress-proxy$/);
  assert.match(text, /\r\nVia: 1\.1 egress-proxy\r\n/, 'responses carry Via too');
  const after = await proxy.metricsText();
  assert.equal((sample(after, 'datakit_input_proxy_api_total{api="/v1/write/pipelined",method="POST"}') ?? 0) - before, 2);
});

test('a HEAD response declares a length but has no body: the next response on the connection is framed right', async () => {
  const secure = await intercepted(origin.port);
  secure.write('HEAD /head HTTP/1.1\r\nHost: x\r\n\r\nGET /after-head HTTP/1.1\r\nHost: x\r\n\r\n');
  const text = await readUntil(secure, (t) => echoes(t).length === 1, 5000);
  secure.destroy();
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*Content-Length: 1234\r\n/);
  assert.equal(echoes(text)[0]?.url, '/after-head');
});

test('Expect: 100-continue: the interim 100 reaches the client, then the final response', async () => {
  const secure = await intercepted(origin.port);
  secure.write('POST /v1/write/expect HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n');
  await readUntil(secure, (t) => t.startsWith('HTTP/1.1 100 Continue\r\n') && t.endsWith('\r\n\r\n'), 5000);
  secure.write('body');
  const text = await readUntil(secure, (t) => echoes(t).length === 1, 5000);
  secure.destroy();
  assert.equal(echoes(text)[0]?.bodySha256, sha256('body'));
});

test('an upstream that closes an idle keep-alive connection: the next request opens a new one', async () => {
  // Ends each connection 50 ms after a response, as a server with a short keep-alive timeout does.
  const shortLived = await customOrigin((req, res) => {
    res.on('finish', () => setTimeout(() => req.socket.end(), 50));
    echoHandler(req, res);
  });
  const secure = await intercepted(shortLived.port);
  secure.write('GET /one HTTP/1.1\r\nHost: x\r\n\r\n');
  await readUntil(secure, (t) => echoes(t).length === 1, 5000);
  await new Promise((resolve) => setTimeout(resolve, 400));
  secure.write('GET /two HTTP/1.1\r\nHost: x\r\n\r\n');
  const text = await readUntil(secure, (t) => echoes(t).length === 1, 5000);
  secure.destroy();
  assert.equal(echoes(text)[0]?.url, '/two');
  assert.equal(shortLived.connections, 2);
});

test('a tunnel that closes between requests leaves its upstream connection to the next tunnel to that target', async () => {
  const pooled = await customOrigin(echoHandler);
  for (const path of ['/first', '/second', '/third']) {
    const secure = await intercepted(pooled.port);
    secure.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const text = await readUntil(secure, (t) => echoes(t).length === 1, 5000);
    assert.equal(echoes(text)[0]?.url, path);
    secure.end();
    await once(secure, 'close');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(pooled.connections, 1, 'one upstream TLS connection served three tunnels');
  // A client's Connection: close is hop-by-hop (RFC 9110 §7.6.1): it ends the client's connection, not the pooled one.
  const secure = await intercepted(pooled.port);
  secure.write('GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await readUntil(secure, (t) => echoes(t).length === 1, 5000);
  secure.destroy();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const again = await intercepted(pooled.port);
  again.write('GET /after-close HTTP/1.1\r\nHost: x\r\n\r\n');
  await readUntil(again, (t) => echoes(t).length === 1, 5000);
  again.destroy();
  assert.equal(pooled.connections, 1);
});

test('a body that runs until the upstream closes reaches the client whole, re-framed as chunked', async () => {
  const closing = await customOrigin((_req, res) => {
    // HTTP/1.0-style: no length, no chunking; the body ends with the connection.
    res.socket?.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end');
  });
  const secure = await intercepted(closing.port);
  secure.write('GET /v1/close-delimited HTTP/1.1\r\nHost: x\r\n\r\n');
  const text = await readUntil(secure, (t) => t.endsWith('\r\n0\r\n\r\n'), 5000);
  secure.destroy();
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n[^]*Transfer-Encoding: chunked\r\n[^]*\r\n\r\nd\r\nuntil the end\r\n0\r\n\r\n$/);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(sample(await proxy.metricsText(), 'datakit_input_proxy_api_total{api="/v1/close-delimited",method="GET"}'), 1);
});

test('an upstream that dies in the middle of a response: the client connection is cut, the failure counted', async () => {
  const dying = await customOrigin((_req, res) => {
    res.writeHead(200, { 'Content-Length': '100' });
    res.write('only ten..');
    setTimeout(() => res.socket?.destroy(), 50);
  });
  const before = sample(await proxy.metricsText(), 'egress_proxy_upstream_errors_total{reason="reset"}') ?? 0;
  const secure = await intercepted(dying.port);
  secure.on('error', () => undefined);
  secure.write('GET /v1/dies HTTP/1.1\r\nHost: x\r\n\r\n');
  const text = await readUntil(secure, () => false, 5000).catch((err: Error) => err.message);
  assert.match(text, /^closed; received: .*only ten\.\./);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal((sample(await proxy.metricsText(), 'egress_proxy_upstream_errors_total{reason="reset"}') ?? 0) - before, 1);
});

test('an upstream that does not answer in time gets the request a 504', async () => {
  const silent = await customOrigin(() => undefined);
  const secure = await intercepted(silent.port);
  secure.write('GET /v1/silent HTTP/1.1\r\nHost: x\r\n\r\n');
  const text = await readUntil(secure, (t) => t.includes('\r\n\r\n'), 5000);
  secure.destroy();
  assert.match(text, /^HTTP\/1\.1 504 /);
});

test('a protocol switch (101) turns the connection into a byte relay both ways', async () => {
  const upgrading = await customOrigin(echoHandler);
  upgrading.server.on('upgrade', (_req: http.IncomingMessage, socket: import('node:net').Socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
    socket.pipe(socket);
  });
  const secure = await intercepted(upgrading.port);
  secure.write('GET /v1/upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
  await readUntil(secure, (t) => t.includes('101 Switching Protocols') && t.endsWith('\r\n\r\n'), 5000);
  secure.write('GET /not-http-any-more\r\n\r\n');
  const echoed = await readUntil(secure, (t) => t.includes('not-http-any-more'), 5000);
  assert.match(echoed, /GET \/not-http-any-more/);
  // Quiet for longer than the upstream response timeout (500 ms here): an upgraded connection is a tunnel now,
  // and only the tunnel idle timeout applies.
  await new Promise((resolve) => setTimeout(resolve, 800));
  secure.write('still here');
  assert.match(await readUntil(secure, (t) => t.includes('still here'), 3000), /still here/);
  secure.destroy();
});

for (const [name, wire] of [
  ['both Transfer-Encoding and Content-Length', 'POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n'],
  ['a malformed chunked body', 'POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
  ['obs-fold', 'GET /x HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n'],
  ['an absolute target naming another host', 'GET https://elsewhere.example/x HTTP/1.1\r\nHost: elsewhere.example\r\n\r\n'],
] as const) {
  test(`a request with ${name} gets 400 and the connection closes`, async () => {
    const requestsBefore = origin.requests;
    const secure = await intercepted(origin.port);
    secure.write(wire);
    const text = await readUntil(secure, (t) => t.includes('\r\n\r\n'), 5000);
    await once(secure, 'end');
    secure.destroy();
    assert.match(text, /^HTTP\/1\.1 400 /);
    assert.match(text, /\r\nConnection: close\r\n/);
    // Nothing ambiguous went on to the origin: at most a head that was fine on its own.
    assert.ok(origin.requests - requestsBefore <= 0 || name === 'a malformed chunked body', `${origin.requests - requestsBefore}`);
  });
}

test('a request head over 16 KiB gets 431, one that trickles in too slowly 408; both close the connection', async () => {
  const large = await intercepted(origin.port);
  large.write(`GET /x HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17_000)}`);
  assert.match(await readUntil(large, (t) => t.includes('\r\n\r\n'), 5000), /^HTTP\/1\.1 431 /);
  large.destroy();
  const slow = await intercepted(origin.port);
  slow.write('GET /x HTTP/1.1\r\nHost: x\r\n');
  const text = await readUntil(slow, (t) => t.includes('\r\n\r\n'), 5000);
  await once(slow, 'end');
  slow.destroy();
  assert.match(text, /^HTTP\/1\.1 408 /);
});

test('a body that runs until the upstream closes goes on chunked, and a request pipelined behind it is answered after it', async () => {
  const port = await rawOrigin((socket) => {
    socket.once('data', (data: Buffer) => {
      const path = /^GET (\S+)/.exec(data.toString('latin1'))?.[1] ?? '';
      socket.end(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nUNTIL-CLOSE${path}`);
    });
  });
  const secure = await intercepted(port);
  secure.write('GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n');
  const text = await readUntil(secure, (t) => t.endsWith('UNTIL-CLOSE/second\r\n0\r\n\r\n'), 3000);
  secure.destroy();
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n[^]*Transfer-Encoding: chunked\r\n[^]*\r\n\r\n11\r\nUNTIL-CLOSE\/first\r\n0\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
});

test('an upstream that answers early and closes while the client is held back by backpressure: the client gets the answer and the connection ends', async () => {
  const port = await rawOrigin((socket) => {
    socket.pause();
    socket.once('readable', () => {
      socket.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      setTimeout(() => socket.destroy(), 300);
    });
  });
  const secure = await intercepted(port);
  secure.on('error', () => undefined);
  const size = 24 * 1024 * 1024;
  secure.write(`POST /v1/big HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
  const chunk = Buffer.alloc(1024 * 1024, 0x61);
  let sent = 0;
  const allSent = new Promise<void>((resolve) => {
    const pump = (): void => {
      while (sent < size) {
        sent += chunk.length;
        if (!secure.write(chunk)) {
          secure.once('drain', pump);
          return;
        }
      }
      resolve();
    };
    pump();
  });
  const closed = once(secure, 'close');
  const answer = await readUntil(secure, (t) => t.includes('\r\n\r\n'), 5000);
  assert.match(answer, /^HTTP\/1\.1 413 /);
  // The rest of the body is never read: framing ends with this response, as when forwarding.
  assert.match(answer, /\r\nConnection: close\r\n/);
  // Once a proxy that never read from this client again left the upload stalled for good: it must end, either
  // with the whole body taken (and discarded) or with the connection closed.
  await Promise.race([allSent, closed, new Promise((_, reject) => setTimeout(() => reject(new Error(`stalled at ${sent} bytes`)), 8000))]);
  secure.destroy();
});

test('after a 101, an upstream that goes away takes the client connection with it', async () => {
  const port = await rawOrigin((socket) => {
    socket.once('data', () => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n');
      setTimeout(() => socket.destroy(), 100);
    });
  });
  const secure = await intercepted(port);
  secure.on('error', () => undefined);
  const closed = once(secure, 'close');
  secure.write('GET /up HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n');
  await readUntil(secure, (t) => t.includes('\r\n\r\n'), 3000);
  await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('client still open 2 s after the reset')), 2000))]);
});

test('bytes sent right behind an upgrade request are held for the answer: raw after a 101, HTTP again after a refusal', async () => {
  let received = '';
  const port = await rawOrigin((socket) => {
    socket.on('data', (data: Buffer) => {
      received += data.toString('latin1');
      if (received.includes('Upgrade: yes') && !received.includes('101-sent')) {
        received += '101-sent';
        socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n');
      } else if (received.includes('Upgrade: no') && !received.includes('426-sent')) {
        received += '426-sent';
        socket.write('HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n');
      } else if (received.includes('GET /after-refusal')) {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        received = '';
      }
    });
  });
  const upgraded = await intercepted(port);
  upgraded.write('GET /up HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: yes\r\n\r\nEARLY-BYTES');
  await readUntil(upgraded, (t) => t.includes('101 Switching'), 3000);
  // Longer than client_headers (300 ms here): no 408 may land in the upgraded stream.
  const afterSwitch = await readUntil(upgraded, () => false, 600).catch((err: Error) => err.message);
  upgraded.destroy();
  assert.doesNotMatch(afterSwitch, /408/);
  assert.match(received, /EARLY-BYTES/, 'the bytes behind the upgrade request reached the origin once it switched');

  const refused = await intercepted(port);
  refused.write('GET /up HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: no\r\n\r\nGET /after-refusal HTTP/1.1\r\nHost: x\r\n\r\n');
  const text = await readUntil(refused, (t) => t.endsWith('ok'), 3000);
  refused.destroy();
  assert.match(text, /^HTTP\/1\.1 426 [\s\S]*HTTP\/1\.1 200 OK/);
});

test('a drain that has ended an idle client connection forwards nothing the client sends after it', async () => {
  const draining = await startTestProxy({ mitm: true, dataDir: join(dir, 'data'), upstreamCaFile: join(dir, 'origin-ca.pem') });
  let received = '';
  const port = await rawOrigin((socket) => {
    socket.on('data', (data: Buffer) => {
      received += data.toString('latin1');
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
  });
  // Half-open: a client that goes on writing after the proxy's FIN, which is what the race looks like on the wire.
  const raw = net.connect({ port: draining.port, host: '127.0.0.1', allowHalfOpen: true });
  await once(raw, 'connect');
  raw.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  await readUntil(raw, (t) => t.includes('\r\n\r\n'));
  const secure = tls.connect({ socket: raw, ca: mitmCaPem, host: '127.0.0.1', allowHalfOpen: true } as tls.ConnectionOptions);
  secure.on('error', () => undefined);
  await once(secure, 'secureConnect');
  withTunnelHost(secure, port);
  secure.write('GET /one HTTP/1.1\r\nHost: x\r\n\r\n');
  await readUntil(secure, (t) => t.endsWith('ok'), 3000);
  const stopping = draining.stop(1500);
  secure.write('POST /side-effect HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx');
  await readUntil(secure, () => false, 500).catch(() => undefined);
  secure.destroy();
  await stopping;
  assert.doesNotMatch(received, /side-effect/);
});

test('Proxy-Authorization and Proxy-Connection meant for the proxy never reach the origin', async () => {
  const secure = await intercepted(origin.port);
  secure.write('GET /v1/creds HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic c2VjcmV0\r\nProxy-Connection: keep-alive\r\nX-Kept: yes\r\n\r\n');
  const text = await readUntil(secure, (t) => echoes(t).length === 1, 5000);
  secure.destroy();
  const reply = echoes(text)[0] as EchoReply;
  assert.equal(reply.headers['proxy-authorization'], undefined);
  assert.equal(reply.headers['proxy-connection'], undefined);
  assert.equal(reply.headers['x-kept'], 'yes');
});

test('no request is left counted as in flight once the tunnels are gone', async () => {
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(sample(await proxy.metricsText(), 'egress_proxy_requests_in_flight'), 0);
});

test('a request refused while a response is being relayed: the connection is cut, never a 400 inside that response', async () => {
  // The origin sends half of a 20-byte body, then waits: the refusal lands in the middle of it.
  const port = await rawOrigin((socket) => {
    socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nAAAAAAAAAA'));
  });
  const refusals = {
    'a pipelined head with bare LF line ends': 'GET /second HTTP/1.1\nHost: x\n',
    'a malformed chunk in the body of the request being answered': 'zz\r\n',
  };
  for (const [name, bad] of Object.entries(refusals)) {
    const secure = await intercepted(port);
    const first = name.startsWith('a malformed')
      ? 'POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'
      : 'GET /first HTTP/1.1\r\nHost: x\r\n\r\n';
    secure.write(first);
    await readUntil(secure, (t) => t.endsWith('AAAAAAAAAA'), 3000);
    let after = '';
    secure.on('data', (chunk: Buffer) => (after += chunk.toString('latin1')));
    secure.on('error', () => undefined);
    secure.write(bad);
    // Cut (a reset) when the refusal lands, or when the response times out with the bytes held unread.
    await new Promise((resolve) => secure.once('close', resolve));
    assert.doesNotMatch(after, /HTTP\/1\.1 400/, `${name}: ${JSON.stringify(after)}`);
  }
});
