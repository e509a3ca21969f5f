/**
 * How many failed authentication attempts each client address may make: a token bucket per address holding up to
 * `perMinute` failures and refilled at `perMinute` a minute. A client whose bucket is empty is refused without its
 * credentials being checked (429 with Retry-After), so guessing passwords through the proxy runs at a few guesses a
 * minute and costs no scrypt work. Successes cost nothing and restore nothing: a client that alternates a right and
 * a wrong password still guesses slowly.
 *
 * A check that costs scrypt work takes its token when it starts (`take`), not when it has failed: otherwise a client
 * sending many guesses at once has them all checked before the first failure is counted, and fills the shared queue
 * of checks. A check that succeeds gives its token back (`refund`). An attempt made with the budget spent pushes the
 * balance below zero (down to minus `perMinute`): a client that keeps guessing waits longer, one that stops recovers.
 *
 * The addresses tracked are bounded (least recently failing forgotten first): a flood of source addresses cannot
 * grow the table, at worst it makes the proxy forget an address's earlier failures.
 */
import { LRUCache } from 'lru-cache';

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  at: number;
}

export interface FailureBudgetOptions {
  perMinute: number;
  /** Client addresses remembered at once. Default 10,000. */
  maxClients?: number;
  /** Clock in milliseconds (tests give their own). */
  now?: () => number;
}

export class AuthFailureBudget {
  readonly #capacity: number;
  readonly #refillPerMs: number;
  readonly #buckets: LRUCache<string, Bucket>;
  readonly #now: () => number;

  constructor(options: FailureBudgetOptions) {
    this.#capacity = options.perMinute;
    this.#refillPerMs = options.perMinute / 60_000;
    this.#buckets = new LRUCache({ max: options.maxClients ?? 10_000 });
    this.#now = options.now ?? Date.now;
  }

  /** Undefined when `client` may try; else the seconds until it may try again. */
  retryAfterSeconds(client: string): number | undefined {
    const bucket = this.#buckets.peek(client);
    if (bucket === undefined) return undefined;
    const tokens = this.#refilled(bucket, this.#now());
    return tokens >= 1 ? undefined : (1 - tokens) / this.#refillPerMs / 1000;
  }

  /** Spends one failure of `client`'s budget. */
  recordFailure(client: string): void {
    const now = this.#now();
    const bucket = this.#buckets.get(client);
    const tokens = bucket === undefined ? this.#capacity : this.#refilled(bucket, now);
    this.#buckets.set(client, { tokens: Math.max(0, tokens - 1), at: now });
  }

  /**
   * Takes one token for a check about to start: undefined when there was one; else the seconds until `client` may
   * try again, the attempt counted as debt (see above).
   */
  take(client: string): number | undefined {
    const now = this.#now();
    const bucket = this.#buckets.get(client);
    const tokens = bucket === undefined ? this.#capacity : this.#refilled(bucket, now);
    const left = Math.max(-this.#capacity, tokens - 1);
    this.#buckets.set(client, { tokens: left, at: now });
    return tokens >= 1 ? undefined : (1 - left) / this.#refillPerMs / 1000;
  }

  /** Gives back the token of a check that did not fail (it succeeded, or was never made). */
  refund(client: string): void {
    const bucket = this.#buckets.peek(client);
    if (bucket === undefined) return;
    const now = this.#now();
    this.#buckets.set(client, { tokens: Math.min(this.#capacity, this.#refilled(bucket, now) + 1), at: now });
  }

  #refilled(bucket: Bucket, now: number): number {
    return Math.min(this.#capacity, bucket.tokens + (now - bucket.at) * this.#refillPerMs);
  }
}
