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

/** Read at each park and sweep (getters over the live settings: a reload's new limits apply from then on). */
export interface PoolLimits {
  readonly maxIdlePerOrigin: number;
  readonly idleTimeoutMs: number;
}

interface Parked {
  connection: UpstreamConnection;
  origin: string;
  idleSince: number;
}

export class UpstreamPool implements Expiring, UpstreamHolder {
  readonly #limits: PoolLimits;
  readonly #idle = new Map<string, Parked[]>();
  readonly #parked = new Map<UpstreamConnection, Parked>();
  #closed = false;

  constructor(limits: PoolLimits) {
    this.#limits = limits;
  }

  /** An idle connection to `origin`, no longer held by the pool (the caller holds it now), or undefined. */
  take(origin: string): UpstreamConnection | undefined {
    const list = this.#idle.get(origin);
    if (list === undefined) return undefined;
    for (let parked = list.pop(); parked !== undefined; parked = list.pop()) {
      this.#parked.delete(parked.connection);
      if (parked.connection.usable) {
        if (list.length === 0) this.#idle.delete(origin);
        return parked.connection;
      }
      parked.connection.close();
    }
    this.#idle.delete(origin);
    return undefined;
  }

  /**
   * Keeps `connection`, idle since `idleSince` (the sweep's clock), for the next request to `origin`; false if the
   * pool is full or closed, and the caller closes it.
   */
  park(origin: string, connection: UpstreamConnection, idleSince: number): boolean {
    const list = this.#idle.get(origin) ?? [];
    if (this.#closed || list.length >= this.#limits.maxIdlePerOrigin || !connection.usable) return false;
    const parked: Parked = { connection, origin, idleSince };
    connection.holdBy(this);
    list.push(parked);
    this.#idle.set(origin, list);
    this.#parked.set(connection, parked);
    return true;
  }

  /** Idle connections to `origin` (for tests). */
  idleCount(origin: string): number {
    return this.#idle.get(origin)?.length ?? 0;
  }

  expire(now: number): void {
    const { idleTimeoutMs } = this.#limits;
    for (const list of this.#idle.values()) {
      // Oldest first: the list is in parking order.
      while (list.length > 0 && now - (list[0] as Parked).idleSince >= idleTimeoutMs) this.#drop((list[0] as Parked).connection);
    }
  }

  /** Closes every idle connection and parks no more (a drain has begun). */
  close(): void {
    this.#closed = true;
    for (const parked of this.#parked.values()) parked.connection.close();
    this.#parked.clear();
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
    const parked = this.#parked.get(connection);
    if (parked !== undefined) {
      this.#parked.delete(connection);
      const list = this.#idle.get(parked.origin);
      if (list !== undefined) {
        const index = list.indexOf(parked);
        if (index !== -1) list.splice(index, 1);
        if (list.length === 0) this.#idle.delete(parked.origin);
      }
    }
    connection.close();
  }
}
