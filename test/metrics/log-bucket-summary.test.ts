/**
 * The latency summary's own recorder (src/metrics/log-bucket-summary.ts): quantiles within the stated relative
 * error of the exact ones on generated data, the 10-minute window's rotation, the memory bound, and prom-client's
 * output shape (which the registry's text, the cluster's aggregation and the dashboard read).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { BUCKET_COUNT, LogBucketSummary, SUMMARY_RELATIVE_ERROR, quantileRank } from '../../src/metrics/log-bucket-summary.js';

const PERCENTILES = [0.5, 0.9, 0.99];

function summary(now: () => number = Date.now, registry = new Registry()): LogBucketSummary<'api'> {
  return new LogBucketSummary({ name: 'latency_seconds', help: 'h', labelNames: ['api'], percentiles: PERCENTILES, maxAgeSeconds: 600, ageBuckets: 5, registers: [registry], now });
}

async function quantiles(s: LogBucketSummary<'api'>, api: string): Promise<number[]> {
  const { values } = await s.get();
  return values.filter((v) => v.labels['api'] === api && v.labels['quantile'] !== undefined).map((v) => v.value);
}

/** A seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const DISTRIBUTIONS: Record<string, (r: () => number) => number> = {
  // Loopback: tens of microseconds to a few milliseconds.
  uniformMillis: (r) => 0.00005 + r() * 0.005,
  // Ingestion uploads: log-normal around 80 ms with a long tail.
  logNormal: (r) => Math.exp(Math.log(0.08) + 1.2 * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r())),
  // Two modes (pooled and fresh connections) and stalls at 60 s.
  bimodalWithStalls: (r) => (r() < 0.02 ? 60 : r() < 0.7 ? 0.002 + r() * 0.001 : 0.2 + r() * 0.3),
  // Few distinct values, where a rank off by one would show.
  fewValues: (r) => [0.001, 0.01, 0.1, 1][Math.floor(r() * 4)]!,
};

for (const [name, draw] of Object.entries(DISTRIBUTIONS)) {
  test(`quantiles within ${SUMMARY_RELATIVE_ERROR * 100} % of the exact ones: ${name}`, async () => {
    for (const n of [1, 2, 7, 100, 1001, 50_000]) {
      const s = summary();
      const r = random(n * 7919);
      const values: number[] = [];
      const series = s.series({ api: '/a' });
      for (let i = 0; i < n; i++) {
        const v = draw(r);
        values.push(v);
        s.observe(series, v);
      }
      values.sort((a, b) => a - b);
      const got = await quantiles(s, '/a');
      PERCENTILES.forEach((q, i) => {
        const exact = values[quantileRank(q, n) - 1]!;
        const error = Math.abs(got[i]! - exact) / exact;
        assert.ok(error <= SUMMARY_RELATIVE_ERROR * (1 + 1e-9), `${name} n=${n} q=${q}: ${got[i]} against ${exact} (${(error * 100).toFixed(3)} %)`);
      });
    }
  });
}

test('the rank of a quantile is ⌈q·n⌉, whatever the floating-point product', () => {
  assert.equal(quantileRank(0.5, 1), 1);
  assert.equal(quantileRank(0.5, 3), 2);
  assert.equal(quantileRank(0.99, 100), 99);
  assert.equal(quantileRank(0.99, 101), 100);
  assert.equal(quantileRank(0.07, 100), 7, '0.07 × 100 is 7.000000000000001 in floating point');
  assert.equal(quantileRank(1, 5), 5);
});

test('values beyond the range are reported at its ends; non-finite values are refused', async () => {
  const s = summary();
  const series = s.series({ api: '/a' });
  s.observe(series, 0);
  assert.ok((await quantiles(s, '/a'))[0]! <= 1e-6 * (1 + SUMMARY_RELATIVE_ERROR));
  const big = summary();
  const bigSeries = big.series({ api: '/a' });
  big.observe(bigSeries, 1e9);
  assert.ok((await quantiles(big, '/a'))[0]! >= 1e5 * (1 - SUMMARY_RELATIVE_ERROR));
  assert.throws(() => s.observe(series, Number.NaN), TypeError);
  assert.throws(() => s.observe(series, Infinity), TypeError);
  const { values } = await s.get();
  assert.equal(values.find((v) => v.metricName === 'latency_seconds_count')?.value, 1, 'a refused value is not counted');
});

test('the window: a slot every 2 minutes, quantiles over the last 8-10 minutes, _count and _sum over all time', async () => {
  let now = 1_000_000 * 120_000; // the start of a 2-minute slot
  const s = summary(() => now);
  const series = s.series({ api: '/a' });
  // Minute 0: slow requests (1 s); from minute 2 on: fast ones (10 ms).
  for (let i = 0; i < 100; i++) s.observe(series, 1);
  now += 2 * 60_000;
  for (let i = 0; i < 10; i++) s.observe(series, 0.01);
  const slowMedian = (await quantiles(s, '/a'))[0]!;
  assert.ok(Math.abs(slowMedian - 1) <= 0.01, `the slow minute still dominates the window: ${slowMedian}`);
  // 9 min 59 s after the slow slot began: it is still in the window (the slot being filled and the 4 before it).
  now += 7 * 60_000 + 59_000;
  assert.ok(Math.abs((await quantiles(s, '/a'))[0]! - 1) <= 0.01);
  // 10 minutes after it began, the slow slot leaves: only the fast observations remain.
  now += 1000;
  const [p50, , p99] = await quantiles(s, '/a');
  assert.ok(Math.abs(p50! - 0.01) <= 0.0001 && Math.abs(p99! - 0.01) <= 0.0001, `${p50} ${p99}`);
  // Nothing for a whole window: quantiles 0 (as prom-client reported an empty window), counts kept.
  now += 10 * 60_000;
  assert.deepEqual(await quantiles(s, '/a'), [0, 0, 0]);
  assert.equal(series.slots.filter((slot) => slot !== undefined).length, 0, 'slots out of the window are released at read');
  const { values } = await s.get();
  assert.equal(values.find((v) => v.metricName === 'latency_seconds_count')?.value, 110);
  assert.ok(Math.abs(values.find((v) => v.metricName === 'latency_seconds_sum')!.value - 100.1) < 1e-9);
  // A slot reused after the window restarts from zero: 3 new observations, none of the old ones.
  for (let i = 0; i < 3; i++) s.observe(series, 0.5);
  assert.equal(series.slots.filter((slot) => slot !== undefined && slot.total > 0).length, 1);
  assert.ok(Math.abs((await quantiles(s, '/a'))[2]! - 0.5) <= 0.005);
});

test('a slot reused on observe without a read in between starts over', async () => {
  let now = 0;
  const s = summary(() => now);
  const series = s.series({ api: '/a' });
  s.observe(series, 0.002);
  now += 10 * 60_000; // the same slot position, five slots later
  s.observe(series, 2);
  assert.ok(Math.abs((await quantiles(s, '/a'))[0]! - 2) <= 0.02);
});

test('memory: a series holds at most BUCKET_COUNT counts per slot, whatever it observes', () => {
  let now = 0;
  const s = summary(() => now);
  const series = s.series({ api: '/a' });
  const r = random(3);
  for (let slot = 0; slot < 7; slot++) {
    for (let i = 0; i < 20_000; i++) s.observe(series, 10 ** (r() * 16 - 8));
    now += 120_000;
  }
  assert.equal(series.slots.length, 5);
  for (const slot of series.slots) assert.ok(slot === undefined || slot.counts.length <= BUCKET_COUNT, `${slot?.counts.length}`);
  assert.ok(BUCKET_COUNT < 1300);
});

test('the output is prom-client summary shape: quantile first, then _sum and _count, per series', async () => {
  const registry = new Registry();
  const s = summary(Date.now, registry);
  s.observe(s.series({ api: '/a' }), 0.25);
  s.series({ api: '/b' });
  assert.equal(s.series({ api: '/a' }), s.series({ api: '/a' }), 'one series per label set');
  const text = await registry.metrics();
  assert.equal(
    text,
    [
      '# HELP latency_seconds h',
      '# TYPE latency_seconds summary',
      `latency_seconds{quantile="0.5",api="/a"} ${(await quantiles(s, '/a'))[0]}`,
      `latency_seconds{quantile="0.9",api="/a"} ${(await quantiles(s, '/a'))[1]}`,
      `latency_seconds{quantile="0.99",api="/a"} ${(await quantiles(s, '/a'))[2]}`,
      'latency_seconds_sum{api="/a"} 0.25',
      'latency_seconds_count{api="/a"} 1',
      'latency_seconds{quantile="0.5",api="/b"} 0',
      'latency_seconds{quantile="0.9",api="/b"} 0',
      'latency_seconds{quantile="0.99",api="/b"} 0',
      'latency_seconds_sum{api="/b"} 0',
      'latency_seconds_count{api="/b"} 0',
      '',
    ].join('\n'),
  );
  assert.equal(registry.getSingleMetric('latency_seconds'), s);
  registry.resetMetrics();
  assert.deepEqual(await quantiles(s, '/a'), [0, 0, 0]);
  assert.throws(() => new LogBucketSummary({ name: 'x', help: 'h', labelNames: ['quantile'], percentiles: [0.5], maxAgeSeconds: 1, ageBuckets: 1, registers: [] }), /reserved/);
});
