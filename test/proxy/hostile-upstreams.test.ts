/**
 * Upstreams and clients that try to break the proxy: status lines Node refuses to write back, bodies meant to be
 * read as a second request on a pooled connection (request smuggling), and an unsolicited 101. Each must give a
 * clean answer to this client, nothing to the upstream beyond one framed request, and leave the process up.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { ProxyAgent, request } from 'undici';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';
import { startTcpServer } from '../helpers/origin-servers.js';
import { rawExchange, statusOf } from '../helpers/raw-client.js';

let proxy: TestProxy;
before(async () => {
  proxy = await startTestProxy({}, (config) => {
    config.timeouts.upstreamResponseMs = 5000;
  });
});
after(async () => {
  await proxy.stop(100);
});

/** An origin answering every connection with fixed bytes. */
async function rawOrigin(answer: string) {
  return startTcpServer((socket) => {
    socket.once('data', () => socket.end(answer));
  });
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const dispatcher = new ProxyAgent({ uri: proxy.url, proxyTunnel: false });
  try {
    const res = await request(url, { dispatcher });
    return { status: res.statusCode, body: await res.body.text() };
  } finally {
    await dispatcher.close();
  }
}

test('a status code below 100 from the upstream is a 502, not a crash', async () => {
  const origin = await rawOrigin('HTTP/1.1 099 Weird\r\nContent-Length: 0\r\n\r\n');
  try {
    const res = await get(`http://127.0.0.1:${origin.port}/v1/write/metric`);
    assert.equal(res.status, 502);
    assert.match(res.body, /failed/);
  } finally {
    await origin.close();
  }
});

test('control characters in the reason phrase: the response passes with a clean reason', async () => {
  const origin = await rawOrigin('HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\n\r\nok');
  try {
    const result = await rawExchange(proxy.port, `GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.match(result.text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(result.text, /\r\n\r\nok$/);
  } finally {
    await origin.close();
  }
});

test('an unsolicited 101 from the upstream gets the client a 502 at once', async () => {
  const origin = await rawOrigin('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n');
  try {
    const started = Date.now();
    const res = await get(`http://127.0.0.1:${origin.port}/v1/write/metric`);
    assert.equal(res.status, 502);
    assert.ok(Date.now() - started < 2000, 'not left waiting for a timeout');
    const metrics = await proxy.metricsText();
    assert.match(metrics, /egress_proxy_requests_in_flight 0\n/);
  } finally {
    await origin.close();
  }
});

/** An origin that records every request it parses, with its body. */
async function recordingOrigin() {
  const seen: Array<{ method: string; url: string; body: string }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', body });
      res.end('done');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { seen, port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Smuggled: yes\r\n\r\n';

test('a chunked body on a GET is re-framed upstream, never sent raw (no smuggled second request)', async () => {
  const origin = await recordingOrigin();
  try {
    const chunk = `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`;
    const result = await rawExchange(
      proxy.port,
      `GET http://127.0.0.1:${origin.port}/first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunk}`,
    );
    assert.equal(statusOf(result.text), 200);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(origin.seen.map((r) => r.url), ['/first']);
    assert.equal(origin.seen[0]?.body, SMUGGLED, 'the body arrived as a body');
  } finally {
    await origin.close();
  }
});

test('Connection naming Content-Length cannot strip the framing of a DELETE body', async () => {
  const origin = await recordingOrigin();
  try {
    const result = await rawExchange(
      proxy.port,
      `DELETE http://127.0.0.1:${origin.port}/first HTTP/1.1\r\nHost: x\r\nConnection: close, Content-Length\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    );
    assert.equal(statusOf(result.text), 200);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(origin.seen.map((r) => r.url), ['/first']);
    assert.equal(origin.seen[0]?.body, SMUGGLED);
  } finally {
    await origin.close();
  }
});

test('after all of the above the proxy is still up', async () => {
  const origin = await rawOrigin('HTTP/1.1 204 No Content\r\n\r\n');
  try {
    assert.equal((await get(`http://127.0.0.1:${origin.port}/`)).status, 204);
  } finally {
    await origin.close();
  }
});
