/**
 * Reads one instant of the metrics the dashboard shows out of prom-client's JSON: cumulative counters summed over
 * the labels the page does not break down by, gauges, and the latency histogram's buckets summed over all series.
 * Only names and labels the proxy exports at /metrics are read, so every number on the page can be recomputed
 * from /metrics with the same sums.
 */
import type { MetricObjects } from '../metrics-source.js';

/** Every metric the dashboard reads, in the order read: the names passed to `MetricsSource.metricsAsJson`. */
export const DASHBOARD_METRIC_NAMES = [
  'egress_proxy_request_duration_seconds',
  'datakit_input_proxy_connect_total',
  'datakit_input_proxy_api_total',
  'egress_proxy_client_requests_total',
  'egress_proxy_bytes_total',
  'egress_proxy_tunnels_total',
  'egress_proxy_rejects_total',
  'egress_proxy_upstream_errors_total',
  'egress_proxy_mitm_client_tls_failures_total',
  'egress_proxy_tunnels_active',
  'egress_proxy_client_connections_active',
  'egress_proxy_requests_in_flight',
  'egress_proxy_build_info',
  'process_resident_memory_bytes',
  // prom-client refreshes some default metrics from one sibling's collect: each such sibling comes first, and is
  // read although the page does not show it, or the others would keep the values of the previous scrape.
  'nodejs_heap_size_total_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_external_memory_bytes',
  // Not prom-client's nodejs_eventloop_lag_*: see src/metrics/event-loop-delay.ts.
  'egress_proxy_event_loop_delay_p50_seconds',
  'egress_proxy_event_loop_delay_p99_seconds',
  'egress_proxy_event_loop_delay_max_seconds',
  'process_cpu_user_seconds_total',
  'process_cpu_seconds_total',
  'process_start_time_seconds',
  'process_open_fds',
  'process_max_fds',
] as const;

/** The kinds of traffic bytes are counted for (`egress_proxy_bytes_total{kind}`). */
export const BYTE_KINDS = ['forward', 'mitm', 'tunnel', 'mitm-tunnel'] as const;
/** The kinds of HTTP exchange (`egress_proxy_request_duration_seconds{kind}`). */
export const REQUEST_KINDS = ['forward', 'mitm'] as const;

export interface ClientCounts {
  /** `egress_proxy_client_requests_total`: HTTP requests, forwarded or decrypted. */
  requests: number;
  /** `datakit_input_proxy_connect_total`: CONNECTs. */
  connects: number;
}

/** One reading: cumulative counters and current gauges, at `t`. */
export interface MetricsReading {
  /** Milliseconds since the epoch. */
  t: number;
  requests: Record<string, number>;
  connects: number;
  tunnelsEnded: number;
  bytesUp: Record<string, number>;
  bytesDown: Record<string, number>;
  rejects: Record<string, number>;
  upstreamErrors: Record<string, number>;
  mitmClientTlsFailures: number;
  /** Finite upper bounds of the latency histogram, ascending. */
  latencyBounds: number[];
  /** Cumulative counts per bound, plus the +Inf bucket last; summed over every kind and code class. */
  latencyCumulative: number[];
  clients: Map<string, ClientCounts>;
  /** Key `METHOD path`. */
  apis: Map<string, number>;
  gauges: {
    tunnelsActive: number;
    clientConnections: number;
    requestsInFlight: number;
    residentMemoryBytes: number;
    heapUsedBytes: number;
    heapTotalBytes: number;
    externalMemoryBytes: number;
    eventLoopP50Seconds: number;
    eventLoopP99Seconds: number;
    eventLoopMaxSeconds: number;
    cpuSecondsTotal: number;
    startTimeSeconds: number;
    openFds: number | undefined;
    maxFds: number | undefined;
  };
  version: string;
  nodeVersion: string;
}

type Values = Array<{ value: number; labels: Record<string, string | number | undefined>; metricName?: string }>;

export function readMetrics(metrics: MetricObjects, t: number): MetricsReading {
  const byName = new Map<string, Values>(metrics.map((m) => [m.name, m.values as Values]));
  const values = (name: string): Values => byName.get(name) ?? [];
  const gauge = (name: string): number | undefined => {
    const list = values(name);
    return list.length === 0 ? undefined : list.reduce((sum, v) => sum + v.value, 0);
  };

  const histogram = values('egress_proxy_request_duration_seconds');
  const requests = sumBy(histogram.filter((v) => v.metricName?.endsWith('_count')), 'kind');
  const bucketSums = new Map<number, number>();
  for (const v of histogram) {
    if (!v.metricName?.endsWith('_bucket')) continue;
    const le = v.labels['le'] === '+Inf' ? Infinity : Number(v.labels['le']);
    bucketSums.set(le, (bucketSums.get(le) ?? 0) + v.value);
  }
  const bounds = [...bucketSums.keys()].sort((a, b) => a - b);

  const clients = new Map<string, ClientCounts>();
  const client = (ip: string): ClientCounts => {
    let counts = clients.get(ip);
    if (!counts) clients.set(ip, (counts = { requests: 0, connects: 0 }));
    return counts;
  };
  for (const v of values('egress_proxy_client_requests_total')) client(String(v.labels['client_ip'])).requests += v.value;
  for (const v of values('datakit_input_proxy_connect_total')) client(String(v.labels['client_ip'])).connects += v.value;

  const apis = new Map<string, number>();
  for (const v of values('datakit_input_proxy_api_total')) {
    const key = `${String(v.labels['method'])} ${String(v.labels['api'])}`;
    apis.set(key, (apis.get(key) ?? 0) + v.value);
  }

  const bytes = values('egress_proxy_bytes_total');
  const buildInfo = values('egress_proxy_build_info')[0]?.labels;
  return {
    t,
    requests,
    connects: sum(values('datakit_input_proxy_connect_total')),
    tunnelsEnded: sum(values('egress_proxy_tunnels_total')),
    bytesUp: sumBy(bytes.filter((v) => v.labels['direction'] === 'upstream'), 'kind'),
    bytesDown: sumBy(bytes.filter((v) => v.labels['direction'] === 'downstream'), 'kind'),
    rejects: sumBy(values('egress_proxy_rejects_total'), 'reason'),
    upstreamErrors: sumBy(values('egress_proxy_upstream_errors_total'), 'reason'),
    mitmClientTlsFailures: sum(values('egress_proxy_mitm_client_tls_failures_total')),
    latencyBounds: bounds.filter((b) => b !== Infinity),
    latencyCumulative: bounds.map((b) => bucketSums.get(b)!),
    clients,
    apis,
    gauges: {
      tunnelsActive: gauge('egress_proxy_tunnels_active') ?? 0,
      clientConnections: gauge('egress_proxy_client_connections_active') ?? 0,
      requestsInFlight: gauge('egress_proxy_requests_in_flight') ?? 0,
      residentMemoryBytes: gauge('process_resident_memory_bytes') ?? 0,
      heapUsedBytes: gauge('nodejs_heap_size_used_bytes') ?? 0,
      heapTotalBytes: gauge('nodejs_heap_size_total_bytes') ?? 0,
      externalMemoryBytes: gauge('nodejs_external_memory_bytes') ?? 0,
      // Several processes (cluster workers): the worst event loop is the one clients feel, not the sum.
      eventLoopP50Seconds: max(values('egress_proxy_event_loop_delay_p50_seconds')),
      eventLoopP99Seconds: max(values('egress_proxy_event_loop_delay_p99_seconds')),
      eventLoopMaxSeconds: max(values('egress_proxy_event_loop_delay_max_seconds')),
      cpuSecondsTotal: gauge('process_cpu_seconds_total') ?? 0,
      startTimeSeconds: minimum(values('process_start_time_seconds')),
      openFds: gauge('process_open_fds'),
      maxFds: gauge('process_max_fds'),
    },
    version: String(buildInfo?.['version'] ?? 'unknown'),
    nodeVersion: String(buildInfo?.['node_version'] ?? process.version),
  };
}

function sum(values: Values): number {
  return values.reduce((total, v) => total + v.value, 0);
}

function max(values: Values): number {
  return values.reduce((m, v) => Math.max(m, v.value), 0);
}

function minimum(values: Values): number {
  return values.length === 0 ? 0 : values.reduce((m, v) => Math.min(m, v.value), Infinity);
}

function sumBy(values: Values, label: string): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const v of values) {
    const key = String(v.labels[label]);
    sums[key] = (sums[key] ?? 0) + v.value;
  }
  return sums;
}
