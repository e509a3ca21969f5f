/**
 * MITM mode end to end: real clients trusting the exported CA (verification on), decrypted requests forwarded
 * over verified TLS, keep-alive inside the tunnel, the leaf cache, untrusted clients counted, untrusted upstreams
 * refused, pass-through hosts left alone, and the CA kept across restarts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { once } from 'node:events';
import { ProxyAgent, request } from 'undici';
import { sample } from '../helpers/metrics-text.js';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';
import { closedPort, startHttpsOrigin, type EchoReply, type OriginServer } from '../helpers/origin-servers.js';
import { createTestPki, type TestPki } from '../helpers/test-pki.js';
import { openTunnel } from '../helpers/raw-client.js';
import { curl } from '../helpers/curl.js';

let pki: TestPki;
let origin: OriginServer;
let namedOrigin: OriginServer;
let originCaFile: string;
let dataDir: string;
let proxy: TestProxy;
let mitmCaFile: string;
let mitmCaPem: string;
const stops: Array<() => Promise<unknown>> = [];

before(async () => {
  pki = await createTestPki();
  origin = await startHttpsOrigin(await pki.serverCert('127.0.0.1'));
  namedOrigin = await startHttpsOrigin(await pki.serverCert('localhost'));
  const dir = await mkdtemp(join(tmpdir(), 'egress-mitm-test-'));
  originCaFile = join(dir, 'origin-ca.pem');
  await writeFile(originCaFile, pki.caPem);
  dataDir = join(dir, 'data');
  proxy = await startTestProxy({ mitm: true, dataDir, upstreamCaFile: originCaFile });
  mitmCaFile = join(dataDir, 'ca.crt');
  mitmCaPem = await readFile(mitmCaFile, 'utf8');
});
after(async () => {
  for (const stop of stops) await stop();
  await proxy.stop(100);
  await origin.close();
  await namedOrigin.close();
});


test('curl trusting the exported CA: decrypted, forwarded over verified TLS, counted per API', async () => {
  const result = await curl(['-x', proxy.url, '--cacert', mitmCaFile, '-X', 'POST', '-d', 'cpu usage=1', `${origin.url}/v1/write/metrics?token=tkn_x`]);
  assert.equal(result.exitCode, 0, result.stderr);
  const reply = JSON.parse(result.stdout) as EchoReply;
  assert.equal(reply.url, '/v1/write/metrics?token=tkn_x');
  assert.match(String(reply.headers.via), /egress-proxy/, 'the request really went through the MITM path');
  const metrics = await proxy.metricsText();
  assert.equal(sample(metrics, 'datakit_input_proxy_api_total{api="/v1/write/metrics",method="POST"}'), 1);
  assert.equal(sample(metrics, 'datakit_input_proxy_api_latency_seconds_count{api="/v1/write/metrics",method="POST",status="OK"}'), 1);
  assert.equal(sample(metrics, 'egress_proxy_request_duration_seconds_count{kind="mitm",code_class="2xx"}'), 1);
});

test('undici: 100 requests over one intercepted tunnel, one upstream connection', async () => {
  const originConnections = origin.connections;
  const dispatcher = new ProxyAgent({ uri: proxy.url, requestTls: { ca: mitmCaPem }, connections: 1 });
  for (let i = 0; i < 100; i++) {
    const res = await request(`${origin.url}/v1/write/logging`, { method: 'POST', body: `line ${i}`, dispatcher });
    assert.equal(res.statusCode, 200);
    await res.body.text();
  }
  await dispatcher.close();
  assert.ok(origin.connections - originConnections <= 1, 'upstream keep-alive');
  const metrics = await proxy.metricsText();
  assert.equal(sample(metrics, 'datakit_input_proxy_api_total{api="/v1/write/logging",method="POST"}'), 100);
});

test('a host name target gets a leaf for its SNI name; the second tunnel is a cache hit', async () => {
  const before = await proxy.metricsText();
  const generatedBefore = sample(before, 'egress_proxy_mitm_leaf_certificates_total{result="generated"}') ?? 0;
  for (let i = 0; i < 2; i++) {
    const socket = await openTunnel(proxy.port, `localhost:${namedOrigin.port}`);
    const secure = tls.connect({ socket, servername: 'localhost', ca: mitmCaPem });
    await once(secure, 'secureConnect');
    assert.equal(secure.authorized, true);
    const peer = secure.getPeerX509Certificate();
    assert.match(peer?.subjectAltName ?? '', /DNS:localhost/);
    secure.destroy();
  }
  const after = await proxy.metricsText();
  assert.equal((sample(after, 'egress_proxy_mitm_leaf_certificates_total{result="generated"}') ?? 0) - generatedBefore, 1);
  assert.ok((sample(after, 'egress_proxy_mitm_leaf_certificates_total{result="cache_hit"}') ?? 0) >= 1);
});

test('20 concurrent first tunnels to one new host generate one certificate', async () => {
  const fresh = await startTestProxy({ mitm: true, dataDir, upstreamCaFile: originCaFile });
  stops.push(() => fresh.stop(100));
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      const socket = await openTunnel(fresh.port, `127.0.0.1:${origin.port}`);
      const secure = tls.connect({ socket, ca: mitmCaPem, host: '127.0.0.1' });
      await once(secure, 'secureConnect');
      secure.destroy();
    }),
  );
  const metrics = await fresh.metricsText();
  assert.equal(sample(metrics, 'egress_proxy_mitm_leaf_certificates_total{result="generated"}'), 1);
});

test('a client that does not trust the CA fails cleanly and is counted and logged', async () => {
  const result = await curl(['-x', proxy.url, `${origin.url}/v1/write/metric`]);
  assert.notEqual(result.exitCode, 0);
  assert.match(result.stderr, /certificate/i);
  await new Promise((r) => setTimeout(r, 100));
  const metrics = await proxy.metricsText();
  assert.ok((sample(metrics, 'egress_proxy_mitm_client_tls_failures_total{reason="untrusted_ca"}') ?? 0) >= 1, metrics.split('\n').filter((l) => l.includes('tls_failures')).join('\n'));
  assert.ok(proxy.logs.some((l) => l.level === 40 && /trust the CA/.test(String(l.msg))));
  // The proxy keeps serving.
  const ok = await curl(['-x', proxy.url, '--cacert', mitmCaFile, '-o', '/dev/null', '-w', '%{http_code}', `${origin.url}/v1/ntp`]);
  assert.equal(ok.stdout, '200');
});

test('an upstream whose certificate does not verify is refused with 502 (no extra CA given)', async () => {
  const strict = await startTestProxy({ mitm: true, dataDir });
  stops.push(() => strict.stop(100));
  const result = await curl(['-x', strict.url, '--cacert', mitmCaFile, '-w', '\n%{http_code}', `${origin.url}/v1/write/metric`]);
  assert.equal(result.exitCode, 0, result.stderr);
  assert.match(result.stdout, /TLS to 127\.0\.0\.1:\d+ failed/);
  assert.match(result.stdout, /\n502$/);
  const metrics = await strict.metricsText();
  assert.equal(sample(metrics, 'egress_proxy_upstream_errors_total{reason="tls"}'), 1);
});

test('an unreachable upstream inside MITM gets a 502 response, not a dropped connection', async () => {
  const port = await closedPort();
  const result = await curl(['-x', proxy.url, '--cacert', mitmCaFile, '-w', '\n%{http_code}', `https://127.0.0.1:${port}/v1/write/metric`]);
  assert.equal(result.exitCode, 0, result.stderr);
  assert.match(result.stdout, /\n502$/);
});

test('pass-through hosts are tunnelled untouched: the client sees the origin certificate', async () => {
  const passthrough = await startTestProxy({ mitm: true, dataDir, upstreamCaFile: originCaFile }, (config) => {
    config.mitmOptions.passthroughHosts = ['127.0.0.1'];
  });
  stops.push(() => passthrough.stop(100));
  // Trusting only the origin CA works; trusting only the MITM CA would not.
  const direct = await curl(['-x', passthrough.url, '--cacert', originCaFile, '-o', '/dev/null', '-w', '%{http_code}', `${origin.url}/v1/ntp`]);
  assert.equal(direct.stdout, '200', direct.stderr);
  const viaMitmCa = await curl(['-x', passthrough.url, '--cacert', mitmCaFile, `${origin.url}/v1/ntp`]);
  assert.notEqual(viaMitmCa.exitCode, 0);
  // A tunnel is recorded once both of its sockets have closed, which can be a moment after curl has exited.
  const established = 'egress_proxy_tunnels_total{result="established",intercepted="false"}';
  let metrics = await passthrough.metricsText();
  for (let tries = 0; sample(metrics, established) !== 2 && tries < 40; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    metrics = await passthrough.metricsText();
  }
  assert.equal(sample(metrics, established), 2);
  assert.doesNotMatch(metrics, /datakit_input_proxy_api_total\{/);
});

test('the CA persists across restarts and its key file is 0600', async () => {
  const again = await startTestProxy({ mitm: true, dataDir, upstreamCaFile: originCaFile });
  stops.push(() => again.stop(100));
  assert.equal(await readFile(mitmCaFile, 'utf8'), mitmCaPem);
  const keyMode = (await stat(join(dataDir, 'ca.key'))).mode & 0o777;
  assert.equal(keyMode, 0o600);
});

test('upstream_insecure is an explicit opt-out: it warns at startup and lets an unverifiable upstream through', async () => {
  const insecure = await startTestProxy({ mitm: true, dataDir, upstreamInsecure: true });
  stops.push(() => insecure.stop(100));
  assert.ok(insecure.logs.some((l) => l.level === 40 && /verification is OFF/.test(String(l.msg))), 'startup warning');
  const result = await curl(['-x', insecure.url, '--cacert', mitmCaFile, '-o', '/dev/null', '-w', '%{http_code}', `${origin.url}/v1/ntp`]);
  assert.equal(result.stdout, '200', result.stderr);
});
