/**
 * Knows what is in flight, so a graceful stop can wait for it and then close exactly what is left. The proxy
 * server lets go of a client connection once it becomes a tunnel (or an intercepted tunnel), so tunnels are
 * tracked here.
 */
import type { Duplex } from 'node:stream';
import type { TunnelBytesCount } from './live-tunnel-bytes.js';

/** A tunnel as the tracker sees it: something in flight that a drain's deadline can end. */
export interface TrackedTunnel {
  /** Ends the tunnel now (both of its sockets). */
  destroy(): void;
  /**
   * The bytes relayed since the last call, for metrics read while the tunnel is open: a DataKit agent keeps one
   * tunnel for hours, and counting its bytes only at the close would show nothing until then.
   */
  countBytesSoFar?(count: TunnelBytesCount): void;
}

export class ConnectionTracker {
  readonly #tunnels = new Set<TrackedTunnel>();
  #requestsInFlight = 0;
  #clientConnections = 0;
  #idleWaiters: Array<() => void> = [];

  get activeTunnels(): number {
    return this.#tunnels.size;
  }

  /** TCP connections from clients open now (idle keep-alive ones and tunnels included). */
  get clientConnections(): number {
    return this.#clientConnections;
  }

  /** Counts a client connection until it closes. */
  trackClientConnection(socket: Duplex): void {
    this.#clientConnections++;
    // One listener shared by every socket, not a closure each: a socket that becomes an idle tunnel keeps its
    // listeners for the tunnel's life (issue 13).
    socket.on('close', this.#clientConnectionClosed);
  }

  readonly #clientConnectionClosed = (): void => {
    this.#clientConnections--;
  };

  get requestsInFlight(): number {
    return this.#requestsInFlight;
  }

  /** A tunnel is open (an object of its own: no closure and record per tunnel); removeTunnel() once it closes. */
  addTunnel(tunnel: TrackedTunnel): void {
    this.#tunnels.add(tunnel);
  }

  /** Every open tunnel's bytes since the last call (TrackedTunnel.countBytesSoFar), for a metrics read. */
  countOpenTunnelBytes(count: TunnelBytesCount): void {
    for (const tunnel of this.#tunnels) tunnel.countBytesSoFar?.(count);
  }

  /** The tunnel is closed (a second call does nothing). */
  removeTunnel(tunnel: TrackedTunnel): void {
    if (this.#tunnels.delete(tunnel)) this.#notifyIfIdle();
  }

  /** A request is in flight until requestEnded() is called for it, once. */
  requestStarted(): void {
    this.#requestsInFlight++;
  }

  /** A request's response is finished or abandoned (call once per requestStarted()). */
  requestEnded(): void {
    this.#requestsInFlight--;
    this.#notifyIfIdle();
  }

  /** Resolves when no request and no tunnel is in flight. */
  whenIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  destroyAllTunnels(): void {
    for (const tunnel of this.#tunnels) tunnel.destroy();
  }

  #isIdle(): boolean {
    return this.#requestsInFlight === 0 && this.#tunnels.size === 0;
  }

  #notifyIfIdle(): void {
    if (!this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
