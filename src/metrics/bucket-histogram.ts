/**
 * A Prometheus histogram with the series of each label set made once (series-metric.ts): an observation is a
 * search among the bucket bounds and two additions, where prom-client's Histogram validated and hashed the label
 * object on every call (~0.5 µs of a proxied request's CPU, docs/mitm.md). Its output is prom-client's, value for
 * value: cumulative `_bucket` series with `le` first, `+Inf`, `_sum` and `_count`.
 */
import { SeriesMetric, type MetricValues, type SeriesMetricOptions } from './series-metric.js';

export class HistogramSeries<L extends string = string> {
  readonly labels: Readonly<Record<L, string>>;
  /** Observations per bucket (not cumulative); the last is above every bound. */
  readonly counts: Float64Array;
  count = 0;
  sum = 0;

  constructor(labels: Readonly<Record<L, string>>, buckets: number) {
    this.labels = labels;
    this.counts = new Float64Array(buckets + 1);
  }
}

export interface BucketHistogramOptions<L extends string> extends SeriesMetricOptions<L> {
  /** Upper bounds, ascending. */
  buckets: readonly number[];
}

export class BucketHistogram<L extends string = string> extends SeriesMetric<L, HistogramSeries<L>> {
  readonly type = 'histogram';
  readonly #bounds: readonly number[];
  /** `{ le }` of each bound, made once. */
  readonly #leLabels: ReadonlyArray<{ le: number | string }>;

  constructor(options: BucketHistogramOptions<L>) {
    super(options, 'le');
    const bounds = [...options.buckets];
    if (bounds.some((bound, i) => !Number.isFinite(bound) || (i > 0 && bound <= (bounds[i - 1] as number)))) throw new Error('histogram buckets must be finite and ascending');
    this.#bounds = bounds;
    this.#leLabels = [...bounds.map((le) => ({ le })), { le: '+Inf' }];
    this.register(options.registers);
  }

  observe(series: HistogramSeries<L>, value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`value is not a valid number: ${value}`);
    const bounds = this.#bounds;
    // `le` is inclusive: a value equal to a bound counts in that bound's bucket.
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    series.counts[i]!++;
    series.count++;
    series.sum += value;
  }

  protected newSeries(labels: Readonly<Record<L, string>>): HistogramSeries<L> {
    return new HistogramSeries<L>(labels, this.#bounds.length);
  }

  protected values(series: HistogramSeries<L>, into: MetricValues): void {
    const bucket = `${this.name}_bucket`;
    let cumulative = 0;
    this.#leLabels.forEach((le, i) => {
      cumulative += series.counts[i] as number;
      into.push({ metricName: bucket, labels: { ...le, ...series.labels }, value: cumulative });
    });
    into.push({ metricName: `${this.name}_sum`, labels: series.labels, value: series.sum });
    into.push({ metricName: `${this.name}_count`, labels: series.labels, value: series.count });
  }

  protected resetSeries(series: HistogramSeries<L>): void {
    series.counts.fill(0);
    series.count = 0;
    series.sum = 0;
  }
}
