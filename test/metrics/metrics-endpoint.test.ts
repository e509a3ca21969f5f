/**
 * Metrics after real traffic, read from the admin listener: the reference's series with the right names, labels
 * and counts (each request counted exactly once, rejects in the reject counter), our own series, label caps
 * under 10,000 distinct paths, and /healthz and /readyz (503 while draining).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { Agent, ProxyAgent, request } from 'undici';
import { sample } from '../helpers/metrics-text.js';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';
import { startHttpOrigin, startTcpServer } from '../helpers/origin-servers.js';
import { openTunnel, rawExchange, readUntil } from '../helpers/raw-client.js';
import { availableTunnelRelays, useTunnelRelay } from '../../src/proxy/tunnel-relay-selection.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function scrape(proxy: TestProxy): Promise<{ status: number; contentType: string; text: string }> {
  const agent = new Agent();
  const res = await request(`${proxy.adminUrl}/metrics`, { dispatcher: agent });
  const text = await res.body.text();
  await agent.close();
  return { status: res.statusCode, contentType: String(res.headers['content-type']), text };
}


test('the reference series after plain requests, a tunnel and a reject', async () => {
  const origin = await startHttpOrigin();
  const echo = await startTcpServer();
  const proxy = await startTestProxy({ allow: ['127.0.0.1/32'] });
  cleanups.push(() => proxy.stop(100), () => origin.close(), () => echo.close());

  const dispatcher = new ProxyAgent({ uri: proxy.url, proxyTunnel: false });
  for (let i = 0; i < 7; i++) {
    const res = await request(`${origin.url}/v1/write/metric?token=secret${i}`, { method: 'POST', body: 'abc', dispatcher });
    await res.body.text();
  }
  await dispatcher.close();
  const tunnel = await openTunnel(proxy.port, `127.0.0.1:${echo.port}`);
  tunnel.write('ping');
  await readUntil(tunnel, (t) => t === 'ping');
  tunnel.destroy();
  // A malformed request is rejected before any upstream work (allow-list rejects are covered in allow-list.test.ts).
  await rawExchange(proxy.port, 'NONSENSE\r\n\r\n');
  await new Promise((r) => setTimeout(r, 50));

  const { status, contentType, text } = await scrape(proxy);
  assert.equal(status, 200);
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  assert.match(text, /# HELP datakit_input_proxy_api_total Proxy API total\n# TYPE datakit_input_proxy_api_total counter/);
  assert.equal(sample(text, 'datakit_input_proxy_api_total{api="/v1/write/metric",method="POST"}'), 7);
  assert.match(text, /# TYPE datakit_input_proxy_api_latency_seconds summary/);
  for (const q of ['0.5', '0.9', '0.99']) {
    assert.ok(sample(text, `datakit_input_proxy_api_latency_seconds{quantile="${q}",api="/v1/write/metric",method="POST",status="OK"}`) !== undefined, `quantile ${q}`);
  }
  assert.equal(sample(text, 'datakit_input_proxy_api_latency_seconds_count{api="/v1/write/metric",method="POST",status="OK"}'), 7);
  assert.equal(sample(text, 'datakit_input_proxy_connect_total{client_ip="127.0.0.1"}'), 1);
  assert.equal(sample(text, 'datakit_input_proxy_reject_total{type="bad_request"}'), 1);
  assert.doesNotMatch(text, /secret/, 'query strings never reach labels');
  // Ours.
  assert.equal(sample(text, 'egress_proxy_request_duration_seconds_count{kind="forward",code_class="2xx"}'), 7);
  assert.equal(sample(text, 'egress_proxy_bytes_total{direction="upstream",kind="forward"}'), 21);
  assert.equal(sample(text, 'egress_proxy_bytes_total{direction="upstream",kind="tunnel"}'), 4);
  assert.equal(sample(text, 'egress_proxy_bytes_total{direction="downstream",kind="tunnel"}'), 4);
  assert.equal(sample(text, 'egress_proxy_tunnels_total{result="established",intercepted="false"}'), 1);
  assert.equal(sample(text, 'egress_proxy_tunnels_active'), 0);
  assert.equal(sample(text, 'egress_proxy_client_connections_active'), 0, 'every client connection closed by now');
  assert.equal(sample(text, 'egress_proxy_rejects_total{reason="bad_request"}'), 1);
  assert.match(text, /egress_proxy_build_info\{version="\d+\.\d+\.\d+",node_version="v\d+/);
  assert.match(text, /process_cpu_user_seconds_total/);
});

// Against each relay this machine can select: the native one counts in C, the JavaScript one on the socket.
for (const relay of availableTunnelRelays()) {
  test(`an open tunnel's bytes show while it is open, and are not counted again at its close (${relay} relay)`, async () => {
    useTunnelRelay(relay);
    const echo = await startTcpServer();
    const proxy = await startTestProxy({ allow: ['127.0.0.1/32'] });
    cleanups.push(() => proxy.stop(100), () => echo.close());
    const bytes = async (direction: string): Promise<number | undefined> =>
      sample((await scrape(proxy)).text, `egress_proxy_bytes_total{direction="${direction}",kind="tunnel"}`);

    const tunnel = await openTunnel(proxy.port, `127.0.0.1:${echo.port}`);
    tunnel.write('a'.repeat(1000));
    await readUntil(tunnel, (text) => text.length === 1000);
    assert.equal(await bytes('upstream'), 1000, 'counted while the tunnel is open');
    assert.equal(await bytes('downstream'), 1000);
    tunnel.write('b'.repeat(500));
    await readUntil(tunnel, (text) => text.length === 500);
    assert.equal(await bytes('upstream'), 1500, 'each read adds what was relayed since the last');
    tunnel.destroy();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await bytes('upstream'), 1500, 'the close adds only what was not counted yet');
    assert.equal(await bytes('downstream'), 1500);
  });
}

test('a request that fails upstream is counted once, with status text, and as an upstream error', async () => {
  const origin = await startHttpOrigin((_req, res) => {
    res.writeHead(503);
    res.end();
  });
  const proxy = await startTestProxy();
  cleanups.push(() => proxy.stop(100), () => origin.close());
  const dispatcher = new ProxyAgent({ uri: proxy.url, proxyTunnel: false });
  await (await request(`${origin.url}/v1/write/logging`, { method: 'POST', body: 'x', dispatcher })).body.text();
  await origin.close();
  await (await request(`${origin.url}/v1/write/logging`, { method: 'POST', body: 'x', dispatcher })).body.text();
  await dispatcher.close();
  const { text } = await scrape(proxy);
  assert.equal(sample(text, 'datakit_input_proxy_api_total{api="/v1/write/logging",method="POST"}'), 2);
  assert.equal(sample(text, 'datakit_input_proxy_api_latency_seconds_count{api="/v1/write/logging",method="POST",status="Service Unavailable"}'), 1);
  assert.equal(sample(text, 'datakit_input_proxy_api_latency_seconds_count{api="/v1/write/logging",method="POST",status="Bad Gateway"}'), 1);
  assert.equal(sample(text, 'egress_proxy_upstream_errors_total{reason="refused"}'), 1);
});

test('label caps hold under 10,000 distinct paths and 12 client addresses', async () => {
  const origin = await startHttpOrigin((_req, res) => res.end());
  const proxy = await startTestProxy({}, (config) => {
    config.metrics.maxApiLabels = 50;
    config.metrics.maxClientIpLabels = 5;
  });
  cleanups.push(() => proxy.stop(100), () => origin.close());
  const dispatcher = new ProxyAgent({ uri: proxy.url, proxyTunnel: false, connections: 8 });
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < 10_000) {
        const i = next++;
        const res = await request(`${origin.url}/unknown/path-${i.toString(36)}x?q=${i}`, { dispatcher });
        await res.body.text();
      }
    }),
  );
  await dispatcher.close();
  // Distinct client addresses: every 127.x address is local, so bind the client side to 12 of them.
  const echo = await startTcpServer();
  cleanups.push(() => echo.close());
  for (let i = 2; i < 14; i++) {
    const socket = net.connect({ port: proxy.port, host: '127.0.0.1', localAddress: `127.0.0.${i}` });
    await once(socket, 'connect');
    socket.write(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await readUntil(socket, (t) => t.includes('\r\n\r\n'));
    socket.destroy();
  }
  const { text } = await scrape(proxy);
  const apiValues = new Set([...text.matchAll(/datakit_input_proxy_api_total\{api="([^"]*)"/g)].map((m) => m[1]));
  assert.equal(apiValues.size, 51, 'the 50 first paths plus "other"');
  assert.ok(apiValues.has('other'));
  assert.equal(sample(text, 'datakit_input_proxy_api_total{api="other",method="GET"}'), 10_000 - 50);
  const ipValues = new Set([...text.matchAll(/datakit_input_proxy_connect_total\{client_ip="([^"]*)"/g)].map((m) => m[1]));
  assert.equal(ipValues.size, 6, '5 addresses plus "other"');
  assert.equal(sample(text, 'datakit_input_proxy_connect_total{client_ip="other"}'), 7);
});

test('/healthz is 200; /readyz is 200, then 503 while draining; unknown paths 404', async () => {
  const echo = await startTcpServer();
  const proxy = await startTestProxy();
  cleanups.push(() => echo.close());
  const agent = new Agent();
  const get = async (path: string) => {
    const res = await request(`${proxy.adminUrl}${path}`, { dispatcher: agent });
    await res.body.text();
    return res.statusCode;
  };
  assert.equal(await get('/healthz'), 200);
  assert.equal(await get('/readyz'), 200);
  assert.equal(await get('/nope'), 404);
  const tunnel = await openTunnel(proxy.port, `127.0.0.1:${echo.port}`);
  const open = await proxy.metricsText();
  assert.match(open, /egress_proxy_client_connections_active 1\n/);
  assert.match(open, /egress_proxy_tunnels_active 1\n/);
  const stopped = proxy.stop(5000);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(await get('/readyz'), 503);
  assert.equal(await get('/healthz'), 200);
  // The tunnel still works while draining.
  tunnel.write('still here');
  assert.equal(await readUntil(tunnel, (t) => t === 'still here'), 'still here');
  tunnel.end();
  const result = await stopped;
  assert.equal(result.forced, false, 'drain finished when the tunnel closed, before the timeout');
  await agent.close();
});

test('drain timeout: a tunnel left open is closed once the drain timeout passes', async () => {
  const echo = await startTcpServer();
  const proxy = await startTestProxy();
  cleanups.push(() => echo.close());
  const tunnel = await openTunnel(proxy.port, `127.0.0.1:${echo.port}`);
  const started = Date.now();
  const result = await proxy.stop(300);
  assert.equal(result.forced, true);
  assert.ok(Date.now() - started < 2000);
  if (!tunnel.destroyed) await once(tunnel, 'close');
  // New connections are refused after the stop.
  const refused = await new Promise<boolean>((resolve) => {
    const s = net.connect({ port: proxy.port, host: '127.0.0.1' });
    s.on('connect', () => { s.destroy(); resolve(false); });
    s.on('error', () => resolve(true));
  });
  assert.ok(refused);
});
