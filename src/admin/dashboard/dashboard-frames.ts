/**
 * Turns successive metric readings into what the page draws: a small point per sample for the charts (rates over
 * the last interval, latency quantiles over the last minute, gauges), and the detail of the newest sample (totals
 * by kind and reason, top clients and APIs). Rates and quantiles are computed the way PromQL's `rate()` and
 * `histogram_quantile()` compute them from the same counters, so a Grafana panel over /metrics shows the same.
 */
import { BYTE_KINDS, REQUEST_KINDS, type MetricsReading } from './metrics-reading.js';

export interface LatencyQuantiles {
  p50: number;
  p90: number;
  p99: number;
}

/** One sample's values on the time charts. Rates are per second. */
export interface DashboardPoint {
  t: number;
  requestRate: Record<string, number>;
  connectRate: number;
  bytesUpRate: Record<string, number>;
  bytesDownRate: Record<string, number>;
  /** Over the latency window; null when no request finished in it. */
  latency: LatencyQuantiles | null;
  tunnelsActive: number;
  clientConnections: number;
  requestsInFlight: number;
  rejectRate: number;
  upstreamErrorRate: number;
  residentMemoryBytes: number;
  heapUsedBytes: number;
  eventLoopP99Seconds: number;
  /** CPU seconds per second (1 = one core busy). */
  cpuCores: number;
}

export interface RankedClient {
  clientIp: string;
  requests: number;
  connects: number;
  /** Requests plus CONNECTs per second over the ranking window. */
  ratePerSecond: number;
}

export interface RankedApi {
  method: string;
  api: string;
  total: number;
  ratePerSecond: number;
}

/** The newest sample in full: the numbers that have no chart. */
export interface DashboardDetail {
  t: number;
  uptimeSeconds: number;
  version: string;
  nodeVersion: string;
  totals: {
    requests: Record<string, number>;
    connects: number;
    tunnelsEnded: number;
    bytesUp: Record<string, number>;
    bytesDown: Record<string, number>;
    mitmClientTlsFailures: number;
  };
  rejects: Record<string, number>;
  upstreamErrors: Record<string, number>;
  topClients: RankedClient[];
  topApis: RankedApi[];
  gauges: MetricsReading['gauges'];
}

export const TOP_LIST_LENGTH = 10;

/** The point for `current`, with rates over the interval since `previous` and quantiles since `windowStart`. */
export function dashboardPoint(previous: MetricsReading | undefined, current: MetricsReading, windowStart: MetricsReading | undefined): DashboardPoint {
  const seconds = previous ? (current.t - previous.t) / 1000 : 0;
  const rate = (now: number, before: number | undefined): number =>
    seconds > 0 && before !== undefined ? Math.max(0, now - before) / seconds : 0;
  const rates = (kinds: readonly string[], now: Record<string, number>, before: Record<string, number> | undefined): Record<string, number> =>
    Object.fromEntries(kinds.map((kind) => [kind, rate(now[kind] ?? 0, before ? (before[kind] ?? 0) : undefined)]));
  return {
    t: current.t,
    requestRate: rates(REQUEST_KINDS, current.requests, previous?.requests),
    connectRate: rate(current.connects, previous?.connects),
    bytesUpRate: rates(BYTE_KINDS, current.bytesUp, previous?.bytesUp),
    bytesDownRate: rates(BYTE_KINDS, current.bytesDown, previous?.bytesDown),
    latency: windowQuantiles(windowStart, current),
    tunnelsActive: current.gauges.tunnelsActive,
    clientConnections: current.gauges.clientConnections,
    requestsInFlight: current.gauges.requestsInFlight,
    rejectRate: rate(total(current.rejects), previous ? total(previous.rejects) : undefined),
    upstreamErrorRate: rate(total(current.upstreamErrors), previous ? total(previous.upstreamErrors) : undefined),
    residentMemoryBytes: current.gauges.residentMemoryBytes,
    heapUsedBytes: current.gauges.heapUsedBytes,
    eventLoopP99Seconds: current.gauges.eventLoopP99Seconds,
    cpuCores: rate(current.gauges.cpuSecondsTotal, previous?.gauges.cpuSecondsTotal),
  };
}

/** Totals, reasons and top lists of `current`; top lists ranked by their rate since `windowStart`. */
export function dashboardDetail(current: MetricsReading, windowStart: MetricsReading | undefined): DashboardDetail {
  const seconds = windowStart ? (current.t - windowStart.t) / 1000 : 0;
  const perSecond = (now: number, before: number): number => (seconds > 0 ? Math.max(0, now - before) / seconds : 0);

  const topClients = [...current.clients].map(([clientIp, counts]): RankedClient => {
    const before = windowStart?.clients.get(clientIp) ?? { requests: 0, connects: 0 };
    return { clientIp, ...counts, ratePerSecond: perSecond(counts.requests + counts.connects, before.requests + before.connects) };
  });
  const topApis = [...current.apis].map(([key, count]): RankedApi => {
    const space = key.indexOf(' ');
    return { method: key.slice(0, space), api: key.slice(space + 1), total: count, ratePerSecond: perSecond(count, windowStart?.apis.get(key) ?? 0) };
  });
  return {
    t: current.t,
    uptimeSeconds: current.gauges.startTimeSeconds > 0 ? Math.max(0, current.t / 1000 - current.gauges.startTimeSeconds) : 0,
    version: current.version,
    nodeVersion: current.nodeVersion,
    totals: {
      requests: current.requests,
      connects: current.connects,
      tunnelsEnded: current.tunnelsEnded,
      bytesUp: current.bytesUp,
      bytesDown: current.bytesDown,
      mitmClientTlsFailures: current.mitmClientTlsFailures,
    },
    rejects: current.rejects,
    upstreamErrors: current.upstreamErrors,
    topClients: top(topClients, (c) => [c.ratePerSecond, c.requests + c.connects]),
    topApis: top(topApis, (a) => [a.ratePerSecond, a.total]),
    gauges: current.gauges,
  };
}

/** Busiest first by recent rate, then by total; only TOP_LIST_LENGTH kept. */
function top<T>(items: T[], keys: (item: T) => [number, number]): T[] {
  return items
    .map((item) => ({ item, key: keys(item) }))
    .sort((a, b) => b.key[0] - a.key[0] || b.key[1] - a.key[1])
    .slice(0, TOP_LIST_LENGTH)
    .map(({ item }) => item);
}

function total(counts: Record<string, number>): number {
  let sum = 0;
  for (const value of Object.values(counts)) sum += value;
  return sum;
}

function windowQuantiles(start: MetricsReading | undefined, end: MetricsReading): LatencyQuantiles | null {
  const counts = end.latencyCumulative.map((count, i) => Math.max(0, count - (start?.latencyCumulative[i] ?? 0)));
  const p50 = histogramQuantile(0.5, end.latencyBounds, counts);
  if (p50 === undefined) return null;
  return { p50, p90: histogramQuantile(0.9, end.latencyBounds, counts)!, p99: histogramQuantile(0.99, end.latencyBounds, counts)! };
}

/**
 * Prometheus's `histogram_quantile`: find the bucket holding the q-th observation and interpolate linearly inside
 * it (from 0 for the first bucket). An answer in the +Inf bucket is the highest finite bound. `cumulative` has one
 * entry per bound plus the +Inf bucket. Undefined when there are no observations.
 */
export function histogramQuantile(q: number, bounds: readonly number[], cumulative: readonly number[]): number | undefined {
  const observations = cumulative[cumulative.length - 1] ?? 0;
  if (observations <= 0 || bounds.length === 0) return undefined;
  const rank = q * observations;
  const index = cumulative.findIndex((count) => count >= rank);
  if (index >= bounds.length) return bounds[bounds.length - 1];
  const lower = index === 0 ? 0 : bounds[index - 1]!;
  const below = index === 0 ? 0 : cumulative[index - 1]!;
  const inBucket = cumulative[index]! - below;
  const upper = bounds[index]!;
  return inBucket <= 0 ? upper : lower + (upper - lower) * ((rank - below) / inBucket);
}
