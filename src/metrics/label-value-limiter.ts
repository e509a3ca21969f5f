/**
 * Caps the number of distinct values a metric label can take. Every distinct value is a time series kept in
 * memory for the life of the process and in the monitoring system after it: a client hitting random paths or a
 * large fleet of clients must not turn the metrics endpoint into a memory leak. The first `max` values are kept
 * as they are; later new ones are reported as `other`.
 */
export const OVERFLOW_LABEL = 'other';

export class LabelValueLimiter {
  readonly #max: number;
  readonly #seen = new Set<string>();

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#seen.size;
  }

  value(candidate: string): string {
    if (this.#seen.has(candidate)) return candidate;
    if (this.#seen.size >= this.#max) return OVERFLOW_LABEL;
    this.#seen.add(candidate);
    return candidate;
  }
}
