/**
 * Running out of file descriptors anyway (the cap in force is fitted to the open-files limit at start, see
 * open-files-limit.ts, but ENFILE is the whole system's limit, and other processes share it): one error line a
 * minute, whatever the rate, and a count by operation. `accept`: new connections cannot be taken (found by the
 * probe, descriptor-probe.ts, since libuv drops them unseen on Linux; or a listener's 'error' where a platform
 * emits one); `connect`: an upstream connection could not be opened (the request got a 502), seen in the exchange
 * and tunnel records.
 */
import type { ExchangeObserver, HttpExchangeRecord, TunnelRecord } from '../relay/exchange-records.js';
import type { RateLimitedLog } from '../logging/rate-limited-log.js';
import { isDescriptorExhaustion } from './open-files-limit.js';

const ADVICE = 'out of file descriptors: raise the open-files limit (LimitNOFILE=, ulimit -n) or lower limits.max_client_connections';

export class DescriptorExhaustionLog implements ExchangeObserver {
  readonly #log: RateLimitedLog;
  readonly #countAccept: () => void;

  /** `countAccept` counts an accept failure (upstream ones are counted from the records by the metrics). */
  constructor(log: RateLimitedLog, countAccept: () => void) {
    this.#log = log;
    this.#countAccept = countAccept;
  }

  /**
   * New connections cannot be accepted now (descriptor-probe.ts found every descriptor in use: libuv is dropping
   * them unseen). Reported as an accept failure, for both listeners.
   */
  acceptsDropped(err: NodeJS.ErrnoException): void {
    this.#countAccept();
    this.#log.error('fd_exhausted', { operation: 'accept', code: err.code }, ADVICE);
  }

  /** A listener's 'error' event: true when it was descriptor exhaustion (reported), false for anything else. */
  acceptFailed(err: unknown, listener: 'proxy' | 'admin'): boolean {
    if (!isDescriptorExhaustion(err)) return false;
    this.#countAccept();
    this.#log.error('fd_exhausted', { operation: 'accept', listener, code: (err as NodeJS.ErrnoException).code }, ADVICE);
    return true;
  }

  onHttpExchange(record: HttpExchangeRecord): void {
    if (record.upstreamFailure === 'fd_exhausted') this.#connectFailed(record.origin);
  }

  onTunnel(record: TunnelRecord): void {
    if (record.upstreamFailure === 'fd_exhausted') this.#connectFailed(record.target);
  }

  #connectFailed(target: string): void {
    this.#log.error('fd_exhausted', { operation: 'connect', target }, ADVICE);
  }
}
