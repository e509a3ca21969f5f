/**
 * The series added for the dashboard and the alert rules: requests per client (capped like client_ip), the
 * connection cap, MITM certificate expiry (the CA's, and the earliest cached leaf's as leaves come and go), and the
 * event-loop delay the dashboard reads without disturbing prom-client's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { certificateAuthorityFromPem } from '../../src/mitm/certificate-authority.js';
import { createCaCertificate } from '../../src/mitm/certificate-factory.js';
import { LeafCertificateCache } from '../../src/mitm/leaf-certificate-cache.js';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics.js';
import { startTestProxy } from '../helpers/test-proxy.js';
import { parseSamples, sumOf } from './prometheus-samples.js';
import { registryMetricsSource } from '../../src/admin/metrics-source.js';
import { DASHBOARD_METRIC_NAMES } from '../../src/admin/dashboard/metrics-reading.js';

const DAY_MS = 86_400_000;

function proxyMetrics(maxClientIpLabels = 2): ProxyMetrics {
  return new ProxyMetrics({
    maxApiLabels: 10, maxClientIpLabels, version: 'x', maxClientConnections: 1234,
    gauges: { activeTunnels: () => 0, requestsInFlight: () => 0, clientConnections: () => 0 },
  });
}

test('requests per client, with the client_ip cap; the connection limit', async () => {
  const metrics = proxyMetrics(2);
  for (const clientIp of ['10.0.0.1', '10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']) {
    metrics.onHttpExchange({ kind: 'forward', clientIp, method: 'GET', origin: 'http://o', path: '/', statusCode: 200, errorCode: undefined, upstreamFailure: undefined, bytesFromClient: 0, bytesToClient: 0, durationSeconds: 0.001 });
  }
  const samples = parseSamples(await metrics.registry.metrics());
  assert.equal(sumOf(samples, 'egress_proxy_client_requests_total', { client_ip: '10.0.0.1' }), 2);
  assert.equal(sumOf(samples, 'egress_proxy_client_requests_total', { client_ip: '10.0.0.2' }), 1);
  assert.equal(sumOf(samples, 'egress_proxy_client_requests_total', { client_ip: 'other' }), 2);
  assert.equal(samples.filter((s) => s.name === 'egress_proxy_client_requests_total').length, 3);
  assert.equal(sumOf(samples, 'egress_proxy_client_connections_limit'), 1234);
});

test('certificate expiry: the CA, and the earliest leaf while one is cached', async () => {
  const pem = await createCaCertificate({ commonName: 'expiry test CA', validityDays: 100, keyType: 'ec' });
  const ca = await certificateAuthorityFromPem({ ...pem, source: 'generated' });
  let now = Date.now();
  const cache = new LeafCertificateCache({ ca, maxEntries: 10, leafValidityDays: 30, now: () => now });
  const metrics = proxyMetrics();
  metrics.watchCertificateExpiry(ca.certificate.notAfter, () => cache.earliestNotAfter());
  const expiry = async (certificate: string): Promise<number | undefined> => {
    const found = parseSamples(await metrics.registry.metrics()).find(
      (s) => s.name === 'egress_proxy_mitm_certificate_expiry_timestamp_seconds' && s.labels['certificate'] === certificate,
    );
    return found?.value;
  };
  assert.equal(await expiry('ca'), ca.certificate.notAfter.getTime() / 1000);
  assert.equal(await expiry('leaf'), undefined, 'no leaf cached yet');

  const first = await cache.getLeafCertificate('a.example');
  now += 5 * DAY_MS;
  await cache.getLeafCertificate('b.example');
  assert.equal(await expiry('leaf'), first.notAfter.getTime() / 1000, 'the earlier of the two');
  // Past half its life the first leaf is no longer served, so it no longer counts.
  now += 11 * DAY_MS;
  const second = await cache.getLeafCertificate('b.example');
  assert.equal(await expiry('leaf'), second.notAfter.getTime() / 1000);
});

test('a MITM proxy exports its CA expiry at /metrics', async () => {
  const proxy = await startTestProxy({ mitm: true });
  try {
    const samples = parseSamples(await proxy.metricsText());
    const ca = sumOf(samples, 'egress_proxy_mitm_certificate_expiry_timestamp_seconds', { certificate: 'ca' });
    assert.ok(ca > Date.now() / 1000 + 3000 * 86_400, `CA expiry ${ca}: about ten years ahead`);
  } finally {
    await proxy.stop(100);
  }
});

test("event-loop delay for the dashboard: a stall shows in the next window, and reading it leaves prom-client's gauges alone", { timeout: 30_000 }, async () => {
  const metrics = proxyMetrics();
  const read = async (name: string): Promise<number> => sumOf(parseSamples(await metrics.registry.metrics()), name);
  // Start a fresh "since the last scrape" period for prom-client's gauges, let the delay monitors tick (a monitor
  // measures from its previous tick), then stall the loop for 150 ms.
  await metrics.registry.metrics();
  await new Promise((r) => setTimeout(r, 50));
  const until = Date.now() + 150;
  while (Date.now() < until) {
    // busy: the event loop cannot run
  }
  // Let the loop turn, so the delay monitors' timers record the stall.
  await new Promise((r) => setTimeout(r, 50));
  // The dashboard reads only its own series, as many times as it likes...
  const source = registryMetricsSource(metrics.registry);
  for (let i = 0; i < 3; i++) await source.metricsAsJson(DASHBOARD_METRIC_NAMES);
  // ...and the next scrape still sees the stall in prom-client's "since the last scrape" maximum.
  assert.ok((await read('nodejs_eventloop_lag_max_seconds')) >= 0.1, 'nodejs_eventloop_lag_max_seconds kept the stall');
  // Our window closes within 10 s of the stall, then shows it until the window after.
  const deadline = Date.now() + 12_000;
  let max = 0;
  while (Date.now() < deadline && max < 0.1) {
    await new Promise((r) => setTimeout(r, 250));
    max = await read('egress_proxy_event_loop_delay_max_seconds');
  }
  assert.ok(max >= 0.1, `egress_proxy_event_loop_delay_max_seconds ${max}`);
  assert.ok((await read('egress_proxy_event_loop_delay_p99_seconds')) > 0);
});
