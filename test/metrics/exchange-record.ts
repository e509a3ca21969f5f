/**
 * Test helper: ProxyMetrics with small label caps, and an exchange record to feed it, for the tests that drive the
 * metrics with records instead of requests.
 */
import { ProxyMetrics } from '../../src/metrics/proxy-metrics.js';
import type { HttpExchangeRecord } from '../../src/relay/exchange-records.js';

export function recordMetrics(caps = { maxApiLabels: 50, maxClientIpLabels: 20 }): ProxyMetrics {
  return new ProxyMetrics({ ...caps, version: 'test', gauges: { activeTunnels: () => 0, requestsInFlight: () => 0, clientConnections: () => 0 } });
}

export function exchangeRecord(overrides: Partial<HttpExchangeRecord>): HttpExchangeRecord {
  return {
    kind: 'forward',
    clientIp: '10.0.0.1',
    method: 'POST',
    origin: 'http://dataway:9528',
    path: '/v1/write/metric',
    statusCode: 200,
    errorCode: undefined,
    upstreamFailure: undefined,
    bytesFromClient: 1,
    bytesToClient: 1,
    durationSeconds: 0.001,
    ...overrides,
  };
}
