/**
 * The JavaScript tunnel relay reads into buffers it reuses (read-buffer-relay.ts); both relays take over the
 * client's TCP handle (adopt-client-socket.ts). These tests hold the two promises that makes: no byte is lost or
 * overwritten when a reader is slower than its writer, and the connection still counts as what it is (a client
 * connection, a tunnel) for as long as it is open.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { ReadBufferRelay } from '../../src/proxy/read-buffer-relay.js';
import { startTestProxy } from '../helpers/test-proxy.js';
import { startTcpServer } from '../helpers/origin-servers.js';
import { openTunnel, readUntil } from '../helpers/raw-client.js';
import { availableTunnelRelays, useTunnelRelay } from '../../src/proxy/tunnel-relay-selection.js';

const MiB = 1024 * 1024;

/** Deterministic bytes that differ from one 64 KiB block to the next, so an overwritten buffer shows. */
function patternedChunk(index: number, size = 64 * 1024): Buffer {
  const chunk = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4) chunk.writeUInt32LE((index * 2654435761 + i) >>> 0, i);
  return chunk;
}

/** Writes `total` bytes of patterned data, honouring backpressure, then ends; resolves with their SHA-256. */
async function sendPatterned(socket: net.Socket, total: number): Promise<string> {
  const hash = createHash('sha256');
  for (let sent = 0, index = 0; sent < total; index++) {
    const chunk = patternedChunk(index).subarray(0, Math.min(64 * 1024, total - sent));
    hash.update(chunk);
    sent += chunk.length;
    if (!socket.write(chunk)) await once(socket, 'drain');
  }
  socket.end();
  return hash.digest('hex');
}

/** Reads a socket slowly (a pause every few chunks) to its end; resolves with the SHA-256 and length of it all. */
async function readSlowly(socket: net.Socket): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  let chunks = 0;
  socket.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
    if (++chunks % 8 === 0) {
      socket.pause();
      setTimeout(() => socket.resume(), 2);
    }
  });
  await once(socket, 'end');
  return { sha256: hash.digest('hex'), bytes };
}

test('ReadBufferRelay: 16 MiB to a slow reader arrive intact, through at most two read buffers', async () => {
  const total = 16 * MiB;
  let sentHash: Promise<string> | undefined;
  const sender = await startTcpServer((socket) => {
    sentHash = sendPatterned(socket, total);
  });
  let received: Promise<{ sha256: string; bytes: number }> | undefined;
  const receiver = await startTcpServer((socket) => {
    received = readSlowly(socket);
  });
  try {
    const destination = net.connect({ port: receiver.port, host: '127.0.0.1' });
    await once(destination, 'connect');
    const relay = new ReadBufferRelay();
    const source = net.connect({ port: sender.port, host: '127.0.0.1', onread: relay.onread });
    relay.start(source, destination);
    await once(destination, 'finish');
    while (received === undefined) await new Promise((r) => setTimeout(r, 5));
    const { sha256, bytes } = await received;
    assert.equal(bytes, total);
    assert.equal(sha256, await sentHash);
    assert.ok(relay.bufferAllocations <= 2, `allocated ${relay.bufferAllocations} read buffers for ${total / MiB} MiB`);
    source.destroy();
    destination.destroy();
  } finally {
    await sender.close();
    await receiver.close();
  }
});

// The tests below run against each relay this machine can select (tunnel-relay.ts).
for (const relay of availableTunnelRelays()) {
  describe(`tunnel relay "${relay}"`, () => {
    test('a tunnel carries 8 MiB each way, at once, intact to and from slow readers', async () => {
      const total = 8 * MiB;
      // The target reads the upload slowly while sending its own 8 MiB; the client does the same the other way.
      let uploadSeen: Promise<{ sha256: string; bytes: number }> | undefined;
      let downloadSent: Promise<string> | undefined;
      const target = await startTcpServer(
        (socket) => {
          uploadSeen = readSlowly(socket);
          // Not before the client has sent: bytes arriving with the `200` would be read by openTunnel's head parsing.
          socket.once('data', () => {
            downloadSent = sendPatterned(socket, total);
          });
        },
        { allowHalfOpen: true },
      );
      useTunnelRelay(relay);
      const proxy = await startTestProxy();
      try {
        const tunnel = await openTunnel(proxy.port, `127.0.0.1:${target.port}`);
        const downloadSeen = readSlowly(tunnel);
        const uploadSent = await sendPatterned(tunnel, total);
        const download = await downloadSeen;
        assert.equal(download.bytes, total);
        assert.equal(download.sha256, await downloadSent);
        const upload = await uploadSeen!;
        assert.equal(upload.bytes, total);
        assert.equal(upload.sha256, uploadSent);
        tunnel.destroy();
      } finally {
        await proxy.stop(100);
        await target.close();
      }
    });

    test('a client that sends 70 KiB and its FIN while the upstream is still being dialled: all of it, and the FIN, arrive', async () => {
      // The target answers only once it sees the end of what the client sent.
      let received = 0;
      const target = await startTcpServer(
        (socket) => {
          socket.on('data', (chunk: Buffer) => (received += chunk.length));
          socket.on('end', () => socket.end(`got ${received}`));
        },
        { allowHalfOpen: true },
      );
      // A resolver that takes 300 ms, so the early bytes (over the 64 KiB EarlyClientData holds) and the FIN are read
      // by the proxy before the tunnel exists.
      const slowLookup = ((_host: string, options: unknown, callback: (...args: unknown[]) => void) => {
        const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all === true;
        setTimeout(() => (all ? callback(null, [{ address: '127.0.0.1', family: 4 }]) : callback(null, '127.0.0.1', 4)), 300);
      }) as unknown as net.LookupFunction;
      useTunnelRelay(relay);
      const proxy = await startTestProxy({}, undefined, { lookup: slowLookup });
      try {
        const client = net.connect({ port: proxy.port, host: '127.0.0.1', allowHalfOpen: true });
        await once(client, 'connect');
        const authority = `slow-dns.test:${target.port}`;
        client.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
        client.write(Buffer.alloc(66 * 1024, 0x61));
        await new Promise((r) => setTimeout(r, 50));
        client.end(Buffer.alloc(4 * 1024, 0x62));
        const text = await readUntil(client, (t) => t.includes('got '), 3000);
        assert.match(text, /^HTTP\/1\.1 200 [^]*got 71680$/);
        client.destroy();
      } finally {
        await proxy.stop(100);
        await target.close();
      }
    });

    test('an open tunnel counts as a client connection, also against max_client_connections, until it closes', async () => {
      const echo = await startTcpServer();
      useTunnelRelay(relay);
      const proxy = await startTestProxy({}, (config) => {
        config.limits.maxClientConnections = 1;
      });
      try {
        const tunnel = await openTunnel(proxy.port, `127.0.0.1:${echo.port}`);
        tunnel.write('ping');
        assert.equal(await readUntil(tunnel, (t) => t === 'ping'), 'ping');
        assert.match(await proxy.metricsText(), /egress_proxy_client_connections_active 1\n/);

        // The limit is reached: Node's server closes a second connection as soon as it is accepted.
        const second = net.connect({ port: proxy.port, host: '127.0.0.1' });
        second.on('error', () => {});
        second.write('GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
        await once(second, 'close');
        assert.equal(second.bytesRead, 0, 'no answer: the connection was refused at accept');

        tunnel.end();
        await once(tunnel, 'close');
        for (let i = 0; i < 100 && !/egress_proxy_client_connections_active 0\n/.test(await proxy.metricsText()); i++) {
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.match(await proxy.metricsText(), /egress_proxy_client_connections_active 0\n/);
        const third = await openTunnel(proxy.port, `127.0.0.1:${echo.port}`);
        third.destroy();
      } finally {
        await proxy.stop(100);
        await echo.close();
      }
    });
  });
}
