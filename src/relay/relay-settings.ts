/**
 * The settings a reload may change, in one holder: the listener reads them at each accept, a connection at each
 * request head, so swapping the holder's value (a SIGHUP, `RunningProxy.reconfigure`) applies to new connections and
 * new requests at once and leaves everything in flight as it began: a request keeps the timeouts and guards it
 * was admitted with, an open connection the allow-list it was accepted under.
 *
 * What is not here needs a restart: listen addresses, MITM on or off (the CA and its certificate cache), the
 * admin listener.
 */
import type { LimitsConfig, TimeoutsConfig } from '../config/proxy-config.js';
import type { DestinationPolicy } from '../policy/destination-policy.js';
import type { ExchangeObservers } from './exchange-records.js';
import type { ConnectionGuard, RequestGuard } from './guards.js';
import type { ProxyTarget } from './request-target.js';
import type { ParentProxy } from './parent-proxy.js';

/** Which CONNECTs are decrypted (MITM's intercept and pass-through host lists). */
export interface InterceptionPolicy {
  shouldIntercept(target: ProxyTarget): boolean;
}

export interface RelaySettings {
  readonly timeouts: TimeoutsConfig;
  readonly limits: LimitsConfig;
  /** Checked in order once per client connection, at accept. */
  readonly connectionGuards: readonly ConnectionGuard[];
  /** Checked in order once per request head (CONNECT included). */
  readonly requestGuards: readonly RequestGuard[];
  /** Where exchange, tunnel and reject records go (metrics; the access log when verbose). */
  readonly observers: ExchangeObservers;
  /** Undefined with MITM off: every CONNECT is tunnelled. */
  readonly interception: InterceptionPolicy | undefined;
  /** Where the dialer may connect (`destinations.*`), judged on the address it dials. */
  readonly destinations: DestinationPolicy;
  /**
   * This proxy's Via pseudonym (src/policy/via-token.ts), added to every message it relays and recognised by the
   * Via loop guard. Fixed for the life of the process.
   */
  readonly via: string;
  /** The parent proxy upstream connections go through (`proxy.upstream_proxy`); undefined: none. */
  readonly upstreamProxy?: ParentProxy | undefined;
}

export class LiveSettings {
  #current: RelaySettings;
  readonly #listeners: Array<(settings: RelaySettings) => void> = [];

  constructor(initial: RelaySettings) {
    this.#current = initial;
  }

  get current(): RelaySettings {
    return this.#current;
  }

  /** Swaps in `next` for every connection and request that starts from now on. */
  replace(next: RelaySettings): void {
    this.#current = next;
    for (const listener of this.#listeners) listener(next);
  }

  /** Calls `listener` with each new value (the timeout sweep re-derives its interval from the timeouts). */
  onReplace(listener: (settings: RelaySettings) => void): void {
    this.#listeners.push(listener);
  }
}
