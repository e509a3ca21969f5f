/**
 * The client allow-list: IPv4, IPv6 and IPv4-mapped client addresses, for plain requests and CONNECT. The proxy
 * listens on `::` (dual stack) so the same listener is reached as ::1 and as 127.0.0.1 (seen as ::ffff:127.0.0.1).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';
import { startHttpOrigin, startTcpServer, type OriginServer } from '../helpers/origin-servers.js';
import { rawExchange, readUntil, statusOf } from '../helpers/raw-client.js';

const proxies: TestProxy[] = [];
let origin: OriginServer | undefined;
let echo: Awaited<ReturnType<typeof startTcpServer>> | undefined;

after(async () => {
  for (const p of proxies) await p.stop(100);
  await origin?.close();
  await echo?.close();
});

async function dualStackProxy(allow: string[]): Promise<TestProxy> {
  origin ??= await startHttpOrigin();
  echo ??= await startTcpServer();
  const proxy = await startTestProxy({ bind: '::', allow });
  proxies.push(proxy);
  return proxy;
}


async function plainStatus(proxy: TestProxy, from: '127.0.0.1' | '::1'): Promise<{ status: number; text: string; closed: boolean }> {
  const r = await rawExchange(proxy.port, `GET ${origin!.url}/v1/ntp HTTP/1.1\r\nHost: 127.0.0.1:${origin!.port}\r\nConnection: close\r\n\r\n`, { host: from });
  return { status: statusOf(r.text), text: r.text, closed: r.closedByServer };
}

async function connectStatus(proxy: TestProxy, from: '127.0.0.1' | '::1'): Promise<{ status: number; text: string; closed: boolean }> {
  const r = await rawExchange(proxy.port, `CONNECT 127.0.0.1:${echo!.port} HTTP/1.1\r\nHost: x\r\n\r\n`, { host: from, timeoutMs: 500 });
  return { status: statusOf(r.text), text: r.text, closed: r.closedByServer };
}

test('IPv4 allow-list: 127.0.0.1 (arriving as ::ffff:127.0.0.1) allowed, ::1 denied with 403 for both kinds', async () => {
  const proxy = await dualStackProxy(['127.0.0.0/8']);
  assert.equal((await plainStatus(proxy, '127.0.0.1')).status, 200);
  assert.equal((await connectStatus(proxy, '127.0.0.1')).status, 200);
  const plain = await plainStatus(proxy, '::1');
  assert.equal(plain.status, 403);
  assert.match(plain.text, /IP access denied/);
  assert.ok(plain.closed, 'denied connection is closed');
  const tunnel = await connectStatus(proxy, '::1');
  assert.equal(tunnel.status, 403);
  assert.match(tunnel.text, /IP access denied/);
  assert.ok(tunnel.closed);
});

test('IPv6 allow-list: ::1 allowed, 127.0.0.1 denied', async () => {
  const proxy = await dualStackProxy(['::1/128']);
  assert.equal((await plainStatus(proxy, '::1')).status, 200);
  assert.equal((await connectStatus(proxy, '::1')).status, 200);
  assert.equal((await plainStatus(proxy, '127.0.0.1')).status, 403);
  assert.equal((await connectStatus(proxy, '127.0.0.1')).status, 403);
});

test('bare addresses and mixed lists; a list that matches nobody denies everybody', async () => {
  const both = await dualStackProxy(['127.0.0.1', '::1']);
  assert.equal((await plainStatus(both, '::1')).status, 200);
  assert.equal((await plainStatus(both, '127.0.0.1')).status, 200);
  const nobody = await dualStackProxy(['10.0.0.0/8', '2001:db8::/32']);
  assert.equal((await plainStatus(nobody, '::1')).status, 403);
  assert.equal((await connectStatus(nobody, '127.0.0.1')).status, 403);
  const metrics = await nobody.metricsText();
  assert.match(metrics, /datakit_input_proxy_reject_total\{type="ip"\} 2/);
  // Denied CONNECTs are not counted as connects.
  assert.doesNotMatch(metrics, /datakit_input_proxy_connect_total\{/);
});

test('an empty allow-list allows every client (the reference behaviour)', async () => {
  const proxy = await dualStackProxy([]);
  assert.equal((await plainStatus(proxy, '::1')).status, 200);
  assert.equal((await plainStatus(proxy, '127.0.0.1')).status, 200);
});

test('a denied client gets its 403 at accept, before it sends a byte, and nothing it sends is parsed (issue 9, item 4)', async () => {
  const proxy = await dualStackProxy(['10.0.0.0/8']);
  const socket = net.connect(proxy.port, '127.0.0.1');
  await once(socket, 'connect');
  // Nothing written: the answer comes anyway, at once.
  const answer = await readUntil(socket, (t) => t.endsWith('IP access denied\n'), 1000);
  assert.equal(statusOf(answer), 403);
  assert.match(answer, /\r\nConnection: close\r\n/);
  socket.destroy();
  // A head that would cost a parser something (16 KiB of spaces in one field) is never scanned: 403, not 431.
  const costly = await rawExchange(proxy.port, `GET ${origin!.url}/ HTTP/1.1\r\nX-Spaces: ${' '.repeat(16 * 1024)}x\r\n\r\n`);
  assert.equal(statusOf(costly.text), 403, costly.text.slice(0, 100));
  const metrics = await proxy.metricsText();
  assert.match(metrics, /datakit_input_proxy_reject_total\{type="ip"\} 2/);
  assert.doesNotMatch(metrics, /reject_total\{type="bad_request"\}/, 'nothing was read as a request');
});
