/**
 * What the dashboard computes from readings: Prometheus's histogram_quantile (checked on hand-worked cases),
 * per-second rates, windowed top lists, and readings taken from a real registry after real observations.
 */
import { test } from 'node:test';
import { AggregatorRegistry } from 'prom-client';
import assert from 'node:assert/strict';
import { dashboardDetail, dashboardPoint, histogramQuantile } from '../../src/admin/dashboard/dashboard-frames.js';
import { DASHBOARD_METRIC_NAMES, readMetrics, type MetricsReading } from '../../src/admin/dashboard/metrics-reading.js';
import { registryMetricsSource } from '../../src/admin/metrics-source.js';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics.js';
import type { HttpExchangeRecord } from '../../src/relay/exchange-records.js';

test('histogram_quantile: linear inside the bucket, from 0 in the first, the top bound for +Inf', () => {
  const bounds = [0.1, 0.5, 1];
  // 10 observations: 4 ≤ 0.1, 4 in (0.1, 0.5], 1 in (0.5, 1], 1 above 1.
  const cumulative = [4, 8, 9, 10];
  assert.equal(histogramQuantile(0.2, bounds, cumulative), 0.05); // rank 2 of 4 in [0, 0.1]
  assert.ok(Math.abs(histogramQuantile(0.6, bounds, cumulative)! - 0.3) < 1e-12); // rank 6: 2 of 4 into (0.1, 0.5]
  assert.equal(histogramQuantile(0.9, bounds, cumulative), 1); // rank 9: the top of (0.5, 1]
  assert.equal(histogramQuantile(0.99, bounds, cumulative), 1); // in +Inf: the highest finite bound
  assert.equal(histogramQuantile(0.5, bounds, [0, 0, 0, 0]), undefined);
  assert.equal(histogramQuantile(0.5, [], [3]), undefined);
});

function exchange(overrides: Partial<HttpExchangeRecord>): HttpExchangeRecord {
  return {
    kind: 'forward', clientIp: '10.0.0.1', method: 'POST', origin: 'http://o', path: '/v1/write/metric', statusCode: 200,
    errorCode: undefined, upstreamFailure: undefined, bytesFromClient: 100, bytesToClient: 10, durationSeconds: 0.02, ...overrides,
  };
}

async function readingOf(metrics: ProxyMetrics, t: number): Promise<MetricsReading> {
  return readMetrics(await registryMetricsSource(metrics.registry).metricsAsJson(DASHBOARD_METRIC_NAMES), t);
}

test('readings from a real registry, and points and details computed from two of them', async () => {
  let tunnels = 3;
  const metrics = new ProxyMetrics({
    maxApiLabels: 10, maxClientIpLabels: 10, version: '9.9.9', maxClientConnections: 50,
    gauges: { activeTunnels: () => tunnels, requestsInFlight: () => 1, clientConnections: () => 7 },
  });
  const first = await readingOf(metrics, 1_000_000);
  for (let i = 0; i < 10; i++) metrics.onHttpExchange(exchange({ durationSeconds: 0.02 }));
  for (let i = 0; i < 4; i++) metrics.onHttpExchange(exchange({ kind: 'mitm', clientIp: '10.0.0.2', path: '/v1/election', durationSeconds: 2 }));
  metrics.onHttpExchange(exchange({ statusCode: 502, upstreamFailure: 'refused', bytesFromClient: 0, bytesToClient: 0 }));
  metrics.onConnectAttempt('10.0.0.3');
  metrics.onTunnel({ clientIp: '10.0.0.3', target: 'h:443', statusCode: 200, errorCode: undefined, upstreamFailure: undefined, intercepted: false, bytesFromClient: 5000, bytesToClient: 7000, durationSeconds: 1 });
  metrics.onReject({ clientIp: '10.0.0.9', reason: 'ip', statusCode: 403, method: 'GET', target: 'x' });
  tunnels = 5;
  const second = await readingOf(metrics, 1_002_000);

  assert.deepEqual(second.requests, { forward: 11, mitm: 4 });
  assert.equal(second.connects, 1);
  assert.deepEqual(second.bytesUp, { forward: 1000, mitm: 400, tunnel: 5000 });
  assert.deepEqual(second.rejects, { ip: 1 });
  assert.deepEqual(second.upstreamErrors, { refused: 1 });
  assert.equal(second.version, '9.9.9');
  assert.deepEqual(second.clients.get('10.0.0.1'), { requests: 11, connects: 0 });
  assert.deepEqual(second.clients.get('10.0.0.3'), { requests: 0, connects: 1 });

  const point = dashboardPoint(first, second, first);
  assert.deepEqual(point.requestRate, { forward: 5.5, mitm: 2 });
  assert.equal(point.connectRate, 0.5);
  assert.equal(point.bytesUpRate['tunnel'], 2500);
  assert.equal(point.bytesDownRate['mitm-tunnel'], 0);
  assert.equal(point.rejectRate, 0.5);
  assert.equal(point.upstreamErrorRate, 0.5);
  assert.equal(point.tunnelsActive, 5);
  assert.equal(point.clientConnections, 7);
  // 15 requests: 11 at 20 ms (bucket (0.01, 0.025]), 4 at 2 s (bucket (1, 2.5]).
  assert.ok(point.latency!.p50 > 0.01 && point.latency!.p50 <= 0.025, `p50 ${point.latency!.p50}`);
  assert.ok(point.latency!.p99 > 1 && point.latency!.p99 <= 2.5, `p99 ${point.latency!.p99}`);

  const detail = dashboardDetail(second, first);
  assert.deepEqual(detail.topClients.map((c) => c.clientIp), ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
  assert.equal(detail.topClients[0]!.ratePerSecond, 5.5);
  assert.deepEqual(detail.topApis[0], { method: 'POST', api: '/v1/write/metric', total: 11, ratePerSecond: 5.5 });
  assert.equal(detail.gauges.tunnelsActive, 5);

  // No interval yet: rates are 0, not infinite; no request in the window: no latency.
  const lone = dashboardPoint(undefined, first, undefined);
  assert.deepEqual(lone.requestRate, { forward: 0, mitm: 0 });
  assert.equal(lone.latency, null);
});

test("a cluster's aggregated registry plugs in unchanged: counters summed, expiry the earliest", async () => {
  const workers = [0, 1].map((i) => {
    const m = new ProxyMetrics({ maxApiLabels: 10, maxClientIpLabels: 10, version: '1.0.0', gauges: { activeTunnels: () => i + 1, requestsInFlight: () => 0, clientConnections: () => 0 } });
    for (let n = 0; n <= i; n++) m.onHttpExchange(exchange({}));
    m.watchCertificateExpiry(new Date((2_000_000_000 - i * 1000) * 1000), () => undefined);
    return m;
  });
  const aggregated = AggregatorRegistry.aggregate(await Promise.all(workers.map((m) => m.registry.getMetricsAsJSON())));
  const reading = readMetrics(await registryMetricsSource(aggregated).metricsAsJson(DASHBOARD_METRIC_NAMES), 0);
  assert.deepEqual(reading.requests, { forward: 3 });
  assert.equal(reading.gauges.tunnelsActive, 3);
  const expiry = (await aggregated.getSingleMetric('egress_proxy_mitm_certificate_expiry_timestamp_seconds')!.get()).values;
  assert.deepEqual(expiry.map((v) => v.value), [2_000_000_000 - 1000]);
});

test('process CPU and heap are fresh in every reading, with no /metrics scrape in between', async () => {
  const metrics = new ProxyMetrics({ maxApiLabels: 10, maxClientIpLabels: 10, version: '1.0.0', gauges: { activeTunnels: () => 0, requestsInFlight: () => 0, clientConnections: () => 0 } });
  const first = await readingOf(metrics, 0);
  // Burn 100 ms of this process's own CPU time (wall time is no measure on a shared machine).
  const start = process.cpuUsage();
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const used = process.cpuUsage(start);
    if (used.user + used.system >= 100_000) break;
  }
  const second = await readingOf(metrics, 1000);
  assert.ok(second.gauges.cpuSecondsTotal - first.gauges.cpuSecondsTotal >= 0.08, `${first.gauges.cpuSecondsTotal} -> ${second.gauges.cpuSecondsTotal}`);
  assert.ok(second.gauges.heapUsedBytes > 0 && second.gauges.heapTotalBytes >= second.gauges.heapUsedBytes);
  assert.ok(second.gauges.residentMemoryBytes > 0);
});
