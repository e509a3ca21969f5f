/**
 * Turns a bench run into what `bench client` prints: the reference's `Benchmark metrics:` block (three metric
 * families with the reference's names, types, labels and help texts), or one JSON object for scripts.
 */
import { Counter, Gauge, Registry, Summary } from 'prom-client';
import type { BenchResult } from './bench-client.js';
import { renderGoStyleText } from './prometheus-text.js';

/** The reference's summary objectives are 0.5±0.05, 0.9±0.01, 0.99±0.001; prom-client takes the quantiles only. */
const PERCENTILES = [0.5, 0.9, 0.99];

/** `Benchmark metrics:` and the Prometheus text exposition, sorted by metric name, ending in a newline. */
export async function renderBenchMetrics(result: BenchResult): Promise<string> {
  // A private registry: nothing else in the process (the proxy's own metrics, if any) leaks into the report.
  const registry = new Registry();
  const elapsed = new Gauge({ name: 'api_elapsed_seconds', help: 'Proxied API elapsed seconds', registers: [registry] });
  const latency = new Summary({
    name: 'api_latency_seconds',
    help: 'Proxied API latency',
    labelNames: ['api', 'status'] as const,
    percentiles: PERCENTILES,
    registers: [registry],
  });
  const postBytes = new Counter({
    name: 'api_post_bytes_total',
    help: 'Proxied API post bytes total',
    labelNames: ['api', 'status'] as const,
    registers: [registry],
  });

  elapsed.set(result.elapsedSeconds);
  // Observed after the run, not per request: a summary observation costs more than the rest of the bookkeeping.
  for (const group of result.groups) {
    const labels = { api: result.api, status: group.status };
    const child = latency.labels(labels);
    for (const seconds of group.latenciesSeconds) child.observe(seconds);
    // Only bytes the server accepted (a 2xx answer); a failed status keeps its series, at 0.
    postBytes.inc(labels, group.ok ? group.latenciesSeconds.length * result.bodyBytes : 0);
  }
  return `Benchmark metrics:\n${renderGoStyleText(await registry.getMetricsAsJSON())}`;
}

/** The `--json` output of `bench client`. Latencies are in seconds. */
export type BenchJsonSummary = Pick<
  BenchResult,
  'elapsedSeconds' | 'requests' | 'errors' | 'requestsPerSecond' | 'latency' | 'bytesPosted' | 'statuses'
>;

export function toJsonSummary(result: BenchResult): BenchJsonSummary {
  return {
    elapsedSeconds: result.elapsedSeconds,
    requests: result.requests,
    errors: result.errors,
    requestsPerSecond: result.requestsPerSecond,
    latency: result.latency,
    bytesPosted: result.bytesPosted,
    statuses: result.statuses,
  };
}
