/**
 * Gives memory back to the system after a burst of connections has closed, once the process has gone quiet
 * (reclaim-decision.ts says when): V8's memory-reducing collection, a second one half a second later, once the
 * N-API finalizers the first scheduled have run (a native tunnel's struct is freed by one; what it kept alive in
 * JavaScript by the collection after), then glibc's malloc_trim(0) (native-memory.ts). Without it an idle proxy
 * keeps a burst's memory until V8 next collects, which a process that allocates nothing may not do for a long time,
 * and glibc keeps freed native memory for good (docs/memory.md).
 *
 * While traffic flows it costs one timer a second that reads a counter and getrusage(2): never a collection.
 */
import type { Logger } from '../logging/logger.js';
import { loadNativeMemory, type NativeMemory } from './native-memory.js';
import { DEFAULT_RECLAIM_POLICY, ReclaimDecision, type ReclaimPolicy } from './reclaim-decision.js';

/** Between the two collections: Node runs the finalizers from an immediate; this leaves room on a loaded machine. */
const FINALIZER_WAIT_MS = 500;

export interface IdleMemoryReclaimerDeps {
  /** Client connections open now (accepted and not yet closed). */
  openConnections: () => number;
  logger: Logger;
  /** Called after each reclaim (the metric). */
  onReclaim?: () => void;
  /** Shorter timings for tests; the defaults otherwise. */
  policy?: Partial<ReclaimPolicy>;
}

/** What one reclaim did (also its debug log line). */
export interface ReclaimReport {
  rssBeforeBytes: number;
  rssAfterBytes: number;
  /** Time spent in the two collections (the event loop stops), not the wait between them. */
  gcMs: number;
  /** Time spent in malloc_trim (the event loop stops too). */
  trimMs: number;
  trimmed: boolean;
}

export class IdleMemoryReclaimer {
  readonly #deps: IdleMemoryReclaimerDeps;
  readonly #policy: ReclaimPolicy;
  readonly #decision: ReclaimDecision;
  readonly #native: NativeMemory | Error;
  #timer: NodeJS.Timeout | undefined;
  #reclaiming = false;

  constructor(deps: IdleMemoryReclaimerDeps) {
    this.#deps = deps;
    this.#policy = { ...DEFAULT_RECLAIM_POLICY, ...deps.policy };
    this.#decision = new ReclaimDecision(this.#policy);
    this.#native = loadNativeMemory();
  }

  /** Samples from now on; does nothing (one debug line) where the native addon is missing. */
  start(): void {
    if (this.#native instanceof Error) {
      this.#deps.logger.debug({ reason: this.#native.message }, 'memory reclaimer off');
      return;
    }
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#sample(), this.#policy.sampleMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sample(): void {
    if (this.#reclaiming) return;
    const cpu = process.cpuUsage();
    const sample = { now: performance.now(), openConnections: this.#deps.openConnections(), cpuMicros: cpu.user + cpu.system };
    if (!this.#decision.observe(sample)) return;
    const peak = this.#decision.peak;
    this.#reclaiming = true;
    this.reclaim().then(
      (report) => {
        this.#reclaiming = false;
        const open = this.#deps.openConnections();
        this.#decision.reclaimed(performance.now(), open);
        if (report === undefined) return;
        this.#deps.onReclaim?.();
        this.#deps.logger.debug(
          {
            connections_peak: peak,
            connections_open: open,
            rss_before_mib: mib(report.rssBeforeBytes),
            rss_after_mib: mib(report.rssAfterBytes),
            gc_ms: tenths(report.gcMs),
            trim_ms: tenths(report.trimMs),
            malloc_trim: report.trimmed,
          },
          'memory reclaimed after connections closed',
        );
      },
      (err: unknown) => {
        this.#reclaiming = false;
        this.#decision.reclaimed(performance.now(), this.#deps.openConnections());
        this.#deps.logger.error({ err }, 'memory reclaim failed');
      },
    );
  }

  /** One reclaim now, whatever the decision (the timer calls it; a test may too). Undefined: no native addon. */
  async reclaim(): Promise<ReclaimReport | undefined> {
    const native = this.#native;
    if (native instanceof Error) return undefined;
    const rssBeforeBytes = process.memoryUsage.rss();
    let started = performance.now();
    native.lowMemoryNotification();
    let gcMs = performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, FINALIZER_WAIT_MS).unref());
    started = performance.now();
    native.lowMemoryNotification();
    gcMs += performance.now() - started;
    started = performance.now();
    const trimmed = native.trimMalloc();
    const trimMs = performance.now() - started;
    return { rssBeforeBytes, rssAfterBytes: process.memoryUsage.rss(), gcMs, trimMs, trimmed };
  }
}

function mib(bytes: number): number {
  return tenths(bytes / 1048576);
}

function tenths(value: number): number {
  return Math.round(value * 10) / 10;
}
