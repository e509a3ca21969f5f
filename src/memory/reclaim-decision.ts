/**
 * When the proxy gives memory back by itself (idle-memory-reclaimer.ts): after a burst of connections has closed,
 * once the process has gone quiet. A pure function of samples (time, open connections, the process's CPU time), so
 * that tests drive it with a fake clock and fake counts.
 *
 * Why these conditions (docs/memory.md, "Memory after a burst"):
 * - A large drop from the peak since the last reclaim: what a full collection then frees is about proportional to
 *   the connections that closed (7 KB each with the native relay, 23 KB with the JavaScript one), and a process
 *   that allocates keeps collecting by itself; only a burst that ends leaves a heap that nothing will collect.
 * - Quiet: no sample in the last `quietMs` with more connections than the one before it, or with the process
 *   using more than `busyCpuShare` of a core. A full collection stops the event loop for milliseconds; under
 *   load V8 collects on its own schedule anyway, and the freed memory would be reused at once.
 * - At most once per `minIntervalMs`: a proxy whose connection count swings by thousands all day runs it only
 *   that often.
 */

export interface ReclaimPolicy {
  /** How often the reclaimer samples. */
  sampleMs: number;
  /** A drop from the peak this large always counts... */
  largeDrop: number;
  /** ...and one at least this large counts when it is at least half the peak. */
  smallestDrop: number;
  /** How long the process must have been quiet. */
  quietMs: number;
  /** CPU time over wall time, per sample, above which the process is busy (0.05 = 5 % of one core). */
  busyCpuShare: number;
  /** The least time between two reclaims. */
  minIntervalMs: number;
}

export const DEFAULT_RECLAIM_POLICY: ReclaimPolicy = {
  sampleMs: 1000,
  largeDrop: 1000,
  smallestDrop: 100,
  quietMs: 3000,
  busyCpuShare: 0.05,
  minIntervalMs: 30_000,
};

export interface ReclaimSample {
  /** Milliseconds, monotonic. */
  now: number;
  openConnections: number;
  /** The process's user + system CPU time, microseconds. */
  cpuMicros: number;
}

export class ReclaimDecision {
  readonly #policy: ReclaimPolicy;
  #last: ReclaimSample | undefined;
  #peak = 0;
  #busyAt = Number.NEGATIVE_INFINITY;
  #reclaimedAt = Number.NEGATIVE_INFINITY;

  constructor(policy: ReclaimPolicy) {
    this.#policy = policy;
  }

  /** The most connections open at a sample since the last reclaim. */
  get peak(): number {
    return this.#peak;
  }

  /** Takes a sample; true when a reclaim should run now (then call `reclaimed`). */
  observe(sample: ReclaimSample): boolean {
    const policy = this.#policy;
    const last = this.#last;
    this.#last = sample;
    if (last === undefined) {
      // No CPU figure yet: the first sample only sets the baseline (and counts as busy).
      this.#busyAt = sample.now;
    } else {
      const elapsedMicros = (sample.now - last.now) * 1000;
      const cpuShare = elapsedMicros > 0 ? (sample.cpuMicros - last.cpuMicros) / elapsedMicros : Number.POSITIVE_INFINITY;
      if (sample.openConnections > last.openConnections || cpuShare > policy.busyCpuShare) this.#busyAt = sample.now;
    }
    if (sample.openConnections > this.#peak) this.#peak = sample.openConnections;
    const drop = this.#peak - sample.openConnections;
    const large = drop >= policy.largeDrop || (drop >= policy.smallestDrop && drop * 2 >= this.#peak);
    return large && sample.now - this.#busyAt >= policy.quietMs && sample.now - this.#reclaimedAt >= policy.minIntervalMs;
  }

  /** A reclaim ran at `now`: the next one needs a new drop, from what is open now. */
  reclaimed(now: number, openConnections: number): void {
    this.#reclaimedAt = now;
    this.#peak = openConnections;
  }
}
