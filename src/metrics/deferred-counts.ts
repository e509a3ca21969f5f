/**
 * Counter increments made on the hot path as additions to plain numbers, handed to prom-client when the counters
 * are read. prom-client's `inc()` builds a hash string from the label object and validates every label name on each
 * call; a proxied request increments four counters, and that was a measurable part of its CPU (docs/mitm.md). Here
 * each series is a `DeferredCount` made once (its label object included) and kept by the caller, an increment is an
 * addition, and `flush()` passes the sums on with one `inc()` per series that moved.
 *
 * `flush()` must run before any read of the counters: ProxyMetrics gives it as their prom-client `collect` hook,
 * which every read goes through (`registry.metrics()`, `getMetricsAsJSON()` for the cluster, `metric.get()` for the
 * dashboard). A series incremented by 0 is still created at 0 by the flush, as a direct `inc(labels, 0)` would.
 */
import type { Counter } from 'prom-client';

export class DeferredCount<L extends string = string> {
  readonly counter: Counter<L>;
  readonly labels: Readonly<Record<L, string>>;
  /** Not yet handed to the counter. */
  pending = 0;
  /** In the flush list (even at 0: the series must exist once incremented). */
  queued = false;

  constructor(counter: Counter<L>, labels: Record<L, string>) {
    this.counter = counter;
    this.labels = Object.freeze(labels);
  }
}

export class DeferredCounts {
  readonly #queued: DeferredCount[] = [];

  add(count: DeferredCount, value: number): void {
    count.pending += value;
    if (count.queued) return;
    count.queued = true;
    this.#queued.push(count);
  }

  /** Hands every pending increment to its counter. */
  flush(): void {
    const queued = this.#queued;
    for (const count of queued) {
      const value = count.pending;
      count.pending = 0;
      count.queued = false;
      count.counter.inc(count.labels, value);
    }
    queued.length = 0;
  }
}
