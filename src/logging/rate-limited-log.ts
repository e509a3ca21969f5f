/**
 * Warnings and errors that traffic can cause (a refused destination, failed proxy logins, a client that does not
 * trust the MITM CA, running out of file descriptors), written at most once per reason per interval: an attacker
 * who can make the proxy warn must not be able to fill its disk or drown the lines that matter. The first line of a
 * reason is written at once; repeats within the interval are counted, and the next line written for that reason
 * says how many were left out (`suppressed`). Reasons are names from the code, a closed set.
 */
import type { Logger } from './logger.js';

interface ReasonState {
  /** When the last line of this reason was written (ms). */
  writtenAt: number;
  suppressed: number;
}

export interface RateLimitedLogOptions {
  /** At most one line per reason per this. Default 60 s. */
  intervalMs?: number;
  /** Clock in ms (tests give their own). */
  now?: () => number;
  /** Told of every line left out (a metric). */
  onSuppressed?: (reason: string) => void;
}

export class RateLimitedLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #onSuppressed: (reason: string) => void;
  readonly #reasons = new Map<string, ReasonState>();

  constructor(logger: Logger, options: RateLimitedLogOptions = {}) {
    this.#logger = logger;
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    this.#onSuppressed = options.onSuppressed ?? (() => undefined);
  }

  warn(reason: string, fields: Record<string, unknown>, message: string): void {
    this.#write('warn', reason, fields, message);
  }

  error(reason: string, fields: Record<string, unknown>, message: string): void {
    this.#write('error', reason, fields, message);
  }

  #write(level: 'warn' | 'error', reason: string, fields: Record<string, unknown>, message: string): void {
    const now = this.#now();
    const state = this.#reasons.get(reason);
    if (state !== undefined && now - state.writtenAt < this.#intervalMs) {
      state.suppressed++;
      this.#onSuppressed(reason);
      return;
    }
    const suppressed = state?.suppressed ?? 0;
    this.#reasons.set(reason, { writtenAt: now, suppressed: 0 });
    this.#logger[level]({ reason, ...fields, ...(suppressed > 0 ? { suppressed } : {}) }, message);
  }
}
