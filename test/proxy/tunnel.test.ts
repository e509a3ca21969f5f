/** CONNECT tunnels: curl, undici and Node's https through the tunnel to a local HTTPS origin; raw-socket details. */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import tls from 'node:tls';
import { once } from 'node:events';
import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProxyAgent, request } from 'undici';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';
import { closedPort, startHttpsOrigin, startTcpServer, type OriginServer, type EchoReply } from '../helpers/origin-servers.js';
import { createTestPki, type TestPki } from '../helpers/test-pki.js';
import { openTunnel, rawExchange, readUntil } from '../helpers/raw-client.js';
import { curl } from '../helpers/curl.js';
import { availableTunnelRelays, useTunnelRelay } from '../../src/proxy/tunnel-relay-selection.js';

// Every test runs against each relay this machine can select (tunnel-relay.ts).
for (const relay of availableTunnelRelays()) {
  describe(`tunnel relay "${relay}"`, () => {
    let proxy: TestProxy;
    let origin: OriginServer;
    let pki: TestPki;
    let caFile: string;

    before(async () => {
      useTunnelRelay(relay);
      pki = await createTestPki();
      origin = await startHttpsOrigin(await pki.serverCert('127.0.0.1'));
      proxy = await startTestProxy();
      caFile = join(await mkdtemp(join(tmpdir(), 'egress-ca-')), 'ca.pem');
      await writeFile(caFile, pki.caPem);
    });
    after(async () => {
      await proxy.stop(100);
      await origin.close();
    });

    test('curl -x through a CONNECT tunnel, verifying the origin certificate', async () => {
      const result = await curl(['-x', proxy.url, '--cacert', caFile, '-X', 'POST', '-d', 'cpu,host=a usage=1', `${origin.url}/v1/write/metrics?token=x`]);
      assert.equal(result.exitCode, 0, result.stderr);
      const reply = JSON.parse(result.stdout) as EchoReply;
      assert.equal(reply.url, '/v1/write/metrics?token=x');
      assert.equal(reply.bodyLength, 'cpu,host=a usage=1'.length);
    });

    test('undici ProxyAgent tunnels and reuses the tunnel for 100 requests', async () => {
      const connectionsBefore = origin.connections;
      const dispatcher = new ProxyAgent({ uri: proxy.url, requestTls: { ca: pki.caPem }, connections: 1 });
      for (let i = 0; i < 100; i++) {
        const res = await request(`${origin.url}/v1/write/metric`, { method: 'POST', body: `line ${i}`, dispatcher });
        assert.equal(res.statusCode, 200);
        await res.body.json();
      }
      await dispatcher.close();
      assert.equal(origin.connections - connectionsBefore, 1, 'one TLS connection through one tunnel');
    });

    test('Node https over a manual CONNECT: keep-alive across many requests on one tunnel', async () => {
      const socket = await openTunnel(proxy.port, `127.0.0.1:${origin.port}`);
      const tlsSocket = tls.connect({ socket, ca: pki.caPem, servername: undefined, host: '127.0.0.1' });
      await once(tlsSocket, 'secureConnect');
      // An agent that hands out our one TLS socket: every request must travel on it.
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
      (agent as unknown as { createConnection: () => tls.TLSSocket }).createConnection = () => tlsSocket;
      for (let i = 0; i < 20; i++) {
        const reply = await new Promise<EchoReply>((resolve, reject) => {
          const req = https.request({ host: '127.0.0.1', port: origin.port, path: `/v1/election?i=${i}`, method: 'POST', agent, ca: pki.caPem }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c) => (body += c));
            res.on('end', () => resolve(JSON.parse(body) as EchoReply));
          });
          req.on('error', reject);
          req.end('x');
        });
        assert.equal(reply.url, `/v1/election?i=${i}`);
      }
      assert.equal(tlsSocket.destroyed, false);
      tlsSocket.destroy();
      agent.destroy();
    });

    test('bytes sent right after the CONNECT head (pipelined) reach the target first', async () => {
      const echo = await startTcpServer();
      try {
        const result = await rawExchange(
          proxy.port,
          `CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nHost: 127.0.0.1:${echo.port}\r\n\r\nhello-before-200`,
          { timeoutMs: 500 },
        );
        assert.match(result.text, /^HTTP\/1\.1 200 Connection established\r\n\r\nhello-before-200$/);
      } finally {
        await echo.close();
      }
    });

    test('half-close: the client ends its side and still receives the server answer', async () => {
      // The server answers only after the client has finished sending (like a request/response over a raw stream).
      const server = await startTcpServer(
        (socket) => {
          let received = '';
          socket.on('data', (c: Buffer) => (received += c.toString()));
          socket.on('end', () => {
            setTimeout(() => socket.end(`got ${received.length} bytes`), 50);
          });
        },
        { allowHalfOpen: true },
      );
      try {
        const socket = await openTunnel(proxy.port, `127.0.0.1:${server.port}`);
        socket.end('0123456789');
        const answer = await readUntil(socket, (t) => t.includes('bytes'));
        assert.equal(answer, 'got 10 bytes');
        await once(socket, 'close');
      } finally {
        await server.close();
      }
    });

    test('a tunnel to a closed port answers 502 with a short text body', async () => {
      const port = await closedPort();
      const result = await rawExchange(proxy.port, `CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.match(result.text, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
      assert.match(result.text, /cannot connect to 127\.0\.0\.1:\d+/);
      assert.ok(result.closedByServer);
    });
  });
}
