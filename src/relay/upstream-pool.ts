/**
 * Idle upstream connections kept for the next request to the same origin, so a keep-alive client, or one that
 * opens a connection per upload (curl in a loop, a short-lived agent), reuses a connection (and, for TLS, a
 * verified session) instead of paying a connect and a handshake each time. One pool for both routes, keyed by
 * `scheme://authority`: an intercepted request to `https://host:443` and a forwarded `https://host/` URI use the
 * same kind of connection (verified TLS, SNI for the name) and may share it.
 *
 * Bounded by `limits.upstream_max_sockets_per_host` idle per origin and closed after `timeouts.upstream_keepalive`
 * of idleness (checked by the timeout sweep), most recently parked first. A parked connection that receives
 * anything, ends or fails is dropped: between requests an upstream has nothing to say.
 */
import type { Expiring } from './timeout-sweep.js';
import type { UpstreamConnection, UpstreamHolder } from './upstream-connection.js';

/** An origin's idle connections, most recently parked last. Kept while the origin is in use (see expire). */
type IdleList = UpstreamConnection[];

/** Read at each park and sweep (getters over the live settings: a reload's new limits apply from then on). */
export interface PoolLimits {
  readonly maxIdlePerOrigin: number;
  readonly idleTimeoutMs: number;
}

export class UpstreamPool implements Expiring, UpstreamHolder {
  readonly #limits: PoolLimits;
  readonly #idle = new Map<string, IdleList>();
  #closed = false;

  constructor(limits: PoolLimits) {
    this.#limits = limits;
  }

  /** An idle connection to `origin`, no longer held by the pool (the caller holds it now), or undefined. */
  take(origin: string): UpstreamConnection | undefined {
    const list = this.#idle.get(origin);
    if (list === undefined) return undefined;
    for (let connection = list.pop(); connection !== undefined; connection = list.pop()) {
      connection.parkedIn = undefined;
      if (connection.usable) return connection;
      connection.close();
    }
    return undefined;
  }

  /**
   * Keeps `connection`, idle since `idleSince` (the sweep's clock), for the next request to `origin`; false if the
   * pool is full or closed, and the caller closes it.
   */
  park(origin: string, connection: UpstreamConnection, idleSince: number): boolean {
    let list = this.#idle.get(origin);
    if (this.#closed || (list !== undefined && list.length >= this.#limits.maxIdlePerOrigin) || !connection.usable) return false;
    if (list === undefined) {
      list = [];
      this.#idle.set(origin, list);
    }
    connection.holdBy(this);
    connection.parkedIn = list;
    connection.idleSince = idleSince;
    list.push(connection);
    return true;
  }

  /** Idle connections to `origin` (for tests). */
  idleCount(origin: string): number {
    return this.#idle.get(origin)?.length ?? 0;
  }

  expire(now: number): void {
    const { idleTimeoutMs } = this.#limits;
    for (const [origin, list] of this.#idle) {
      // Oldest first: the list is in parking order.
      while (list.length > 0 && now - (list[0] as UpstreamConnection).idleSince >= idleTimeoutMs) this.#drop(list[0] as UpstreamConnection);
      if (list.length === 0) this.#idle.delete(origin);
    }
  }

  /** Closes every idle connection and parks no more (a drain has begun). */
  close(): void {
    this.#closed = true;
    for (const list of this.#idle.values()) for (const connection of list.splice(0)) connection.close();
    this.#idle.clear();
  }

  // Between requests an upstream has nothing to say: anything it does ends its stay.
  upstreamData(connection: UpstreamConnection): void {
    this.#drop(connection);
  }
  upstreamEnd(connection: UpstreamConnection): void {
    this.#drop(connection);
  }
  upstreamClosed(connection: UpstreamConnection): void {
    this.#drop(connection);
  }
  upstreamDrained(): void {}

  #drop(connection: UpstreamConnection): void {
    const list = connection.parkedIn;
    connection.parkedIn = undefined;
    const index = list?.indexOf(connection) ?? -1;
    if (index !== -1) list?.splice(index, 1);
    connection.close();
  }
}
