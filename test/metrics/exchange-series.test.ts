/**
 * The series fed by exchange records, whose hot-path increments are deferred until a read (deferred-counts.ts):
 * every way of reading them sees every record (the text exposition, the JSON the cluster primary aggregates, one
 * metric's `get()` as the dashboard reads it), series incremented by 0 exist, records between two reads are counted
 * once, and the label caches give the same labels as before (the api cap, the client_ip cap, the status text).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProxyMetrics } from '../../src/metrics/proxy-metrics.js';
import type { HttpExchangeRecord } from '../../src/relay/exchange-records.js';
import { parseSamples, sumOf } from '../admin/prometheus-samples.js';
import { exchangeRecord, recordMetrics } from './exchange-record.js';

function proxyMetrics(): ProxyMetrics {
  return recordMetrics({ maxApiLabels: 3, maxClientIpLabels: 1 });
}

function record(overrides: Partial<HttpExchangeRecord>): HttpExchangeRecord {
  return exchangeRecord({ kind: 'mitm', bytesFromClient: 1024, bytesToClient: 0, ...overrides });
}

test('every read sees every record, once', async () => {
  const metrics = proxyMetrics();
  for (let i = 0; i < 3; i++) metrics.onHttpExchange(record({}));
  metrics.onHttpExchange(record({ kind: 'forward', bytesFromClient: 5, bytesToClient: 7, statusCode: 404 }));

  let samples = parseSamples(await metrics.registry.metrics());
  assert.equal(sumOf(samples, 'datakit_input_proxy_api_total', { api: '/v1/write/metric', method: 'POST' }), 4);
  assert.equal(sumOf(samples, 'egress_proxy_client_requests_total', { client_ip: '10.0.0.1' }), 4);
  assert.equal(sumOf(samples, 'egress_proxy_bytes_total', { direction: 'upstream', kind: 'mitm' }), 3072);
  assert.equal(sumOf(samples, 'egress_proxy_bytes_total', { direction: 'upstream', kind: 'forward' }), 5);
  assert.equal(sumOf(samples, 'egress_proxy_bytes_total', { direction: 'downstream', kind: 'forward' }), 7);
  // Incremented by 0 only: the series exists, at 0, as with a direct inc(labels, 0).
  const zero = samples.find((s) => s.name === 'egress_proxy_bytes_total' && s.labels['direction'] === 'downstream' && s.labels['kind'] === 'mitm');
  assert.equal(zero?.value, 0);
  assert.equal(sumOf(samples, 'datakit_input_proxy_api_latency_seconds_count', { status: 'OK' }), 3);
  assert.equal(sumOf(samples, 'datakit_input_proxy_api_latency_seconds_count', { status: 'Not Found' }), 1);
  assert.equal(sumOf(samples, 'egress_proxy_request_duration_seconds_count', { kind: 'mitm', code_class: '2xx' }), 3);
  assert.equal(sumOf(samples, 'egress_proxy_request_duration_seconds_count', { kind: 'forward', code_class: '4xx' }), 1);

  // Records between two reads are added once, whichever way the next read goes.
  metrics.onHttpExchange(record({ statusCode: undefined, bytesFromClient: 1 }));
  const json = await metrics.registry.getMetricsAsJSON();
  const apiTotal = json.find((m) => m.name === 'datakit_input_proxy_api_total');
  assert.deepEqual(apiTotal?.values.map((v) => v.value), [5]);
  metrics.onHttpExchange(record({}));
  const bytes = await metrics.registry.getSingleMetric('egress_proxy_bytes_total')?.get();
  assert.equal(bytes?.values.find((v) => v.labels['direction'] === 'upstream' && v.labels['kind'] === 'mitm')?.value, 3072 + 1 + 1024);
  samples = parseSamples(await metrics.registry.metrics());
  assert.equal(sumOf(samples, 'datakit_input_proxy_api_total', { api: '/v1/write/metric', method: 'POST' }), 6);
  assert.equal(sumOf(samples, 'datakit_input_proxy_api_latency_seconds_count', { status: 'nil response' }), 1);
  assert.equal(sumOf(samples, 'egress_proxy_request_duration_seconds_count', { kind: 'mitm', code_class: 'none' }), 1);
});

test('label caps hold through the label caches', async () => {
  const metrics = proxyMetrics();
  const paths = ['/a', '/b', '/c', '/d', '/a', '/e', '/d', '/v1/check/token/tkn_0a1b2c3d4e5f6a7b8c9d'];
  for (const path of paths) metrics.onHttpExchange(record({ path, method: 'GET' }));
  metrics.onHttpExchange(record({ path: '/a', method: 'GET', clientIp: '10.0.0.2' }));
  const samples = parseSamples(await metrics.registry.metrics());
  assert.equal(sumOf(samples, 'datakit_input_proxy_api_total', { api: '/a', method: 'GET' }), 3);
  assert.equal(sumOf(samples, 'datakit_input_proxy_api_total', { api: '/b', method: 'GET' }), 1);
  assert.equal(sumOf(samples, 'datakit_input_proxy_api_total', { api: '/c', method: 'GET' }), 1);
  // The fourth distinct label and later ones are `other`, also when a path comes back.
  assert.equal(sumOf(samples, 'datakit_input_proxy_api_total', { api: 'other', method: 'GET' }), 4);
  assert.equal(sumOf(samples, 'egress_proxy_client_requests_total', { client_ip: '10.0.0.1' }), 8);
  assert.equal(sumOf(samples, 'egress_proxy_client_requests_total', { client_ip: 'other' }), 1);
});
