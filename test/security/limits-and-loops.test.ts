/**
 * Issue 10's proof for per-client connection caps (one client cannot lock the others out; refused at accept with
 * 503, counted by reason) and for Via loop detection between two instances (each forwards to a "parent" that sends
 * the request on to the other, as two proxies configured as each other's parent would: the request carries the
 * first proxy's Via token when it comes back, and is refused 508 at once).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { parseResponses } from '../helpers/http-transcript.js';
import { sample } from '../helpers/metrics-text.js';
import { startHttpOrigin, startTcpServer, type OriginServer } from '../helpers/origin-servers.js';
import { readUntil } from '../helpers/raw-client.js';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';

async function connectFrom(port: number, localAddress: string): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

/** What the proxy says to a connection before it closes it (or '' if it says nothing within `timeoutMs`). */
async function answerOf(socket: net.Socket, timeoutMs = 2000): Promise<string> {
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  await Promise.race([once(socket, 'close'), new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
  return text;
}

describe('limits.max_connections_per_client', () => {
  let proxy: TestProxy;
  let origin: OriginServer;
  let echo: Awaited<ReturnType<typeof startTcpServer>>;
  const open: net.Socket[] = [];

  before(async () => {
    origin = await startHttpOrigin();
    echo = await startTcpServer();
    proxy = await startTestProxy({ maxConnectionsPerClient: 3 });
  });
  after(async () => {
    for (const socket of open) socket.destroy();
    await proxy.stop(100);
    await origin.close();
    await echo.close();
  });

  test('a client holding its 3 connections (idle ones and tunnels) gets 503 at accept for a 4th; other clients are served', async () => {
    open.push(await connectFrom(proxy.port, '127.0.0.20'));
    const tunnel = await connectFrom(proxy.port, '127.0.0.20');
    tunnel.write(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await readUntil(tunnel, (text) => text.includes('\r\n\r\n'));
    open.push(tunnel);
    const keptAlive = await connectFrom(proxy.port, '127.0.0.20');
    keptAlive.write(`GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\n\r\n`);
    await readUntil(keptAlive, (text) => parseResponses(text).responses.length === 1);
    open.push(keptAlive);

    const fourth = await connectFrom(proxy.port, '127.0.0.20');
    const refused = await answerOf(fourth);
    assert.match(refused, /^HTTP\/1\.1 503 [^]*X-Egress-Proxy-Error: EPROXY_CLIENT_CONNECTION_LIMIT/, refused);
    assert.match(refused, /\r\nRetry-After: 1\r\n/);

    const other = await connectFrom(proxy.port, '127.0.0.21');
    other.write(`GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.match(await answerOf(other), /^HTTP\/1\.1 200 /, 'another client is not affected');
    const metrics = await proxy.metricsText();
    assert.equal(sample(metrics, 'egress_proxy_rejects_total{reason="client_limit"}'), 1);
  });

  test('a connection closing gives its place back', async () => {
    open.shift()?.destroy();
    // The close reaches the proxy a moment later: a few tries, each a full request.
    let served = false;
    for (let attempt = 0; attempt < 20 && !served; attempt++) {
      const socket = await connectFrom(proxy.port, '127.0.0.20');
      socket.write(`GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      served = /^HTTP\/1\.1 200 /.test(await answerOf(socket));
      if (!served) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(served, 'the client is served again once one of its connections has closed');
  });
});

/**
 * A parent proxy stand-in: takes the origin-form request a proxy forwarded to it and sends it, as an absolute-form
 * request for `nextTarget`, through the proxy at `nextProxyPort`, with every field kept (Via included).
 */
async function startParent(nextProxyPort: () => number, nextTarget: () => string): Promise<{ port: number; requests: number; close(): Promise<void> }> {
  const state = { requests: 0 };
  const server = await startTcpServer((socket) => {
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      state.requests++;
      const [requestLine = '', ...fields] = head.slice(0, end).split('\r\n');
      const [method, path, version] = requestLine.split(' ');
      const kept = fields.filter((field) => !/^connection:/i.test(field));
      const next = net.connect({ port: nextProxyPort(), host: '127.0.0.1' });
      next.on('error', () => socket.destroy());
      next.write(`${method} http://${nextTarget()}${path} ${version}\r\n${kept.join('\r\n')}\r\nConnection: close\r\n\r\n`);
      next.pipe(socket);
    };
    socket.on('data', onData);
  });
  return {
    port: server.port,
    get requests() {
      return state.requests;
    },
    close: () => server.close(),
  };
}

test('Via loop between two instances: the request is refused 508 the moment it comes back to the first', async () => {
  // The parents learn the proxies' ports once those listen.
  const ports = { a: 0, b: 0 };
  // client → A → parentAB → B → parentBA → A (again: refused)
  const parentBA = await startParent(
    () => ports.a,
    () => `127.0.0.1:${parentAB.port}`,
  );
  const parentAB = await startParent(
    () => ports.b,
    () => `127.0.0.1:${parentBA.port}`,
  );
  const a = await startTestProxy();
  const b = await startTestProxy();
  ports.a = a.port;
  ports.b = b.port;
  try {
    assert.notEqual(a.via, b.via, 'two instances, two Via pseudonyms');
    const client = net.connect({ port: a.port, host: '127.0.0.1' });
    await once(client, 'connect');
    client.write(`GET http://127.0.0.1:${parentAB.port}/v1/write/metric HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    const answer = await answerOf(client, 5000);
    assert.match(answer, /^HTTP\/1\.1 508 [^]*X-Egress-Proxy-Error: EPROXY_VIA_LOOP/, answer);
    assert.equal(parentAB.requests, 1, 'once round the circle, no more');
    assert.equal(parentBA.requests, 1);
    assert.equal(sample(await a.metricsText(), 'egress_proxy_rejects_total{reason="loop"}'), 1);
    assert.equal(sample(await b.metricsText(), 'egress_proxy_rejects_total{reason="loop"}') ?? 0, 0, 'B passed it on: A is another proxy to B');
  } finally {
    await a.stop(100);
    await b.stop(100);
    await parentAB.close();
    await parentBA.close();
  }
});
