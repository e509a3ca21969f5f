/**
 * Every label that client or origin bytes can reach stays bounded: thousands of distinct methods, paths, status
 * codes and client addresses fed to the metrics leave each series family at its cap. (The end-to-end version, with
 * real requests through the proxy, is in test/relay.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { methodLabel, statusTextLabel } from '../../src/metrics/bounded-labels.js';
import { exchangeRecord, recordMetrics } from './exchange-record.js';

function series(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`));
}

test('methods: the known ones as they are, anything else "other"', () => {
  for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']) assert.equal(methodLabel(method), method);
  for (const method of ['get', 'PROPFIND', 'BREW', 'X'.repeat(1000), '']) assert.equal(methodLabel(method), 'other');
  assert.equal(statusTextLabel(200), 'OK');
  assert.equal(statusTextLabel(undefined), 'nil response');
  assert.equal(statusTextLabel(299), 'other');
  assert.equal(statusTextLabel(599), 'other');
});

test('5,000 distinct methods, paths, status codes and clients: every family stays at its cap', async () => {
  const m = recordMetrics();
  for (let i = 0; i < 5000; i++) {
    m.onHttpExchange(
      exchangeRecord({
        method: `M${i}`,
        path: `/p${i}/x`,
        statusCode: 100 + (i % 500),
        clientIp: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      }),
    );
    m.onConnectAttempt(`fd00::${i.toString(16)}`);
  }
  const text = await m.registry.metrics();
  const apiTotal = series(text, 'datakit_input_proxy_api_total');
  // 50 api values (the cap, "other" among them) x 1 method ("other").
  assert.ok(apiTotal.length <= 51, `${apiTotal.length} api_total series`);
  assert.ok(apiTotal.every((line) => line.includes('method="other"')));
  const statuses = new Set(series(text, 'datakit_input_proxy_api_latency_seconds_count').map((line) => /status="([^"]*)"/.exec(line)?.[1]));
  assert.ok(statuses.size <= 70, `${statuses.size} status texts: the standard ones and "other"`);
  assert.ok(statuses.has('other'));
  assert.ok(!Array.from(statuses).some((s) => s !== undefined && /^\d+$/.test(s)), 'no bare status numbers');
  assert.ok(series(text, 'egress_proxy_client_requests_total').length <= 21);
  assert.ok(series(text, 'datakit_input_proxy_connect_total').length <= 21);
  assert.ok(text.length < 2_000_000, `${text.length} bytes per scrape`);
});
