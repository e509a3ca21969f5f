/**
 * Idle upstream connections kept for the next request to the same target, so a keep-alive client, or one that
 * opens a connection per upload (curl in a loop, a short-lived agent), reuses a connection (and, for TLS, a
 * verified session) instead of paying a connect and a handshake each time. Plain forwarding keeps one pool
 * (keyed by scheme and authority), the MITM relay another (keyed by the tunnel's authority).
 *
 * Bounded by `limits.upstream_max_sockets_per_host` idle per target and closed after `timeouts.upstream_keep_alive`
 * of idleness, most recently parked first. A parked connection that receives anything, ends or fails is dropped:
 * between requests an upstream has nothing to say.
 */
import type { Socket } from 'node:net';
import { addListeners } from './listeners.js';
import { discardSocket } from './socket-writes.js';

export interface UpstreamConnectionPoolOptions {
  maxIdlePerTarget: number;
  idleTimeoutMs: number;
}

export class UpstreamConnectionPool {
  readonly #options: UpstreamConnectionPoolOptions;
  readonly #idle = new Map<string, Socket[]>();
  readonly #release = new WeakMap<Socket, () => void>();
  #closed = false;

  constructor(options: UpstreamConnectionPoolOptions) {
    this.#options = options;
  }

  /** An idle connection to `target` (`host:port`), no longer watched by the pool, or undefined. */
  take(target: string): Socket | undefined {
    const list = this.#idle.get(target);
    for (let socket = list?.pop(); socket !== undefined; socket = list?.pop()) {
      this.#release.get(socket)?.();
      if (!socket.destroyed && socket.writable && socket.readable) return socket;
      discardSocket(socket);
    }
    return undefined;
  }

  /**
   * Keeps `socket` (idle for `idleForMs` already, with no listeners of its caller left) for the next tunnel to
   * `target`; false if full or already idle too long. The idle limit counts from the connection's last use, not
   * from parking: the upstream's own keep-alive timer started then.
   */
  park(target: string, socket: Socket, idleForMs: number): boolean {
    const list = this.#idle.get(target) ?? [];
    const remainingMs = this.#options.idleTimeoutMs - idleForMs;
    if (this.#closed || list.length >= this.#options.maxIdlePerTarget || socket.destroyed || remainingMs <= 0) return false;
    const drop = (): void => {
      release();
      const index = list.indexOf(socket);
      if (index !== -1) list.splice(index, 1);
      if (list.length === 0 && this.#idle.get(target) === list) this.#idle.delete(target);
      discardSocket(socket);
    };
    const release = (): void => {
      socket.setTimeout(0);
      removeListeners();
      this.#release.delete(socket);
    };
    socket.setTimeout(Math.ceil(remainingMs));
    const removeListeners = addListeners(socket, { timeout: drop, data: drop, end: drop, error: drop, close: drop });
    this.#release.set(socket, release);
    list.push(socket);
    this.#idle.set(target, list);
    return true;
  }

  /** Closes every idle connection and parks no more (a drain has begun). */
  close(): void {
    this.#closed = true;
    for (const list of this.#idle.values()) for (const socket of list.splice(0)) discardSocket(socket);
    this.#idle.clear();
  }
}
