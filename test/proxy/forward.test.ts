/** Plain forwarding of absolute-URI requests: real clients (undici, curl) → egress-proxy → local origin. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { ProxyAgent, request, Agent } from 'undici';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';
import { startHttpOrigin, type OriginServer, type EchoReply } from '../helpers/origin-servers.js';
import { curl } from '../helpers/curl.js';

let proxy: TestProxy;
let origin: OriginServer;

before(async () => {
  origin = await startHttpOrigin();
  proxy = await startTestProxy();
});
after(async () => {
  await proxy.stop(100);
  await origin.close();
});

function forwardingAgent(): ProxyAgent {
  // proxyTunnel false: absolute-URI requests, as Go's http.ProxyURL sends for http:// endpoints.
  return new ProxyAgent({ uri: proxy.url, proxyTunnel: false });
}

test('a 170 KB POST arrives byte-identical and the response comes back', async () => {
  const body = randomBytes(172_787);
  const dispatcher = forwardingAgent();
  const res = await request(`${origin.url}/v1/write/metric?token=tkn_secret`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'x-points': '299' },
    dispatcher,
  });
  assert.equal(res.statusCode, 200);
  const reply = (await res.body.json()) as EchoReply;
  assert.equal(reply.method, 'POST');
  assert.equal(reply.url, '/v1/write/metric?token=tkn_secret');
  assert.equal(reply.bodyLength, body.length);
  assert.equal(reply.bodySha256, createHash('sha256').update(body).digest('hex'));
  assert.equal(reply.headers['content-encoding'], 'gzip');
  assert.equal(reply.headers['x-points'], '299');
  assert.equal(reply.headers.host, `127.0.0.1:${origin.port}`);
  assert.equal(reply.headers.via, `1.1 ${proxy.via}`);
  assert.equal(res.headers.via, `1.1 ${proxy.via}`);
  await dispatcher.close();
});

test('keep-alive both ways: 50 sequential requests use one client connection and one upstream connection', async () => {
  const before = origin.connections;
  const clientConnections = new Set<number>();
  // A plain http.Agent with one socket, so we can see how many client connections the proxy kept open.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 50; i++) {
    const reply = await new Promise<EchoReply>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: proxy.port, method: 'POST', path: `${origin.url}/v1/write/logging`, agent, headers: { 'content-length': 5 } },
        (res) => {
          clientConnections.add(res.socket.localPort ?? -1);
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve(JSON.parse(text) as EchoReply));
        },
      );
      req.on('error', reject);
      req.end('hello');
    });
    assert.equal(reply.bodyLength, 5);
  }
  agent.destroy();
  assert.equal(clientConnections.size, 1, 'client connection reused');
  // The pool may even reuse the connection an earlier test opened: at most one new one for 50 requests.
  assert.ok(origin.connections - before <= 1, `upstream connections opened: ${origin.connections - before}`);
  assert.ok(origin.connections >= 1);
});

test('hop-by-hop headers are stripped both ways (RFC 9110 §7.6.1), end-to-end ones kept', async () => {
  const upstream = await startHttpOrigin((req, res) => {
    res.writeHead(200, {
      'Content-Type': 'application/json',
      Connection: 'keep-alive, X-Upstream-Hop',
      'X-Upstream-Hop': 'secret',
      'Keep-Alive': 'timeout=5',
      'Proxy-Authenticate': 'Basic',
      'X-End-To-End': 'kept',
    });
    res.end(JSON.stringify(req.headers));
  });
  try {
    const raw = await new Promise<{ headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: proxy.port,
          path: `${upstream.url}/x`,
          headers: {
            Connection: 'X-Client-Hop',
            'X-Client-Hop': 'drop me',
            'Keep-Alive': 'timeout=99',
            TE: 'trailers',
            'Proxy-Authorization': 'Basic c2VjcmV0',
            'Proxy-Connection': 'keep-alive',
            Upgrade: 'websocket',
            'X-Custom': 'kept',
          },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ headers: res.headers, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    const seen = JSON.parse(raw.body) as Record<string, string>;
    for (const name of ['x-client-hop', 'keep-alive', 'te', 'proxy-authorization', 'proxy-connection', 'upgrade']) {
      assert.equal(seen[name], undefined, `${name} must not reach the origin`);
    }
    assert.equal(seen['x-custom'], 'kept');
    assert.equal(raw.headers['x-upstream-hop'], undefined);
    assert.equal(raw.headers['proxy-authenticate'], undefined);
    assert.equal(raw.headers['x-end-to-end'], 'kept');
  } finally {
    await upstream.close();
  }
});

test('curl -x forwards a POST (with its Expect: 100-continue) and a GET', async () => {
  const data = 'x'.repeat(4096);
  const post = await curl(['-x', proxy.url, '-X', 'POST', '--data-binary', data, `${origin.url}/v1/write/metrics?token=t`]);
  assert.equal(post.exitCode, 0, post.stderr);
  const reply = JSON.parse(post.stdout) as EchoReply;
  assert.equal(reply.bodyLength, 4096);
  assert.equal(reply.headers.expect, undefined);
  const get = await curl(['-x', proxy.url, '-o', '/dev/null', '-w', '%{http_code}', `${origin.url}/v1/ntp`]);
  assert.equal(get.stdout, '200');
});

test('a chunked request body without Content-Length is streamed through', async () => {
  const dispatcher = forwardingAgent();
  function* chunks() {
    for (let i = 0; i < 20; i++) yield Buffer.alloc(10_000, i);
  }
  const res = await request(`${origin.url}/v1/write/object`, { method: 'POST', body: Readable.from(chunks()), dispatcher });
  const reply = (await res.body.json()) as EchoReply;
  assert.equal(reply.bodyLength, 200_000);
  assert.equal(reply.headers['transfer-encoding'], 'chunked');
  await dispatcher.close();
});

test('the proxy does not serve direct requests: direct undici request to the proxy gets 400', async () => {
  const agent = new Agent();
  const res = await request(`${proxy.url}/v1/write/metric`, { dispatcher: agent });
  assert.equal(res.statusCode, 400);
  assert.match(await res.body.text(), /forward proxy/);
  await agent.close();
});
