/**
 * The log line for a parent proxy (`proxy.upstream_proxy`) that refuses us: an operator's problem (credentials in
 * the config, the parent's policy) that every client sees only as a 502, so it is said in the log whatever
 * `verbose` is. At most one line a minute per kind of refusal, with how many there were since the last line: a
 * refusing parent refuses every request, and the log must not grow with the traffic.
 */
import type { Logger } from './logger.js';
import type { ExchangeObserver, HttpExchangeRecord, TunnelRecord } from '../relay/exchange-records.js';

const INTERVAL_MS = 60_000;

const MESSAGES: Record<string, string> = {
  EPROXY_PARENT_PROXY_AUTH: 'the upstream proxy refused our credentials (407): check the user and password in proxy.upstream_proxy',
  EPROXY_PARENT_PROXY_REFUSED: 'the upstream proxy refused a CONNECT: see its policy for the target',
};

export class ParentProxyLog implements ExchangeObserver {
  readonly #logger: Logger;
  readonly #parent: string;
  readonly #last = new Map<string, { at: number; since: number }>();
  readonly #now: () => number;

  /** `parent` is the parent's display form (no credentials). */
  constructor(logger: Logger, parent: string, now: () => number = Date.now) {
    this.#logger = logger;
    this.#parent = parent;
    this.#now = now;
  }

  onHttpExchange(record: HttpExchangeRecord): void {
    this.#seen(record.errorCode, record.origin);
  }

  onTunnel(record: TunnelRecord): void {
    this.#seen(record.errorCode, record.target);
  }

  #seen(code: string | undefined, target: string): void {
    if (code === undefined) return;
    const message = MESSAGES[code];
    if (message === undefined) return;
    const now = this.#now();
    const last = this.#last.get(code);
    if (last !== undefined && now - last.at < INTERVAL_MS) {
      last.since++;
      return;
    }
    this.#logger.error({ upstream_proxy: this.#parent, target, code, more_since_last_line: last?.since ?? 0 }, message);
    this.#last.set(code, { at: now, since: 0 });
  }
}
