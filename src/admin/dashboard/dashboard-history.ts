/**
 * Samples the metrics source on a fixed interval and keeps the last few minutes in memory, so a page opened now
 * draws the recent past at once, and pushes each new sample to the open pages. Bounded: a fixed number of points
 * (five minutes at one per two seconds: 150 points of ~0.5 KB), and the readings of one latency window. Runs in
 * the process that serves the admin listener, over whatever source it is given (one registry, or a cluster's
 * aggregate).
 */
import type { MetricsSource } from '../metrics-source.js';
import { dashboardDetail, dashboardPoint, type DashboardDetail, type DashboardPoint } from './dashboard-frames.js';
import { DASHBOARD_METRIC_NAMES, readMetrics, type MetricsReading } from './metrics-reading.js';

export interface DashboardHistoryOptions {
  source: MetricsSource;
  /** Default 2000 ms: "every second or two", at half the cost of every second. */
  intervalMs?: number;
  /** How far back a new page sees. Default 5 minutes. */
  historyMs?: number;
  /** Latency quantiles and top-list rates are over this window, like PromQL's `[1m]`. Default 60 s. */
  windowMs?: number;
  /** Called when a sample fails (the source threw); sampling goes on. */
  onError?: (err: unknown) => void;
  /** Clock for tests. Default Date.now. */
  now?: () => number;
}

export interface DashboardUpdate {
  point: DashboardPoint;
  detail: DashboardDetail;
}

export class DashboardHistory {
  readonly intervalMs: number;
  /** How far back the kept points reach. */
  readonly historyMs: number;
  readonly #source: MetricsSource;
  readonly #maxPoints: number;
  readonly #windowMs: number;
  readonly #onError: (err: unknown) => void;
  readonly #now: () => number;
  readonly #points: DashboardPoint[] = [];
  /** Oldest first; spans at most one window plus one interval. */
  readonly #readings: MetricsReading[] = [];
  readonly #listeners = new Set<(update: DashboardUpdate) => void>();
  #latestDetail: DashboardDetail | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sampling: Promise<void> | undefined;

  constructor(options: DashboardHistoryOptions) {
    this.#source = options.source;
    this.intervalMs = options.intervalMs ?? 2000;
    this.historyMs = options.historyMs ?? 300_000;
    this.#maxPoints = Math.ceil(this.historyMs / this.intervalMs);
    this.#windowMs = options.windowMs ?? 60_000;
    this.#onError = options.onError ?? (() => undefined);
    this.#now = options.now ?? Date.now;
  }

  /** Takes a first sample now, then one per interval. The timer does not keep the process alive. */
  start(): void {
    if (this.#timer) return;
    void this.sample();
    this.#timer = setInterval(() => void this.sample(), this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#listeners.clear();
  }

  /** Oldest first. */
  get points(): readonly DashboardPoint[] {
    return this.#points;
  }

  get latestDetail(): DashboardDetail | undefined {
    return this.#latestDetail;
  }

  /** Calls `listener` with every new sample until the returned function is called. */
  subscribe(listener: (update: DashboardUpdate) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** One sample now; a sample still running (a slow aggregated source) is joined rather than overlapped. */
  sample(): Promise<void> {
    this.#sampling ??= this.#takeSample().finally(() => (this.#sampling = undefined));
    return this.#sampling;
  }

  async #takeSample(): Promise<void> {
    let reading: MetricsReading;
    try {
      reading = readMetrics(await this.#source.metricsAsJson(DASHBOARD_METRIC_NAMES), this.#now());
    } catch (err) {
      this.#onError(err);
      return;
    }
    // Rates over at least half an interval: a sample taken on demand right after a scheduled one would otherwise
    // divide by a few milliseconds and show a spike.
    const previous = this.#readings.findLast((r) => reading.t - r.t >= this.intervalMs / 2) ?? this.#readings[0];
    while (this.#readings.length > 1 && reading.t - this.#readings[1]!.t >= this.#windowMs) this.#readings.shift();
    const windowStart = this.#readings[0];
    const point = dashboardPoint(previous, reading, windowStart);
    const detail = dashboardDetail(reading, windowStart);
    this.#readings.push(reading);
    this.#points.push(point);
    if (this.#points.length > this.#maxPoints) this.#points.shift();
    this.#latestDetail = detail;
    for (const listener of this.#listeners) listener({ point, detail });
  }
}
