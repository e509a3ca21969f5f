/**
 * Connections refused at accept (client allow-list, per-client cap) linger a moment after their answer so it is not
 * lost to a reset; they must not hold places in `limits.max_client_connections` meanwhile, or a denied client
 * opening many locks every allowed client out (security review of main @ 0335356, finding 1).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { startHttpOrigin, type OriginServer } from '../helpers/origin-servers.js';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';

const CAP = 20;
const FLOOD = 3 * CAP;

/** Opens a connection from `localAddress` and collects what the proxy says until it closes (or `timeoutMs`). */
async function openAndRead(port: number, localAddress: string, request = '', timeoutMs = 3000): Promise<{ socket: net.Socket; answer: Promise<string> }> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress, allowHalfOpen: true });
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  const closed = new Promise<string>((resolve) => {
    socket.on('error', () => resolve(text || 'reset'));
    socket.on('close', () => resolve(text));
    setTimeout(() => resolve(text), timeoutMs).unref();
  });
  await Promise.race([once(socket, 'connect'), closed]);
  if (request) socket.write(request);
  return { socket, answer: closed };
}

/** `FLOOD` connections from 127.0.0.1 that the proxy refuses, none closed by the client; then one from 127.0.0.2. */
async function floodThenServeOther(proxy: TestProxy, origin: OriginServer, hold: net.Socket[]): Promise<{ refusals: string[]; other: string }> {
  const flood = [];
  for (let index = 0; index < FLOOD; index++) {
    const opened = await openAndRead(proxy.port, '127.0.0.1');
    hold.push(opened.socket);
    flood.push(opened.answer);
  }
  const other = await openAndRead(proxy.port, '127.0.0.2', `GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  return { other: await other.answer, refusals: await Promise.all(flood) };
}

describe('refusals at accept hold no place in limits.max_client_connections', () => {
  let origin: OriginServer;
  const hold: net.Socket[] = [];
  before(async () => {
    origin = await startHttpOrigin();
  });
  after(async () => {
    for (const socket of hold) socket.destroy();
    await origin.close();
  });

  test('a client the allow-list denies cannot fill the cap', async () => {
    const proxy = await startTestProxy({ allow: ['127.0.0.2/32'] }, (config) => {
      config.limits.maxClientConnections = CAP;
    });
    try {
      const { refusals, other } = await floodThenServeOther(proxy, origin, hold);
      assert.match(other, /^HTTP\/1\.1 200 /, `the allowed client is served (got ${JSON.stringify(other)})`);
      assert.ok(refusals.filter((answer) => answer.startsWith('HTTP/1.1 403 ')).length >= 4, 'refusals are answered');
    } finally {
      await proxy.stop(100);
    }
  });

  test('a client over its per-client cap cannot fill the global cap', async () => {
    const proxy = await startTestProxy({ maxConnectionsPerClient: 2 }, (config) => {
      config.limits.maxClientConnections = CAP;
    });
    try {
      const { refusals, other } = await floodThenServeOther(proxy, origin, hold);
      assert.match(other, /^HTTP\/1\.1 200 /, `the other client is served (got ${JSON.stringify(other)})`);
      assert.ok(refusals.filter((answer) => answer.startsWith('HTTP/1.1 503 ')).length >= 4, 'refusals are answered');
    } finally {
      await proxy.stop(100);
    }
  });

  test('the cap still holds for admitted connections', async () => {
    const proxy = await startTestProxy({}, (config) => {
      config.limits.maxClientConnections = 3;
    });
    try {
      for (let index = 0; index < 3; index++) hold.push((await openAndRead(proxy.port, '127.0.0.1')).socket);
      const fourth = await openAndRead(proxy.port, '127.0.0.2', `GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.match(await fourth.answer, /^(reset)?$/, 'a fourth connection is closed at accept, unanswered');
    } finally {
      await proxy.stop(100);
    }
  });
});
