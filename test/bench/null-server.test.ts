// Tests the null server: which requests get 200, that it keeps connections alive, that it answers only after the
// whole body, and that its self-signed certificate verifies for the loopback names.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startNullServer, type NullServer } from '../../src/bench/null-server.js';

/** Writes raw bytes on one connection and collects what comes back until `done(text)` is true. */
function rawExchange(port: number, chunks: string[], done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
      if (done(text)) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
    for (const chunk of chunks) socket.write(chunk);
  });
}

const statusLines = (text: string): string[] => text.split('\r\n').filter((l) => l.startsWith('HTTP/1.1 '));

describe('null server (plain HTTP)', () => {
  let server: NullServer;
  before(async () => {
    server = await startNullServer({ tls: false });
  });
  after(() => server.close());

  it('answers POST /v1/write/:category with an empty 200 and everything else with 404, on one kept-alive connection', async () => {
    const before = { ...server.stats };
    const post = (path: string, body = 'x=1'): string =>
      `POST ${path} HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const requests = [
      post('/v1/write/metric'),
      post('/v1/write/logging?token=abc'),
      post('/v1/write/'),
      post('/v1/write/a/b'),
      post('/v1/election'),
      'GET /v1/write/metric HTTP/1.1\r\nHost: t\r\n\r\n',
    ];
    const text = await rawExchange(server.port, requests, (t) => statusLines(t).length === requests.length);
    assert.deepEqual(statusLines(text), [
      'HTTP/1.1 200 OK',
      'HTTP/1.1 200 OK',
      'HTTP/1.1 404 Not Found',
      'HTTP/1.1 404 Not Found',
      'HTTP/1.1 404 Not Found',
      'HTTP/1.1 404 Not Found',
    ]);
    assert.equal((text.match(/content-length: 0/gi) ?? []).length, requests.length, 'every answer is empty');
    assert.doesNotMatch(text, /connection: close/i);
    assert.equal(server.stats.connections - before.connections, 1);
    assert.equal(server.stats.requests - before.requests, 6);
    assert.equal(server.stats.writes - before.writes, 2);
  });

  it('answers only once the whole body has arrived', async () => {
    const body = 'y'.repeat(100_000);
    const socket = net.connect(server.port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (received += d));
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(`POST /v1/write/metric HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 60_000)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(received, '', 'no answer while the body is incomplete');
    socket.write(body.slice(60_000));
    await new Promise<void>((resolve) => socket.on('data', () => resolve()));
    assert.match(received, /^HTTP\/1\.1 200 OK\r\n/);
    socket.destroy();
  });

  it('close() ends idle keep-alive connections instead of waiting for them', async () => {
    const other = await startNullServer({ tls: false });
    const socket = net.connect(other.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const started = Date.now();
    await other.close();
    await closed;
    assert.ok(Date.now() - started < 2000);
  });
});

describe('null server (self-signed HTTPS)', () => {
  let server: NullServer;
  before(async () => {
    server = await startNullServer();
  });
  after(() => server.close());

  it('makes a certificate for localhost, 127.0.0.1 and ::1', () => {
    assert.ok(server.caPem !== undefined);
    const cert = new X509Certificate(server.caPem);
    assert.equal(cert.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.ok(cert.checkIssued(cert), 'self-signed');
    assert.equal(cert.publicKey.asymmetricKeyType, 'ec');
    assert.ok(new Date(cert.validTo).getTime() > Date.now() + 7 * 24 * 3600 * 1000);
  });

  it('serves HTTPS that verifies against that certificate', async () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const status = await new Promise<number>((resolve, reject) => {
      const req = https.request(`${server.url}/v1/write/metric`, { method: 'POST', ca: server.caPem }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode as number));
      });
      req.on('error', reject);
      req.end('cpu usage=1');
    });
    assert.equal(status, 200);
  });

  it('is rejected by a client that does not trust it', async () => {
    await assert.rejects(
      new Promise((resolve, reject) => {
        const req = https.request(`${server.url}/v1/write/metric`, { method: 'POST' }, resolve);
        req.on('error', reject);
        req.end();
      }),
      /self[- ]signed/,
    );
  });
});
