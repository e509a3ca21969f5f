/**
 * The load generator of `bench client`: `connections` workers, each on its own keep-alive connection, each sending
 * `requestsPerConnection` sequential POSTs of the same in-memory body, as the reference's Go `cli` does. It records
 * every request's latency and outcome and returns them summarised; rendering is someone else's job.
 */
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { RequestLog, type StatusGroup } from './request-log.js';
import { createWorkerDispatcher, targetTls } from './worker-dispatcher.js';

export interface BenchClientOptions {
  /** URL every request is POSTed to. */
  target: string | URL;
  /** Forward proxy, `http://host:port`. Default: none, connect directly. */
  proxy?: string | URL | undefined;
  /** Concurrent workers, one connection each. Default 1. */
  connections?: number;
  /** Sequential requests per worker. Default 1. */
  requestsPerConnection?: number;
  /** The request body, sent as is (the same Buffer) with every request. */
  body: Buffer;
  /** Skip verification of the target's TLS certificate. Default false. */
  insecure?: boolean;
  /** Extra CA (PEM) trusted for the target. */
  caPem?: string | undefined;
  /** Per-request bound on connect, response head and each body gap, in ms. Default 30,000. */
  timeoutMs?: number;
  /** Untimed, unrecorded requests each worker sends first, so the run excludes connection setup. Default 0. */
  warmupRequests?: number;
  /** Updated as requests finish, for a progress display. */
  progress?: BenchProgress;
  /**
   * Awaited once the warm-up is done, just before the timed requests start; the function it resolves to is awaited
   * as soon as the last timed request has finished, before the connections close. For what a caller measures on
   * the side (`npm run bench` reads the proxy's CPU time), so that it covers exactly the timed requests.
   */
  onTimedPhase?: () => Promise<() => Promise<void>>;
}

/** Live count of finished timed requests; `completed` is only ever incremented. */
export interface BenchProgress {
  completed: number;
}

/** Latency percentiles (nearest rank over every timed request) and mean, in seconds. */
export interface LatencyStats {
  p50: number;
  p90: number;
  p99: number;
  mean: number;
}

export interface BenchResult {
  /** The `api` label: the target's path. */
  api: string;
  /** Size of the body posted per request. */
  bodyBytes: number;
  /** Wall time of the timed requests, from the first sent to the last finished. */
  elapsedSeconds: number;
  requests: number;
  /** Requests that did not get a 2xx response (error statuses and failures without a response). */
  errors: number;
  requestsPerSecond: number;
  latency: LatencyStats;
  /**
   * Body bytes of the timed requests the server accepted (answered 2xx): the sum of `api_post_bytes_total`. The
   * reference counts every request's body whatever became of it, so a run that failed throughout still reported
   * gigabytes "posted"; a throughput computed from bytes nobody took is not one.
   */
  bytesPosted: number;
  /** Requests per status label (`200 OK`, or an error message). */
  statuses: Record<string, number>;
  /** Raw latencies per status label, for the Prometheus summary. */
  groups: StatusGroup[];
}

export async function runBenchClient(options: BenchClientOptions): Promise<BenchResult> {
  const target = new URL(options.target);
  const proxy = options.proxy === undefined ? undefined : new URL(options.proxy);
  const connections = options.connections ?? 1;
  const perConnection = options.requestsPerConnection ?? 1;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const progress = options.progress ?? { completed: 0 };
  if (!Number.isSafeInteger(connections) || connections < 1) throw new RangeError('connections must be an integer >= 1');
  if (!Number.isSafeInteger(perConnection) || perConnection < 1) {
    throw new RangeError('requestsPerConnection must be an integer >= 1');
  }

  const tls = targetTls({ insecure: options.insecure, caPem: options.caPem });
  const dispatchers = Array.from({ length: connections }, () => createWorkerDispatcher({ target, proxy, tls, timeoutMs }));
  const requestFor = (): Dispatcher.DispatchOptions => ({
    origin: target.origin,
    path: `${target.pathname}${target.search}`,
    method: 'POST',
    headers: { 'content-type': 'text/plain', 'user-agent': 'egress-proxy-bench' },
    body: options.body,
  });

  const log = new RequestLog(connections * perConnection);
  let elapsedNs: bigint;
  try {
    const warmups = options.warmupRequests ?? 0;
    if (warmups > 0) {
      await Promise.all(dispatchers.map((d) => warmUp(d, requestFor(), warmups)));
    }
    const timedPhaseEnded = await options.onTimedPhase?.();
    const started = process.hrtime.bigint();
    await Promise.all(
      dispatchers.map((d, w) => runWorker(d, requestFor(), log, w * perConnection, perConnection, progress)),
    );
    elapsedNs = process.hrtime.bigint() - started;
    await timedPhaseEnded?.();
  } finally {
    await Promise.all(dispatchers.map((d) => d.destroy().catch(() => undefined)));
  }

  return summarise(log, Number(elapsedNs) / 1e9, target.pathname, options.body.length);
}

async function warmUp(dispatcher: Dispatcher, request: Dispatcher.DispatchOptions, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    // A failed warm-up request is not an error of the run: the timed requests will meet the same problem.
    await postOnce(dispatcher, request).catch(() => undefined);
  }
}

async function runWorker(
  dispatcher: Dispatcher,
  request: Dispatcher.DispatchOptions,
  log: RequestLog,
  firstSlot: number,
  count: number,
  progress: BenchProgress,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    try {
      const statusCode = await postOnce(dispatcher, request);
      log.recordResponse(firstSlot + i, statusCode, performance.now() - start);
    } catch (err) {
      log.recordError(firstSlot + i, err, performance.now() - start);
    }
    progress.completed++;
  }
}

/**
 * Sends one request and resolves with its status once the whole response body has arrived (and been dropped).
 * A raw dispatch handler rather than `request()`: no body stream object per request, nothing buffered.
 */
function postOnce(dispatcher: Dispatcher, request: Dispatcher.DispatchOptions): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let statusCode = 0;
    dispatcher.dispatch(request, {
      // Its presence is how undici tells this handler style from the legacy one.
      onRequestStart() {},
      onResponseStart(_controller, code) {
        statusCode = code;
      },
      onResponseData() {},
      onResponseEnd() {
        resolve(statusCode);
      },
      onResponseError(_controller, err) {
        reject(err);
      },
    });
  });
}

function summarise(log: RequestLog, elapsedSeconds: number, api: string, bodyBytes: number): BenchResult {
  const groups = log.groups();
  const statuses: Record<string, number> = {};
  let errors = 0;
  let accepted = 0;
  for (const group of groups) {
    statuses[group.status] = group.latenciesSeconds.length;
    if (group.ok) accepted += group.latenciesSeconds.length;
    else errors += group.latenciesSeconds.length;
  }
  const requests = log.capacity;
  return {
    api,
    bodyBytes,
    elapsedSeconds,
    requests,
    errors,
    requestsPerSecond: elapsedSeconds > 0 ? requests / elapsedSeconds : 0,
    latency: latencyStats(groups),
    bytesPosted: accepted * bodyBytes,
    statuses,
    groups,
  };
}

function latencyStats(groups: StatusGroup[]): LatencyStats {
  const all = new Float64Array(groups.reduce((n, g) => n + g.latenciesSeconds.length, 0));
  let offset = 0;
  let sum = 0;
  for (const group of groups) {
    all.set(group.latenciesSeconds, offset);
    offset += group.latenciesSeconds.length;
    for (const v of group.latenciesSeconds) sum += v;
  }
  all.sort();
  const rank = (q: number): number => (all.length === 0 ? 0 : (all[Math.max(0, Math.ceil(q * all.length) - 1)] as number));
  return { p50: rank(0.5), p90: rank(0.9), p99: rank(0.99), mean: all.length === 0 ? 0 : sum / all.length };
}
