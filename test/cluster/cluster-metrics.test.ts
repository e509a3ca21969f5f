// Adding up the workers' registries: sums where sums are right, a count-weighted mean for summary quantiles.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Gauge, Registry, Summary } from 'prom-client';
import { aggregateRegistries } from '../../src/cluster/cluster-metrics.js';
import { RestartBackoff } from '../../src/cluster/restart-backoff.js';
import { sample } from '../helpers/metrics-text.js';

function workerRegistry(latencies: number[], requests: number): Registry {
  const registry = new Registry();
  const registers = [registry];
  const summary = new Summary({ name: 'latency_seconds', help: 'h', labelNames: ['api'], percentiles: [0.5], registers });
  for (const latency of latencies) summary.observe({ api: '/a' }, latency);
  new Counter({ name: 'requests_total', help: 'h', registers }).inc(requests);
  new Gauge({ name: 'build_info', help: 'h', labelNames: ['version'], registers, aggregator: 'first' }).set({ version: '1' }, 1);
  return registry;
}

describe('aggregateRegistries', () => {
  it('sums counters and summary counts, weights quantiles by observations, keeps "first" gauges once', async () => {
    // Worker A: three observations of 1 s; worker B: one of 5 s.
    const a = await workerRegistry([1, 1, 1], 3).getMetricsAsJSON();
    const b = await workerRegistry([5], 1).getMetricsAsJSON();
    const primary = await new Registry().getMetricsAsJSON();
    const text = await aggregateRegistries([a, b], primary).metrics();
    assert.equal(sample(text, 'requests_total'), 4);
    assert.equal(sample(text, 'latency_seconds_count{api="/a"}'), 4);
    assert.equal(sample(text, 'latency_seconds_sum{api="/a"}'), 8);
    // (3 × 1 + 1 × 5) / 4: between the workers' own medians, never their sum (6).
    assert.equal(sample(text, 'latency_seconds{quantile="0.5",api="/a"}'), 2);
    assert.equal(sample(text, 'build_info{version="1"}'), 1);
  });

  it('a worker that saw none of a label set does not pull its quantile towards 0', async () => {
    const a = await workerRegistry([2, 2], 2).getMetricsAsJSON();
    const b = await workerRegistry([], 0).getMetricsAsJSON();
    const text = await aggregateRegistries([a, b], []).metrics();
    assert.equal(sample(text, 'latency_seconds{quantile="0.5",api="/a"}'), 2);
  });
});

describe('RestartBackoff', () => {
  it('doubles the delay with each crash in a row, up to the cap, and starts over after a stable run', () => {
    const backoff = new RestartBackoff({ initialMs: 1000, maxMs: 5000, stableMs: 60_000 });
    assert.deepEqual([10, 10, 10, 10].map((uptime) => backoff.delayAfterCrash(uptime)), [1000, 2000, 4000, 5000]);
    assert.equal(backoff.delayAfterCrash(60_000), 1000);
    assert.equal(backoff.delayAfterCrash(10), 2000);
  });
});
