/**
 * The Prometheus metrics: the reference's `datakit_input_proxy_*` series, kept exactly (names, types, labels,
 * help, summary objectives) because dashboards and alerts are built on them, plus `egress_proxy_*` series that
 * operators need and the reference lacks. Fed by exchange records (see exchange-records.ts), never by the
 * forwarding code directly.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ProxyAuthFailure } from '../auth/proxy-authenticator.js';
import type { DestinationRule, UpstreamFailureReason } from '../errors.js';
import type {
  ExchangeKind,
  ExchangeObserver,
  HttpExchangeRecord,
  RejectRecord,
  TunnelRecord,
} from '../relay/exchange-records.js';
import { apiPathLabel } from './api-path-label.js';
import { BucketHistogram, type HistogramSeries } from './bucket-histogram.js';
import { methodLabel, statusTextLabel } from './bounded-labels.js';
import { DeferredCount, DeferredCounts } from './deferred-counts.js';
import { LabelValueLimiter } from './label-value-limiter.js';
import type { TunnelBytesCount } from '../relay/live-tunnel-bytes.js';
import { LogBucketSummary, type SummarySeries } from './log-bucket-summary.js';
import { registerEventLoopDelayGauges } from './event-loop-delay.js';

export interface ProxyMetricsOptions {
  maxApiLabels: number;
  maxClientIpLabels: number;
  version: string;
  /** Read at scrape time: live connection and tunnel counts. */
  gauges: {
    activeTunnels(): number;
    requestsInFlight(): number;
    clientConnections(): number;
    /** The bytes open tunnels relayed since the last read (ConnectionTracker.countOpenTunnelBytes). */
    openTunnelBytes?(count: TunnelBytesCount): void;
  };
  /** `limits.max_client_connections`, exported so an alert can compare the live count with it. */
  maxClientConnections?: number;
}

// The reference's summary objectives: 0.5±0.05, 0.9±0.01, 0.99±0.001 over Go's default 10-minute window.
const REFERENCE_PERCENTILES = [0.5, 0.9, 0.99];
const SUMMARY_MAX_AGE_SECONDS = 600;
const SUMMARY_AGE_BUCKETS = 5;
// From 1 ms (loopback) to 60 s (a stalled upload), dense around the 10-500 ms of real ingestion uploads.
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Paths whose `api` label is remembered; the cache starts over when full, so a client's random paths cost no memory. */
const API_LABEL_CACHE_SIZE = 1024;

const GAUGES_NAMED_LIKE_COUNTERS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];


/** The series one response status of one (api, method) pair feeds, with label objects built once. */
interface StatusSeries {
  readonly latency: SummarySeries<'api' | 'method' | 'status'>;
  readonly duration: Record<ExchangeKind, HistogramSeries<'kind' | 'code_class'> | undefined>;
}

/** What one (api, method) pair feeds: its request count and its series per response status. */
interface ApiMethodSeries {
  readonly apiTotal: DeferredCount<'api' | 'method'>;
  /** By status code; -1 for no response. */
  readonly byStatus: Map<number, StatusSeries>;
}

export class ProxyMetrics implements ExchangeObserver {
  readonly registry = new Registry();
  readonly #apiLabels: LabelValueLimiter;
  readonly #clientIpLabels: LabelValueLimiter;
  /** Its own cap, so HTTP clients never take the places of CONNECT clients in the reference's connect counter. */
  readonly #requestClientIpLabels: LabelValueLimiter;

  // The reference's series.
  readonly #connectTotal: Counter<'client_ip'>;
  readonly #apiTotal: Counter<'api' | 'method'>;
  readonly #apiLatency: LogBucketSummary<'api' | 'method' | 'status'>;
  readonly #rejectTotal: Counter<'type'>;

  // Ours.
  readonly #requestDuration: BucketHistogram<'kind' | 'code_class'>;
  readonly #bytes: Counter<'direction' | 'kind'>;
  readonly #upstreamErrors: Counter<'reason'>;
  readonly #clientFailures: Counter<'reason'>;
  readonly #tunnelsTotal: Counter<'result' | 'intercepted'>;
  readonly #rejects: Counter<'reason'>;
  readonly #clientTlsFailures: Counter<'reason'>;
  readonly #clientRequests: Counter<'client_ip'>;
  readonly #proxyAuthFailures: Counter<'reason'>;
  readonly #destinationRefusals: Counter<'rule'>;
  readonly #descriptorsExhausted: Counter<'operation'>;
  readonly #logLinesSuppressed: Counter<'reason'>;
  readonly leafCertificates: Counter<'result'>;
  readonly #certificateExpiry: Gauge<'certificate'>;
  #earliestLeafNotAfter: (() => Date | undefined) | undefined;

  // The exchange records' series, looked up per record without building label objects or hash strings.
  readonly #deferred = new DeferredCounts();
  /** Path → `api` label (after the cap). */
  readonly #apiLabelOfPath = new Map<string, string>();
  readonly #apiSeries = new Map<string, Map<string, ApiMethodSeries>>();
  readonly #clientRequestCounts = new Map<string, DeferredCount<'client_ip'>>();
  readonly #exchangeBytes: Record<ExchangeKind, { upstream: DeferredCount<'direction' | 'kind'>; downstream: DeferredCount<'direction' | 'kind'> }>;

  constructor(options: ProxyMetricsOptions) {
    const registers = [this.registry];
    this.#apiLabels = new LabelValueLimiter(options.maxApiLabels);
    this.#clientIpLabels = new LabelValueLimiter(options.maxClientIpLabels);
    this.#requestClientIpLabels = new LabelValueLimiter(options.maxClientIpLabels);

    this.#connectTotal = new Counter({
      name: 'datakit_input_proxy_connect_total',
      help: 'Proxy connect(method CONNECT)',
      labelNames: ['client_ip'],
      registers,
    });
    const deferred = this.#deferred;
    const flushDeferred = (): void => deferred.flush();
    this.#apiTotal = new Counter({
      name: 'datakit_input_proxy_api_total',
      help: 'Proxy API total',
      labelNames: ['api', 'method'],
      registers,
      collect: flushDeferred,
    });
    // Not prom-client's Summary and Histogram: its five t-digest inserts per observation, and the label hashing of
    // both, were most of the metrics' CPU per request (docs/mitm.md).
    this.#apiLatency = new LogBucketSummary({
      name: 'datakit_input_proxy_api_latency_seconds',
      help: 'Proxy API latency',
      labelNames: ['api', 'method', 'status'],
      percentiles: REFERENCE_PERCENTILES,
      maxAgeSeconds: SUMMARY_MAX_AGE_SECONDS,
      ageBuckets: SUMMARY_AGE_BUCKETS,
      registers,
    });
    this.#rejectTotal = new Counter({
      name: 'datakit_input_proxy_reject_total',
      help: 'Proxy rejected request',
      labelNames: ['type'],
      registers,
    });

    this.#requestDuration = new BucketHistogram({
      name: 'egress_proxy_request_duration_seconds',
      help: 'Duration of proxied HTTP exchanges (plain forwarding and decrypted MITM requests), for alerting.',
      labelNames: ['kind', 'code_class'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#bytes = new Counter({
      name: 'egress_proxy_bytes_total',
      help: 'Bytes relayed: upstream = from clients toward upstreams, downstream = from upstreams to clients.',
      labelNames: ['direction', 'kind'],
      registers,
      collect() {
        flushDeferred();
        // Open tunnels' bytes so far, so a long-lived tunnel shows in rates while it is open, not at its close.
        options.gauges.openTunnelBytes?.((fromClient, toClient, intercepted) => {
          const kind = intercepted === true ? 'mitm-tunnel' : 'tunnel';
          this.inc({ direction: 'upstream', kind }, fromClient);
          this.inc({ direction: 'downstream', kind }, toClient);
        });
      },
    });
    this.#upstreamErrors = new Counter({
      name: 'egress_proxy_upstream_errors_total',
      help: 'Failures reaching or talking to upstreams, by reason (dns, refused, unreachable, timeout, reset, tls, other).',
      labelNames: ['reason'],
      registers,
    });
    this.#clientFailures = new Counter({
      name: 'egress_proxy_client_failures_total',
      help: 'Exchanges the client side ended, by reason (headers_timeout, body_timeout, stalled, aborted): never counted as upstream errors.',
      labelNames: ['reason'],
      registers,
    });
    this.#tunnelsTotal = new Counter({
      name: 'egress_proxy_tunnels_total',
      help: 'CONNECT tunnels ended, by result (established or the error status) and whether they were intercepted.',
      labelNames: ['result', 'intercepted'],
      registers,
    });
    this.#rejects = new Counter({
      name: 'egress_proxy_rejects_total',
      help: 'Requests and tunnels refused before any upstream work, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.#clientTlsFailures = new Counter({
      name: 'egress_proxy_mitm_client_tls_failures_total',
      help: 'TLS handshakes with clients that failed inside intercepted tunnels (e.g. a client that does not trust the CA).',
      labelNames: ['reason'],
      registers,
    });
    this.#clientRequests = new Counter({
      name: 'egress_proxy_client_requests_total',
      help: 'Proxied HTTP requests (forwarded or decrypted) by client address; CONNECTs are in datakit_input_proxy_connect_total.',
      labelNames: ['client_ip'],
      registers,
      collect: flushDeferred,
    });
    this.#proxyAuthFailures = new Counter({
      name: 'egress_proxy_proxy_auth_failures_total',
      help: 'Requests and CONNECTs that failed proxy authentication, by reason (missing, wrong_password, unknown_user, malformed, rate_limited, busy, ...).',
      labelNames: ['reason'],
      registers,
    });
    this.#destinationRefusals = new Counter({
      name: 'egress_proxy_destination_refusals_total',
      help: 'Destinations the policy refused to dial, by rule (not_allowed, loopback, metadata, link_local, ...), for forwarding, CONNECT and MITM alike.',
      labelNames: ['rule'],
      registers,
    });
    this.#descriptorsExhausted = new Counter({
      name: 'egress_proxy_fd_exhausted_total',
      help: 'Times the process ran out of file descriptors (EMFILE, ENFILE), by operation: accept (a client connection) or connect (an upstream).',
      labelNames: ['operation'],
      registers,
    });
    this.#logLinesSuppressed = new Counter({
      name: 'egress_proxy_log_lines_suppressed_total',
      help: 'Warnings and errors left out of the log because one of the same reason was written less than a minute before.',
      labelNames: ['reason'],
      registers,
    });
    const bytesOf = (kind: ExchangeKind) => ({
      upstream: new DeferredCount(this.#bytes, { direction: 'upstream', kind }),
      downstream: new DeferredCount(this.#bytes, { direction: 'downstream', kind }),
    });
    this.#exchangeBytes = { forward: bytesOf('forward'), mitm: bytesOf('mitm') };
    const earliestLeafNotAfter = (): Date | undefined => this.#earliestLeafNotAfter?.();
    this.#certificateExpiry = new Gauge({
      name: 'egress_proxy_mitm_certificate_expiry_timestamp_seconds',
      help: 'When MITM certificates expire (Unix time): certificate="ca" for the CA, "leaf" for the earliest-expiring cached leaf.',
      labelNames: ['certificate'],
      registers,
      // Across cluster workers (AggregatorRegistry) the earliest expiry is the one that matters, not a sum.
      aggregator: 'min',
      collect() {
        const leaf = earliestLeafNotAfter();
        if (leaf === undefined) this.remove({ certificate: 'leaf' });
        else this.set({ certificate: 'leaf' }, leaf.getTime() / 1000);
      },
    });
    this.leafCertificates = new Counter({
      name: 'egress_proxy_mitm_leaf_certificates_total',
      help: 'Leaf certificate lookups for intercepted hosts: generated or served from the cache.',
      labelNames: ['result'],
      registers,
    });
    new Gauge({
      name: 'egress_proxy_tunnels_active',
      help: 'CONNECT tunnels open now.',
      registers,
      collect() {
        this.set(options.gauges.activeTunnels());
      },
    });
    new Gauge({
      name: 'egress_proxy_client_connections_active',
      help: 'Client TCP connections open now, idle keep-alive connections and tunnels included.',
      registers,
      collect() {
        this.set(options.gauges.clientConnections());
      },
    });
    new Gauge({
      name: 'egress_proxy_requests_in_flight',
      help: 'Proxied HTTP requests in flight now.',
      registers,
      collect() {
        this.set(options.gauges.requestsInFlight());
      },
    });
    if (options.maxClientConnections !== undefined) {
      new Gauge({
        name: 'egress_proxy_client_connections_limit',
        help: 'limits.max_client_connections: client connections beyond it are refused at accept.',
        registers,
      }).set(options.maxClientConnections);
    }
    const buildInfo = new Gauge({
      name: 'egress_proxy_build_info',
      help: 'Version of egress-proxy and of Node.js; always 1.',
      labelNames: ['version', 'node_version'],
      registers,
      // Every cluster worker runs the same build: one of them answers for all (cluster-metrics.ts adds the rest).
      aggregator: 'first',
    });
    buildInfo.set({ version: options.version, node_version: process.version }, 1);
    collectDefaultMetrics({ register: this.registry });
    registerEventLoopDelayGauges(this.registry);
    // Gauges named like counters, which `promtool check metrics` refuses (and so does any lint built on it); the
    // same counts remain, by type, in nodejs_active_handles, nodejs_active_requests and nodejs_active_resources.
    for (const name of GAUGES_NAMED_LIKE_COUNTERS) this.registry.removeSingleMetric(name);
  }

  onHttpExchange(r: HttpExchangeRecord): void {
    const deferred = this.#deferred;
    const method = methodLabel(r.method);
    const series = this.#apiMethodSeries(this.#apiLabel(r.path), method);
    deferred.add(series.apiTotal, 1);
    deferred.add(this.#clientRequestCount(r.clientIp), 1);
    const statusSeries = this.#statusSeries(series, method, r.statusCode);
    this.#apiLatency.observe(statusSeries.latency, r.durationSeconds);
    const duration = (statusSeries.duration[r.kind] ??= this.#requestDuration.series({ kind: r.kind, code_class: codeClass(r.statusCode) }));
    this.#requestDuration.observe(duration, r.durationSeconds);
    const bytes = this.#exchangeBytes[r.kind];
    deferred.add(bytes.upstream, r.bytesFromClient);
    deferred.add(bytes.downstream, r.bytesToClient);
    if (r.upstreamFailure) this.#upstreamFailure(r.upstreamFailure);
    if (r.clientFailure) this.#clientFailures.inc({ reason: r.clientFailure });
  }

  /** The `api` label of a path, within the cap (stable once given: the cap only ever turns new values away). */
  #apiLabel(path: string): string {
    const cache = this.#apiLabelOfPath;
    let api = cache.get(path);
    if (api === undefined) {
      api = this.#apiLabels.value(apiPathLabel(path));
      if (cache.size >= API_LABEL_CACHE_SIZE) cache.clear();
      cache.set(path, api);
    }
    return api;
  }

  #apiMethodSeries(api: string, method: string): ApiMethodSeries {
    let byMethod = this.#apiSeries.get(api);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.#apiSeries.set(api, byMethod);
    }
    let series = byMethod.get(method);
    if (series === undefined) {
      series = { apiTotal: new DeferredCount(this.#apiTotal, { api, method }), byStatus: new Map() };
      byMethod.set(method, series);
    }
    return series;
  }

  #statusSeries(series: ApiMethodSeries, method: string, statusCode: number | undefined): StatusSeries {
    const key = statusCode ?? -1;
    let status = series.byStatus.get(key);
    if (status === undefined) {
      const { api } = series.apiTotal.labels;
      status = { latency: this.#apiLatency.series({ api, method, status: statusTextLabel(statusCode) }), duration: { forward: undefined, mitm: undefined } };
      series.byStatus.set(key, status);
    }
    return status;
  }

  #clientRequestCount(clientIp: string): DeferredCount<'client_ip'> {
    const label = this.#requestClientIpLabels.value(clientIp);
    let count = this.#clientRequestCounts.get(label);
    if (count === undefined) {
      count = new DeferredCount(this.#clientRequests, { client_ip: label });
      this.#clientRequestCounts.set(label, count);
    }
    return count;
  }

  onTunnel(r: TunnelRecord): void {
    const kind = r.intercepted ? 'mitm-tunnel' : 'tunnel';
    this.#tunnelsTotal.inc({ result: r.statusCode === 200 ? 'established' : String(r.statusCode), intercepted: String(r.intercepted) });
    // What was counted while it was open (openTunnelBytes) is not counted again.
    this.#bytes.inc({ direction: 'upstream', kind }, r.bytesFromClient - (r.bytesCountedLive?.fromClient ?? 0));
    this.#bytes.inc({ direction: 'downstream', kind }, r.bytesToClient - (r.bytesCountedLive?.toClient ?? 0));
    if (r.upstreamFailure) this.#upstreamFailure(r.upstreamFailure);
  }

  #upstreamFailure(reason: UpstreamFailureReason): void {
    this.#upstreamErrors.inc({ reason });
    if (reason === 'fd_exhausted') this.#descriptorsExhausted.inc({ operation: 'connect' });
  }

  onConnectAttempt(clientIp: string): void {
    this.#connectTotal.inc({ client_ip: this.#clientIpLabels.value(clientIp) });
  }

  onReject(r: RejectRecord): void {
    this.#rejectTotal.inc({ type: r.reason });
    this.#rejects.inc({ reason: r.reason });
    if (r.clientFailure) this.#clientFailures.inc({ reason: r.clientFailure });
  }

  onClientTlsFailure(reason: string): void {
    this.#clientTlsFailures.inc({ reason });
  }

  onProxyAuthFailure(reason: ProxyAuthFailure): void {
    this.#proxyAuthFailures.inc({ reason });
  }

  onDestinationRefusal(rule: DestinationRule): void {
    this.#destinationRefusals.inc({ rule });
  }

  onDescriptorsExhausted(operation: 'accept' | 'connect'): void {
    this.#descriptorsExhausted.inc({ operation });
  }

  onLogLineSuppressed(reason: string): void {
    this.#logLinesSuppressed.inc({ reason });
  }

  /**
   * Publishes when the MITM CA expires, and a reader of the earliest expiry among cached leaves (read at scrape
   * time; it returns undefined while no leaf is cached).
   */
  watchCertificateExpiry(caNotAfter: Date, earliestLeafNotAfter: () => Date | undefined): void {
    this.#certificateExpiry.set({ certificate: 'ca' }, caNotAfter.getTime() / 1000);
    this.#earliestLeafNotAfter = earliestLeafNotAfter;
  }
}

function codeClass(statusCode: number | undefined): string {
  return statusCode === undefined ? 'none' : `${Math.floor(statusCode / 100)}xx`;
}
