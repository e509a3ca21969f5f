/**
 * A Prometheus summary whose observation costs the same whatever the window: the reference's latency summary
 * (`datakit_input_proxy_api_latency_seconds`) without prom-client's t-digests.
 *
 * prom-client's Summary (like Go's client) keeps one quantile sketch per age bucket of the window and inserts every
 * observation into each of them: five t-digest inserts per proxied request for the reference's 10-minute window in
 * 5 buckets, the largest part of the metrics' CPU per request (docs/mitm.md). Here each series keeps, per age slot
 * of the window, counts in log-spaced buckets (the DDSketch layout, Masson et al., VLDB 2019): an observation is one
 * logarithm and one increment in the slot it falls in, and the quantiles are computed from the slots of the window
 * when the metric is read (a scrape, the cluster's JSON, the dashboard).
 *
 * Accuracy: bucket i holds the values in (γ^(i-1), γ^i] with γ = (1+α)/(1-α), and reports 2γ^i/(γ+1), which is
 * within a relative error α of every value in the bucket. A quantile q over n observations is the bucket of the
 * observation of rank ⌈q·n⌉ (exact, no rank error), so the reported value is within α = 1 % of the exact
 * quantile, for values from 1 µs to ~28 hours (below and above, the range's ends are reported). The reference's
 * objectives (0.5±0.05, 0.9±0.01, 0.99±0.001) are rank errors, which this meets with none.
 *
 * Window: as Go's MaxAge/AgeBuckets (and prom-client's maxAgeSeconds/ageBuckets), quantiles cover between
 * (ageBuckets-1)/ageBuckets and all of maxAge: the slot being filled and the ageBuckets-1 before it. `_sum` and
 * `_count` are over the life of the process, as in both clients. A window without observations reports 0 for each
 * quantile, as prom-client did.
 *
 * Memory: a slot's counts cover only the bucket range its series has seen (grown on demand, at most
 * BUCKET_COUNT 4-byte counts, ~5 KiB); slots that leave the window are released when the metric is read.
 */
import { SeriesMetric, type MetricValues, type SeriesMetricOptions } from './series-metric.js';

/** Relative error of a reported quantile. */
export const SUMMARY_RELATIVE_ERROR = 0.01;
const GAMMA = (1 + SUMMARY_RELATIVE_ERROR) / (1 - SUMMARY_RELATIVE_ERROR);
const INV_LN_GAMMA = 1 / Math.log(GAMMA);
/** Values at or below this (1 µs) share the lowest bucket; a latency that small is below the clock's resolution here. */
const MIN_VALUE = 1e-6;
/** Values above this (~28 hours) share the highest bucket. */
const MAX_VALUE = 1e5;
const MIN_INDEX = Math.ceil(Math.log(MIN_VALUE) * INV_LN_GAMMA);
const MAX_INDEX = Math.ceil(Math.log(MAX_VALUE) * INV_LN_GAMMA);
/** Buckets a slot can hold at most (1267). */
export const BUCKET_COUNT = MAX_INDEX - MIN_INDEX + 1;
/** Buckets added on each side when a slot's range grows, so a series' range settles after a few observations. */
const GROWTH_MARGIN = 16;

/** The bucket a value falls in. */
function bucketIndex(value: number): number {
  if (value <= MIN_VALUE) return MIN_INDEX;
  if (value >= MAX_VALUE) return MAX_INDEX;
  return Math.ceil(Math.log(value) * INV_LN_GAMMA);
}

/** The value a bucket reports: within SUMMARY_RELATIVE_ERROR of every value in (γ^(i-1), γ^i]. */
function bucketValue(index: number): number {
  return (2 * Math.pow(GAMMA, index)) / (GAMMA + 1);
}

/** One age slot of a series: counts per bucket from `offset`, for the observations of window slot `epoch`. */
interface Slot {
  epoch: number;
  offset: number;
  counts: Uint32Array;
  total: number;
}

/** One label set's series: made once by `series()` and kept by the caller, so an observation looks nothing up. */
export class SummarySeries<L extends string = string> {
  readonly labels: Readonly<Record<L, string>>;
  count = 0;
  sum = 0;
  /** Indexed by epoch % ageBuckets. */
  readonly slots: Array<Slot | undefined>;

  constructor(labels: Readonly<Record<L, string>>, ageBuckets: number) {
    this.labels = labels;
    this.slots = new Array<Slot | undefined>(ageBuckets).fill(undefined);
  }
}

export interface LogBucketSummaryOptions<L extends string> extends SeriesMetricOptions<L> {
  /** Quantiles to report, each in (0, 1]. */
  percentiles: readonly number[];
  maxAgeSeconds: number;
  ageBuckets: number;
  /** Milliseconds since the epoch; tests pass a clock of their own. */
  now?: () => number;
}

export class LogBucketSummary<L extends string = string> extends SeriesMetric<L, SummarySeries<L>> {
  readonly type = 'summary';
  readonly #percentiles: readonly number[];
  readonly #ageBuckets: number;
  readonly #slotMillis: number;
  readonly #now: () => number;

  constructor(options: LogBucketSummaryOptions<L>) {
    super(options, 'quantile');
    if (!(options.ageBuckets >= 1 && options.maxAgeSeconds > 0)) throw new Error('a summary needs maxAgeSeconds > 0 and ageBuckets >= 1');
    this.#percentiles = [...options.percentiles].sort((a, b) => a - b);
    this.#ageBuckets = options.ageBuckets;
    this.#slotMillis = (options.maxAgeSeconds * 1000) / options.ageBuckets;
    this.#now = options.now ?? Date.now;
    this.register(options.registers);
  }

  observe(series: SummarySeries<L>, value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`value is not a valid number: ${value}`);
    series.count++;
    series.sum += value;
    const epoch = Math.floor(this.#now() / this.#slotMillis);
    const position = epoch % this.#ageBuckets;
    let slot = series.slots[position];
    const index = bucketIndex(value);
    if (slot === undefined) {
      const offset = Math.max(MIN_INDEX, index - GROWTH_MARGIN);
      slot = { epoch, offset, counts: new Uint32Array(Math.min(MAX_INDEX + 1, index + GROWTH_MARGIN + 1) - offset), total: 0 };
      series.slots[position] = slot;
    } else if (slot.epoch !== epoch) {
      // The slot's observations are older than the window: start it over, keeping its range and memory.
      slot.epoch = epoch;
      slot.counts.fill(0);
      slot.total = 0;
    }
    let at = index - slot.offset;
    if (at < 0 || at >= slot.counts.length) at = growSlot(slot, index);
    slot.counts[at]!++;
    slot.total++;
  }

  protected newSeries(labels: Readonly<Record<L, string>>): SummarySeries<L> {
    return new SummarySeries<L>(labels, this.#ageBuckets);
  }

  protected values(series: SummarySeries<L>, into: MetricValues): void {
    const quantiles = this.#windowQuantiles(series, Math.floor(this.#now() / this.#slotMillis));
    this.#percentiles.forEach((quantile, i) => into.push({ labels: { quantile, ...series.labels }, value: quantiles[i]! }));
    into.push({ metricName: `${this.name}_sum`, labels: series.labels, value: series.sum });
    into.push({ metricName: `${this.name}_count`, labels: series.labels, value: series.count });
  }

  protected resetSeries(series: SummarySeries<L>): void {
    series.count = 0;
    series.sum = 0;
    series.slots.fill(undefined);
  }

  /** Each percentile over the slots still in the window (released here when they are not). */
  #windowQuantiles(series: SummarySeries<L>, epoch: number): number[] {
    const live: Slot[] = [];
    let total = 0;
    series.slots.forEach((slot, position) => {
      if (slot === undefined) return;
      if (slot.epoch <= epoch - this.#ageBuckets) {
        series.slots[position] = undefined;
        return;
      }
      if (slot.total === 0) return;
      live.push(slot);
      total += slot.total;
    });
    if (total === 0) return this.#percentiles.map(() => 0);
    const low = Math.min(...live.map((slot) => slot.offset));
    const high = Math.max(...live.map((slot) => slot.offset + slot.counts.length));
    const merged = new Float64Array(high - low);
    for (const slot of live) {
      const base = slot.offset - low;
      for (let i = 0; i < slot.counts.length; i++) merged[base + i]! += slot.counts[i]!;
    }
    // The bucket holding the observation of rank ⌈q·n⌉, for each q in ascending order, in one pass.
    const quantiles: number[] = [];
    let seen = 0;
    let i = 0;
    for (const q of this.#percentiles) {
      const rank = quantileRank(q, total);
      while (seen + merged[i]! < rank) seen += merged[i++]!;
      quantiles.push(bucketValue(low + i));
    }
    return quantiles;
  }
}

/**
 * The rank (from 1) of the observation quantile q reports among n: ⌈q·n⌉, less a hair so that a product such as
 * 0.07 × 100 = 7.000000000000001 does not move it up one.
 */
export function quantileRank(q: number, n: number): number {
  return Math.min(n, Math.max(1, Math.ceil(q * n - 1e-9)));
}

/** Widens a slot to hold `index` (with a margin, within the buckets' range); returns the index's position. */
function growSlot(slot: Slot, index: number): number {
  const start = Math.max(MIN_INDEX, Math.min(slot.offset, index - GROWTH_MARGIN));
  const end = Math.min(MAX_INDEX + 1, Math.max(slot.offset + slot.counts.length, index + GROWTH_MARGIN + 1));
  const counts = new Uint32Array(end - start);
  counts.set(slot.counts, slot.offset - start);
  slot.counts = counts;
  slot.offset = start;
  return index - start;
}
