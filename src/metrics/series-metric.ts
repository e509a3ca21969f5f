/**
 * What the proxy's own hot-path metrics (log-bucket-summary.ts, bucket-histogram.ts) share: a series object per
 * label set, made once and kept by the caller, so that an observation neither builds a label object nor hashes one
 * (prom-client's `observe(labels, value)` validates and hashes the labels on every call), and registration with
 * prom-client's Registry, which renders them, aggregates them across cluster workers and resets them like its own.
 */
import type { Aggregator, Metric, MetricObjectWithValues, MetricValueWithName, Registry } from 'prom-client';

export type MetricValues = Array<MetricValueWithName<string>>;

export interface SeriesMetricOptions<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers: Registry[];
}

export abstract class SeriesMetric<L extends string, S extends { readonly labels: Readonly<Record<L, string>> }> {
  readonly name: string;
  readonly help: string;
  abstract readonly type: 'summary' | 'histogram';
  /** Across cluster workers counts and sums add up (summary quantiles are weighted first: src/cluster/cluster-metrics.ts). */
  readonly aggregator: Aggregator = 'sum';
  readonly labelNames: readonly L[];
  readonly #series = new Map<string, S>();

  constructor(options: SeriesMetricOptions<L>, reservedLabel: string) {
    if (options.labelNames.includes(reservedLabel as L)) throw new Error(`${reservedLabel} is a reserved label name`);
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames;
  }

  /**
   * Registers with `registries` (a subclass calls this at the end of its constructor). prom-client's Registry reads
   * a metric through name, help, type, aggregator, get() and reset(); its TypeScript type names only its own classes.
   */
  protected register(registries: readonly Registry[]): void {
    for (const registry of registries) registry.registerMetric(this as unknown as Metric);
  }

  /** The series of a label set, created on first use (at zero, as prom-client creates one on its first observe). */
  series(labels: Record<L, string>): S {
    const key = this.labelNames.map((name) => labels[name]).join('\u0000');
    let series = this.#series.get(key);
    if (series === undefined) {
      for (const name of this.labelNames) if (typeof labels[name] !== 'string') throw new Error(`label ${name} missing`);
      series = this.newSeries(Object.freeze({ ...labels }));
      this.#series.set(key, series);
    }
    return series;
  }

  /** prom-client's read: a promise, as every metric's get() returns one. */
  get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const values: MetricValues = [];
    for (const series of this.#series.values()) this.values(series, values);
    return Promise.resolve({ name: this.name, help: this.help, type: this.type as never, values, aggregator: this.aggregator, collect: () => undefined });
  }

  /** Zeroes every series (prom-client's registry.resetMetrics()); the series stay, as their holders keep them. */
  reset(): void {
    for (const series of this.#series.values()) this.resetSeries(series);
  }

  protected abstract newSeries(labels: Readonly<Record<L, string>>): S;
  /** Appends the series' values, in prom-client's shape for the type. */
  protected abstract values(series: S, into: MetricValues): void;
  protected abstract resetSeries(series: S): void;
}
