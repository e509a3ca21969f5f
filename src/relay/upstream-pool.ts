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
import type { Socket } from 'node:net';
import { addListeners } from './listeners.js';
import { discardSocket } from './socket-writes.js';
import type { Expiring } from './timeout-sweep.js';

export interface PoolLimits {
  maxIdlePerOrigin: number;
  idleTimeoutMs: number;
}

interface Parked {
  socket: Socket;
  idleSince: number;
  detach: () => void;
}

export class UpstreamPool implements Expiring {
  /** Read at each park and sweep: a reload's new limits apply from then on. */
  readonly #limits: () => PoolLimits;
  readonly #idle = new Map<string, Parked[]>();
  #closed = false;

  constructor(limits: () => PoolLimits) {
    this.#limits = limits;
  }

  /** An idle connection to `origin`, no longer watched by the pool, or undefined. */
  take(origin: string): Socket | undefined {
    const list = this.#idle.get(origin);
    if (list === undefined) return undefined;
    for (let parked = list.pop(); parked !== undefined; parked = list.pop()) {
      parked.detach();
      const { socket } = parked;
      if (!socket.destroyed && socket.writable && socket.readable) {
        if (list.length === 0) this.#idle.delete(origin);
        return socket;
      }
      discardSocket(socket);
    }
    this.#idle.delete(origin);
    return undefined;
  }

  /**
   * Keeps `socket` (with no listeners of its caller left), idle since `idleSince` (the sweep's clock), for the next
   * request to `origin`; false if the pool is full or closed, and the caller closes it.
   */
  park(origin: string, socket: Socket, idleSince: number): boolean {
    const list = this.#idle.get(origin) ?? [];
    if (this.#closed || list.length >= this.#limits().maxIdlePerOrigin || socket.destroyed) return false;
    const parked: Parked = { socket, idleSince, detach: noop };
    const drop = (): void => this.#drop(origin, parked);
    parked.detach = addListeners(socket, { data: drop, end: drop, error: drop, close: drop });
    list.push(parked);
    this.#idle.set(origin, list);
    return true;
  }

  /** Idle connections to `origin` (for tests). */
  idleCount(origin: string): number {
    return this.#idle.get(origin)?.length ?? 0;
  }

  expire(now: number): void {
    const { idleTimeoutMs } = this.#limits();
    for (const [origin, list] of this.#idle) {
      // Oldest first: the list is in parking order.
      while (list.length > 0 && now - (list[0] as Parked).idleSince >= idleTimeoutMs) this.#drop(origin, list[0] as Parked);
    }
  }

  /** Closes every idle connection and parks no more (a drain has begun). */
  close(): void {
    this.#closed = true;
    for (const list of this.#idle.values()) {
      for (const parked of list.splice(0)) {
        parked.detach();
        discardSocket(parked.socket);
      }
    }
    this.#idle.clear();
  }

  #drop(origin: string, parked: Parked): void {
    parked.detach();
    const list = this.#idle.get(origin);
    if (list !== undefined) {
      const index = list.indexOf(parked);
      if (index !== -1) list.splice(index, 1);
      if (list.length === 0) this.#idle.delete(origin);
    }
    discardSocket(parked.socket);
  }
}

function noop(): void {}
