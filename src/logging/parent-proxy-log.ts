/**
 * The log line for a parent proxy (`proxy.upstream_proxy`) that refuses us: an operator's problem (credentials in
 * the config, the parent's policy) that every client sees only as a 502, so it is said in the log whatever
 * `verbose` is. A refusing parent refuses every request, and the log must not grow with the traffic: the lines go
 * through the proxy's rate-limited log (rate-limited-log.ts), at most one a minute per kind of refusal, the next one
 * saying how many were left out.
 */
import type { RateLimitedLog } from './rate-limited-log.js';
import type { ExchangeObserver, HttpExchangeRecord, TunnelRecord } from '../relay/exchange-records.js';

/** Per error code: the rate-limited log's reason, and the line. */
const REFUSALS: Record<string, { reason: string; message: string }> = {
  EPROXY_PARENT_PROXY_AUTH: {
    reason: 'parent_proxy_auth',
    message: 'the upstream proxy refused our credentials (407): check the user and password in proxy.upstream_proxy',
  },
  EPROXY_PARENT_PROXY_REFUSED: {
    reason: 'parent_proxy_refused',
    message: 'the upstream proxy refused a CONNECT: see its policy for the target',
  },
};

export class ParentProxyLog implements ExchangeObserver {
  readonly #log: RateLimitedLog;
  readonly #parent: string;

  /** `parent` is the parent's display form (no credentials). */
  constructor(log: RateLimitedLog, parent: string) {
    this.#log = log;
    this.#parent = parent;
  }

  onHttpExchange(record: HttpExchangeRecord): void {
    this.#seen(record.errorCode, record.origin);
  }

  onTunnel(record: TunnelRecord): void {
    this.#seen(record.errorCode, record.target);
  }

  #seen(code: string | undefined, target: string): void {
    if (code === undefined) return;
    const refusal = REFUSALS[code];
    if (refusal === undefined) return;
    this.#log.error(refusal.reason, { upstream_proxy: this.#parent, target, code }, refusal.message);
  }
}
