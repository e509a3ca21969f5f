// Tests that bench output formats numbers and labels the way the reference's Go client_golang output does.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderBenchMetrics } from '../../src/bench/bench-report.js';
import type { BenchResult } from '../../src/bench/bench-client.js';
import { formatGoFloat } from '../../src/bench/prometheus-text.js';

describe('formatGoFloat', () => {
  // Expected strings are what Go's strconv.FormatFloat(v, 'g', -1, 64) prints.
  const cases: Array<[number, string]> = [
    [276459200, '2.764592e+08'],
    [1600, '1600'],
    [999999, '999999'],
    [1e6, '1e+06'],
    [0.249329709, '0.249329709'],
    [3.9450724669999992, '3.9450724669999992'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [1.5e-7, '1.5e-07'],
    [1e21, '1e+21'],
    [1.2345678901234567e123, '1.2345678901234567e+123'],
    [-2500000, '-2.5e+06'],
    [0, '0'],
    [NaN, 'NaN'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
  ];
  for (const [value, expected] of cases) {
    it(`formats ${value} as ${expected}`, () => assert.equal(formatGoFloat(value), expected));
  }
});

describe('renderBenchMetrics', () => {
  it("matches the reference's layout: sorted families, api/status before quantile, Go numbers", async () => {
    const latencies = Float64Array.from({ length: 1600 }, (_, i) => 0.001 + i * 1e-6);
    const result: BenchResult = {
      api: '/v1/write/xxx',
      bodyBytes: 172787,
      elapsedSeconds: 0.249329709,
      requests: 1601,
      errors: 1,
      requestsPerSecond: 0,
      latency: { p50: 0, p90: 0, p99: 0, mean: 0 },
      bytesPosted: 0,
      statuses: {},
      groups: [
        { status: '200 OK', ok: true, latenciesSeconds: latencies },
        { status: 'say "no"\\', ok: false, latenciesSeconds: Float64Array.of(0.5) },
      ],
    };
    const lines = (await renderBenchMetrics(result)).trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, 7), [
      'Benchmark metrics:',
      '# HELP api_elapsed_seconds Proxied API elapsed seconds',
      '# TYPE api_elapsed_seconds gauge',
      'api_elapsed_seconds 0.249329709',
      '# HELP api_latency_seconds Proxied API latency',
      '# TYPE api_latency_seconds summary',
      lines[6],
    ]);
    assert.match(lines[6] as string, /^api_latency_seconds\{api="\/v1\/write\/xxx",status="200 OK",quantile="0\.5"\} 0\.00\d+$/);
    assert.ok(lines.includes('api_latency_seconds_count{api="/v1/write/xxx",status="200 OK"} 1600'));
    assert.ok(lines.includes('api_post_bytes_total{api="/v1/write/xxx",status="200 OK"} 2.764592e+08'));
    // Label values are escaped as the exposition format requires; a failed request's bytes were not accepted: 0.
    assert.ok(lines.includes('api_post_bytes_total{api="/v1/write/xxx",status="say \\"no\\"\\\\"} 0'));
    assert.ok(!lines.includes(''), 'no blank lines between families');
    const helpOrder = lines.filter((l) => l.startsWith('# HELP')).map((l) => l.split(' ')[2]);
    assert.deepEqual(helpOrder, ['api_elapsed_seconds', 'api_latency_seconds', 'api_post_bytes_total']);
  });
});
