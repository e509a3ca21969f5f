/**
 * Caps the upstream connections plain forwarding holds per origin (`limits.upstream_max_sockets_per_host`),
 * in use and being opened: ten thousand clients of one proxy must not become ten thousand connections to one
 * ingestion endpoint. A request over the cap waits, first come first served, for a slot to be given back.
 */
export class OriginSlots {
  readonly #maxPerOrigin: number;
  readonly #inUse = new Map<string, number>();
  readonly #waiting = new Map<string, Array<() => void>>();

  constructor(maxPerOrigin: number) {
    this.#maxPerOrigin = maxPerOrigin;
  }

  /**
   * Calls `granted` once a slot for `origin` is this caller's: at once when one is free, else when one is given
   * back. Returns what withdraws a request still waiting (a no-op once granted).
   */
  acquire(origin: string, granted: () => void): () => void {
    const used = this.#inUse.get(origin) ?? 0;
    if (used < this.#maxPerOrigin) {
      this.#inUse.set(origin, used + 1);
      granted();
      return () => undefined;
    }
    const queue = this.#waiting.get(origin) ?? [];
    queue.push(granted);
    this.#waiting.set(origin, queue);
    return () => {
      const index = queue.indexOf(granted);
      if (index === -1) return;
      queue.splice(index, 1);
      if (queue.length === 0 && this.#waiting.get(origin) === queue) this.#waiting.delete(origin);
    };
  }

  /** Gives a slot back: to the next waiter for the same origin, if any. */
  release(origin: string): void {
    const queue = this.#waiting.get(origin);
    const next = queue?.shift();
    if (next !== undefined) {
      if (queue!.length === 0) this.#waiting.delete(origin);
      next();
      return;
    }
    const used = (this.#inUse.get(origin) ?? 1) - 1;
    if (used <= 0) this.#inUse.delete(origin);
    else this.#inUse.set(origin, used);
  }

  /** Slots in use for `origin` (for tests and the curious). */
  inUse(origin: string): number {
    return this.#inUse.get(origin) ?? 0;
  }
}
