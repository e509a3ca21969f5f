/**
 * One /metrics for a cluster: each worker keeps its own registry (no IPC per request), and a scrape asks every
 * worker for its registry as JSON and adds them up in the primary, so the series read what one process serving all
 * the traffic would show: counters, histogram buckets, summary counts and sums, and gauges of things open now are
 * sums (prom-client's AggregatorRegistry.aggregate does the adding and the text rendering).
 *
 * Summary quantiles cannot be added, and prom-client's aggregation would add them. Each worker's quantile is
 * weighted by the share of the observations it made (its `_count` for those labels), so the result is the
 * count-weighted mean of the workers' quantiles: exact when the workers see the same distribution (round-robin
 * scheduling makes that the usual case) and always between the smallest and largest worker's value. The
 * histogram `egress_proxy_request_duration_seconds` aggregates exactly; alert on it.
 */
import { AggregatorRegistry, type Registry } from 'prom-client';
import { registryMetricsSource } from '../admin/metrics-source.js';
import type { MetricsRequestMessage, MetricsMessage, RegistryJson } from './worker-messages.js';

type MetricJson = RegistryJson[number];
type ValueJson = MetricJson['values'][number] & { metricName?: string };

/** In a worker: answer the primary's metrics requests with `registry`. */
export function answerMetricsRequests(registry: Registry, send: (message: MetricsMessage) => void): (message: MetricsRequestMessage) => void {
  const source = registryMetricsSource(registry);
  return (request) => {
    const metrics = request.names === undefined ? registry.getMetricsAsJSON() : source.metricsAsJson(request.names);
    metrics.then(
      (metrics) => send({ type: 'egress-proxy:metrics', id: request.id, metrics, error: undefined }),
      (err: unknown) => send({ type: 'egress-proxy:metrics', id: request.id, metrics: undefined, error: String(err) }),
    );
  };
}

/** The labels without `quantile`, as a key: a summary's `_count` for the same observations has exactly these. */
function labelKey(labels: Record<string, unknown>): string {
  const entries = Object.entries(labels).filter(([name]) => name !== 'quantile');
  return JSON.stringify(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function summaryCounts(metric: MetricJson): Map<string, number> {
  const counts = new Map<string, number>();
  for (const value of metric.values as ValueJson[]) {
    if (value.metricName === `${metric.name}_count`) counts.set(labelKey(value.labels), value.value);
  }
  return counts;
}

/** Each worker's summary quantiles multiplied by its share of the observations, so that summing averages them. */
function weightSummaryQuantiles(workers: RegistryJson[]): RegistryJson[] {
  const totals = new Map<string, Map<string, number>>();
  for (const registry of workers) {
    for (const metric of registry) {
      if ((metric.type as unknown) !== 'summary') continue;
      const total = totals.get(metric.name) ?? new Map<string, number>();
      for (const [key, count] of summaryCounts(metric)) total.set(key, (total.get(key) ?? 0) + count);
      totals.set(metric.name, total);
    }
  }
  return workers.map((registry) =>
    registry.map((metric) => {
      if ((metric.type as unknown) !== 'summary') return metric;
      const counts = summaryCounts(metric);
      const total = totals.get(metric.name)!;
      const values = (metric.values as ValueJson[]).map((value) => {
        if (value.labels['quantile'] === undefined) return value;
        const key = labelKey(value.labels);
        const all = total.get(key) ?? 0;
        const share = all === 0 ? 0 : (counts.get(key) ?? 0) / all;
        return { ...value, value: value.value * share };
      });
      return { ...metric, values };
    }),
  );
}

/**
 * The registry a scrape renders: the workers' registries added up (quantiles weighted, see above), plus the
 * primary's own series (worker counts and restarts), whose names no worker uses.
 */
export function aggregateRegistries(workers: RegistryJson[], primary: RegistryJson): Registry {
  return AggregatorRegistry.aggregate([...weightSummaryQuantiles(workers), primary]);
}
