/**
 * Every failure answers with its own status and a short text body, and one bad connection never affects the
 * next: origin-form 400, malformed 400 + close, unreachable 502, DNS failure 502, connect timeout 504, upstream
 * response timeout 504, loop 508, disallowed CONNECT port 403.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net, { type LookupFunction } from 'node:net';
import { once } from 'node:events';
import { ProxyAgent, request } from 'undici';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';
import { closedPort, startHttpOrigin, type OriginServer } from '../helpers/origin-servers.js';
import { rawExchange, statusOf } from '../helpers/raw-client.js';

// DNS without the network: `*.invalid` fails like a real NXDOMAIN, `*.stall` never answers (a black-holed
// target), everything else resolves to loopback. Tests never send a query off this machine.
const testLookup: LookupFunction = (hostname, options, callback) => {
  if (hostname.endsWith('.invalid')) {
    const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
    process.nextTick(() => (callback as (e: Error) => void)(err));
    return;
  }
  if (hostname.endsWith('.stall')) return;
  if ((options as { all?: boolean }).all) {
    process.nextTick(() => (callback as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: '127.0.0.1', family: 4 }]));
  } else {
    process.nextTick(() => callback(null, '127.0.0.1', 4));
  }
};

let proxy: TestProxy;
let origin: OriginServer;
let silentOrigin: OriginServer;

before(async () => {
  origin = await startHttpOrigin();
  // Accepts requests and never answers: the upstream response timeout must fire.
  silentOrigin = await startHttpOrigin(() => undefined);
  proxy = await startTestProxy(
    {},
    (config) => {
      config.timeouts.connectMs = 300;
      config.timeouts.upstreamResponseMs = 300;
      config.destinations.connectPorts = [origin.port];
    },
    { lookup: testLookup },
  );
});
after(async () => {
  await proxy.stop(100);
  await origin.close();
  await silentOrigin.close();
});

async function proxied(url: string, via: TestProxy = proxy): Promise<{ status: number; body: string }> {
  const dispatcher = new ProxyAgent({ uri: via.url, proxyTunnel: false });
  try {
    const res = await request(url, { dispatcher });
    return { status: res.statusCode, body: await res.body.text() };
  } finally {
    await dispatcher.close();
  }
}


test('origin-form request to the proxy port: 400 saying this is a proxy, then close', async () => {
  const result = await rawExchange(proxy.port, 'GET / HTTP/1.1\r\nHost: example\r\n\r\n');
  assert.equal(statusOf(result.text), 400);
  assert.match(result.text, /This is a forward proxy/);
  assert.match(result.text, /Connection: close/i);
  assert.ok(result.closedByServer);
});

test('malformed request line and headers: 400 and close', async () => {
  for (const bad of [
    'GARBAGE\r\n\r\n',
    'GET http://127.0.0.1/ HTTP/1.1\r\nBad Header Without Colon\r\n\r\n',
    'GET http://127.0.0.1/ HTTP/9.9\r\n\r\n',
    'GET http://127.0.0.1:0/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
    // Request smuggling shape: both framings at once (RFC 9112 §6.3 says reject or fix; we reject).
    `POST http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  ]) {
    const result = await rawExchange(proxy.port, bad);
    assert.equal(statusOf(result.text), 400, `for ${JSON.stringify(bad)}: ${result.text}`);
    assert.ok(result.closedByServer);
  }
});

test('CONNECT with an unparseable target: 400', async () => {
  for (const target of ['no-port', 'host:99999', '[::1', 'a b:443']) {
    const result = await rawExchange(proxy.port, `CONNECT ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.ok([400].includes(statusOf(result.text)), `${target}: ${result.text.split('\r\n')[0]}`);
  }
});

test('unsupported scheme in an absolute URI: 405', async () => {
  const result = await rawExchange(proxy.port, 'GET ftp://127.0.0.1/file HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  assert.equal(statusOf(result.text), 405);
});

test('unreachable upstream (connection refused): 502 with a short text body', async () => {
  const port = await closedPort();
  const res = await proxied(`http://127.0.0.1:${port}/v1/write/metric`);
  assert.equal(res.status, 502);
  assert.match(res.body, /cannot connect to 127\.0\.0\.1:\d+/);
});

test('DNS failure: 502 for forwarding and for CONNECT', async () => {
  const res = await proxied('http://ingest.invalid/v1/write/metric');
  assert.equal(res.status, 502);
  assert.match(res.body, /cannot resolve ingest\.invalid/);
  const tunnel = await rawExchange(proxy.port, `CONNECT ingest.invalid:${origin.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
  assert.equal(statusOf(tunnel.text), 502);
});

test('connect timeout: 504 for forwarding and for CONNECT', async () => {
  const started = Date.now();
  const res = await proxied('http://blackhole.stall/v1/write/metric');
  assert.equal(res.status, 504);
  assert.match(res.body, /timed out/);
  const tunnel = await rawExchange(proxy.port, `CONNECT blackhole.stall:${origin.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
  assert.equal(statusOf(tunnel.text), 504);
  assert.ok(Date.now() - started < 3000, 'timeouts honoured, not the OS default');
});

test('upstream accepts but never answers: 504 after the response timeout', async () => {
  const res = await proxied(`${silentOrigin.url}/v1/write/metric`);
  assert.equal(res.status, 504);
  assert.match(res.body, /did not answer in time/);
});

test('a request aimed at the proxy itself is refused (508), not looped', async () => {
  const res = await proxied(`http://127.0.0.1:${proxy.port}/`);
  assert.equal(res.status, 508);
  const viaAdmin = await proxied(`http://localhost:${proxy.adminAddress!.port}/metrics`);
  assert.equal(viaAdmin.status, 508);
});

// Without allowed_connect_ports, so CONNECTs reach the loop guard.
async function unrestrictedProxy(): Promise<TestProxy> {
  // A connect timeout well past what the tests wait, but short: a dial to a stalled name that outlives the proxy
  // (the tunnel's connect timer) keeps the test process alive until it fires.
  const p = await startTestProxy({}, (config) => (config.timeouts.connectMs = 3000), { lookup: testLookup });
  extraProxies.push(p);
  return p;
}
const extraProxies: TestProxy[] = [];
after(async () => {
  for (const p of extraProxies) await p.stop(100);
});

test('other spellings of our own address cannot reach the admin listener (508)', async () => {
  const proxy = await unrestrictedProxy();
  const admin = proxy.adminAddress!.port;
  for (const host of ['[::ffff:7f00:1]', '[::ffff:127.0.0.1]', '2130706433', '0x7f000001', '0177.0.0.1']) {
    const res = await proxied(`http://${host}:${admin}/metrics`, proxy);
    assert.equal(res.status, 508, `forward to ${host}`);
    const tunnel = await rawExchange(proxy.port, `CONNECT ${host}:${admin} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal(statusOf(tunnel.text), 508, `CONNECT to ${host}: ${tunnel.text.split('\r\n')[0]}`);
  }
});

test('a name that resolves to this host is caught after resolution (508), on forward and CONNECT', async () => {
  // testLookup resolves every ordinary name to 127.0.0.1, like a public name pointed at loopback would.
  const proxy = await unrestrictedProxy();
  const admin = proxy.adminAddress!.port;
  const res = await proxied(`http://self.example:${admin}/metrics`, proxy);
  assert.equal(res.status, 508);
  const tunnel = await rawExchange(proxy.port, `CONNECT self.example:${admin} HTTP/1.1\r\nHost: x\r\n\r\n`);
  assert.equal(statusOf(tunnel.text), 508);
  // The same name on another port is an ordinary upstream.
  assert.equal((await proxied(`http://self.example:${origin.port}/v1/ntp`, proxy)).status, 200);
});

test('a tunnel that never connected is not recorded as established (499 when the proxy stops first)', async () => {
  const proxy = await unrestrictedProxy();
  const pending = rawExchange(proxy.port, 'CONNECT blackhole.stall:443 HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 2000 });
  await new Promise((r) => setTimeout(r, 100));
  await proxy.stop(100);
  await pending;
  const metrics = await proxy.metricsText();
  assert.match(metrics, /egress_proxy_tunnels_total\{result="499",intercepted="false"\} 1/);
  assert.doesNotMatch(metrics, /result="established"/);
});

test('a client that leaves while the proxy is still dialing is noticed at once, not at the connect timeout', async () => {
  const proxy = await unrestrictedProxy();
  const socket = net.connect(proxy.port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('CONNECT blackhole.stall:443 HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((r) => setTimeout(r, 100));
  socket.end();
  const deadline = Date.now() + 2000;
  let metrics = '';
  while (Date.now() < deadline) {
    metrics = await proxy.metricsText();
    if (/egress_proxy_tunnels_active 0\n/.test(metrics)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(metrics, /egress_proxy_tunnels_active 0\n/, 'the dial was abandoned well before the 10 s connect timeout');
  assert.match(metrics, /egress_proxy_tunnels_total\{result="499",intercepted="false"\} 1/);
  assert.doesNotMatch(metrics, /egress_proxy_upstream_errors_total\{reason="timeout"\}/, 'not blamed on the upstream');
  socket.destroy();
});

test('CONNECT to a port outside allowed_connect_ports: 403', async () => {
  const result = await rawExchange(proxy.port, 'CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(statusOf(result.text), 403);
  assert.match(result.text, /Port 25 is not allowed/);
});

test('after all of the above the proxy still serves requests', async () => {
  const res = await proxied(`${origin.url}/v1/ntp`);
  assert.equal(res.status, 200);
  const metrics = await proxy.metricsText();
  assert.match(metrics, /datakit_input_proxy_reject_total\{type="bad_request"\} [1-9]/);
  assert.match(metrics, /egress_proxy_upstream_errors_total\{reason="dns"\} 2/);
  assert.match(metrics, /egress_proxy_upstream_errors_total\{reason="timeout"\} 3/);
  assert.match(metrics, /egress_proxy_upstream_errors_total\{reason="refused"\} 1/);
});
