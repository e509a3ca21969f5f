/**
 * When to restart a crashed worker: at once would turn a worker that dies at every start (a bad disk, a bug hit by
 * the first request) into a fork loop eating the CPU the healthy workers need. The delay doubles with each crash in
 * a row, from `initialMs` up to `maxMs`, and a worker that served for `stableMs` before dying starts the count over.
 */
export interface RestartBackoffOptions {
  initialMs?: number;
  maxMs?: number;
  stableMs?: number;
}

export class RestartBackoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #stableMs: number;
  #crashesInARow = 0;

  constructor(options: RestartBackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? 1000;
    this.#maxMs = options.maxMs ?? 30_000;
    this.#stableMs = options.stableMs ?? 60_000;
  }

  /** The delay before restarting a worker that crashed after `uptimeMs`. */
  delayAfterCrash(uptimeMs: number): number {
    this.#crashesInARow = uptimeMs >= this.#stableMs ? 1 : this.#crashesInARow + 1;
    return Math.min(this.#maxMs, this.#initialMs * 2 ** (this.#crashesInARow - 1));
  }
}
