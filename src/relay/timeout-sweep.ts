/**
 * One timer for every timeout of every connection, as Node's HTTP server keeps its connections in one list and
 * sweeps it on one interval (`connectionsCheckingInterval`) instead of arming a timer per socket. A member is
 * anything with a deadline to check: a client connection (headers, body, keep-alive, upstream response, connect,
 * slot wait, switched idle), the upstream pool (idle expiry), an intercepted handshake.
 *
 * A timeout fires between its deadline and one interval later. The interval follows the shortest timeout in use
 * (a tenth of it, between 10 ms and 1 s), so the defaults (4 s and up) are checked a few times a second and a test
 * with 300 ms timeouts still sees them fire within 10 %.
 */
import { performance } from 'node:perf_hooks';

export interface Expiring {
  /** Called on every sweep with the current time (ms, performance.now()'s clock): act on whatever has expired. */
  expire(now: number): void;
}

const MIN_INTERVAL_MS = 10;
const MAX_INTERVAL_MS = 1000;

/** The sweep interval for a set of timeouts (ms): a tenth of the shortest, between 10 ms and 1 s. */
export function sweepIntervalFor(timeoutsMs: Iterable<number>): number {
  let shortest = Infinity;
  for (const ms of timeoutsMs) if (ms > 0 && ms < shortest) shortest = ms;
  return Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, Math.floor(shortest / 10)));
}

export class TimeoutSweep {
  readonly #members = new Set<Expiring>();
  readonly #now: () => number;
  #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(intervalMs: number, now: () => number = () => performance.now()) {
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /** The clock every member's deadlines are measured on. */
  now(): number {
    return this.#now();
  }

  add(member: Expiring): void {
    this.#members.add(member);
  }

  delete(member: Expiring): void {
    this.#members.delete(member);
  }

  get size(): number {
    return this.#members.size;
  }

  /** Starts sweeping (again), every `intervalMs` if given. The timer never keeps the process alive on its own. */
  start(intervalMs = this.#intervalMs): void {
    this.#intervalMs = intervalMs;
    clearInterval(this.#timer);
    this.#timer = setInterval(this.sweep, this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One pass over every member (what the timer runs; tests call it with a time of their own). */
  readonly sweep = (now: number = this.#now()): void => {
    // Members may leave (or others join) while being swept: a Set iterates over that safely.
    for (const member of this.#members) member.expire(now);
  };
}
