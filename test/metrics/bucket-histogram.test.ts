/**
 * The request-duration histogram's own recorder (src/metrics/bucket-histogram.ts) against prom-client's Histogram
 * fed the same observations: the same Prometheus text and the same JSON values (which the dashboard and the
 * cluster's aggregation read), bounds inclusive, reset, and refused input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { BucketHistogram } from '../../src/metrics/bucket-histogram.js';

const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const LABELS = ['kind', 'code_class'] as const;

function pair(): { ours: BucketHistogram<'kind' | 'code_class'>; theirs: Histogram<'kind' | 'code_class'>; oursRegistry: Registry; theirsRegistry: Registry } {
  const oursRegistry = new Registry();
  const theirsRegistry = new Registry();
  const options = { name: 'duration_seconds', help: 'Duration.', labelNames: LABELS, buckets: BUCKETS };
  return {
    ours: new BucketHistogram({ ...options, registers: [oursRegistry] }),
    theirs: new Histogram({ ...options, registers: [theirsRegistry] }),
    oursRegistry,
    theirsRegistry,
  };
}

test('the same text and JSON as prom-client for the same observations, bounds and beyond', async () => {
  const { ours, theirs, oursRegistry, theirsRegistry } = pair();
  // Every bound exactly (le is inclusive), between bounds, beyond the last, and zero.
  const values = [0, ...BUCKETS, ...BUCKETS.map((b) => b * 1.5), 61, 3600, 0.0004];
  const label = [
    { kind: 'forward', code_class: '2xx' },
    { kind: 'mitm', code_class: '5xx' },
    { kind: 'forward', code_class: 'none' },
  ];
  values.forEach((value, i) => {
    const labels = label[i % label.length]!;
    ours.observe(ours.series(labels), value);
    theirs.observe(labels, value);
  });
  assert.equal(await oursRegistry.metrics(), await theirsRegistry.metrics());
  const strip = (json: Awaited<ReturnType<Registry['getMetricsAsJSON']>>) =>
    json.map((m) => ({ name: m.name, help: m.help, type: String(m.type), aggregator: m.aggregator, values: m.values.map((v) => ({ ...v, exemplar: undefined })) }));
  assert.deepEqual(strip(await oursRegistry.getMetricsAsJSON()), strip(await theirsRegistry.getMetricsAsJSON()));
});

test('reset zeroes every series and keeps it; non-finite values are refused; le is reserved', async () => {
  const { ours, oursRegistry } = pair();
  const series = ours.series({ kind: 'mitm', code_class: '2xx' });
  ours.observe(series, 0.2);
  assert.throws(() => ours.observe(series, Number.NaN), TypeError);
  assert.throws(() => ours.observe(series, -Infinity), TypeError);
  assert.match(await oursRegistry.metrics(), /duration_seconds_count\{kind="mitm",code_class="2xx"\} 1\n/);
  oursRegistry.resetMetrics();
  assert.match(await oursRegistry.metrics(), /duration_seconds_count\{kind="mitm",code_class="2xx"\} 0\n/);
  assert.equal(ours.series({ kind: 'mitm', code_class: '2xx' }), series);
  assert.throws(() => new BucketHistogram({ name: 'x', help: 'h', labelNames: ['le'], buckets: [1], registers: [] }), /reserved/);
  assert.throws(() => new BucketHistogram({ name: 'y', help: 'h', labelNames: [], buckets: [2, 1], registers: [] }), /ascending/);
});
