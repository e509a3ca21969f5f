/**
 * Where the admin listener gets its metrics: Prometheus text for /metrics, and the same metrics as objects for the
 * dashboard. An interface rather than a Registry, so a process that aggregates its workers' registries (node:cluster,
 * prom-client's AggregatorRegistry) plugs in without the admin listener or the dashboard changing, and both always
 * read the same numbers.
 */
import type { MetricObjectWithValues, MetricValue, Registry, RegistryContentType } from 'prom-client';

export type MetricObjects = Array<MetricObjectWithValues<MetricValue<string>>>;

export interface MetricsSource {
  /** The Prometheus text exposition served at /metrics. */
  metricsText(): Promise<string>;
  /** Content-Type of `metricsText()`. */
  readonly contentType: string;
  /**
   * Current values of the named metrics as prom-client JSON (names absent from the registry are left out), read in
   * the order given. The
   * dashboard names what it shows: reading the reference's latency summary costs 6-12 ms of CPU with 300 `api`
   * labels (quantiles computed at read), which a sample every two seconds need not pay.
   */
  metricsAsJson(names: readonly string[]): Promise<MetricObjects>;
}

/** A source over one in-process registry (or the one `AggregatorRegistry.aggregate()` returns). */
export function registryMetricsSource(registry: Registry<RegistryContentType>): MetricsSource {
  return {
    metricsText: () => registry.metrics(),
    get contentType() {
      return registry.contentType;
    },
    async metricsAsJson(names) {
      // One after the other, in the order given: some of prom-client's default metrics are refreshed by a sibling's
      // collect (process_cpu_user_seconds_total sets process_cpu_seconds_total), so a caller names that one first.
      const objects: MetricObjects = [];
      for (const name of names) {
        const metric = registry.getSingleMetric(name);
        if (metric !== undefined) objects.push(await metric.get());
      }
      return objects;
    },
  };
}

/**
 * `source` plus the series of `extra` (whose names `source` does not use): the text of both, one after the other,
 * and JSON from whichever holds a name. Both are Prometheus text format 0.0.4, prom-client's default.
 */
export function withRegistry(source: MetricsSource, extra: Registry<RegistryContentType>): MetricsSource {
  const own = registryMetricsSource(extra);
  return {
    async metricsText() {
      const [text, extraText] = await Promise.all([source.metricsText(), extra.metrics()]);
      return text.endsWith('\n') || text === '' ? `${text}${extraText}` : `${text}\n${extraText}`;
    },
    get contentType() {
      return source.contentType;
    },
    async metricsAsJson(names) {
      const mine = names.filter((name) => extra.getSingleMetric(name) !== undefined);
      if (mine.length === 0) return source.metricsAsJson(names);
      const [theirs, ours] = await Promise.all([source.metricsAsJson(names.filter((name) => !mine.includes(name))), own.metricsAsJson(mine)]);
      return [...theirs, ...ours];
    },
  };
}
