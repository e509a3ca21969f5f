/**
 * The series added for the dashboard and the alert rules: requests per client (capped like client_ip), the
 * connection cap, and MITM certificate expiry (the CA's, and the earliest cached leaf's as leaves come and go).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { certificateAuthorityFromPem } from '../../src/mitm/certificate-authority.js';
import { createCaCertificate } from '../../src/mitm/certificate-factory.js';
import { LeafCertificateCache } from '../../src/mitm/leaf-certificate-cache.js';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics.js';
import { startTestProxy } from '../helpers/test-proxy.js';
import { parseSamples, sumOf } from './prometheus-samples.js';

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
