/**
 * Knows what is in flight, so a graceful stop can wait for it and then close exactly what is left. The proxy
 * server lets go of a client connection once it becomes a tunnel (or an intercepted tunnel), so tunnels are
 * tracked here.
 */
import type { Duplex } from 'node:stream';

interface Tunnel {
  client: Duplex;
  upstream: Duplex;
}

export class ConnectionTracker {
  readonly #tunnels = new Set<Tunnel>();
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
    socket.once('close', () => this.#clientConnections--);
  }

  get requestsInFlight(): number {
    return this.#requestsInFlight;
  }

  /** Returns the function to call once the tunnel is closed. */
  trackTunnel(client: Duplex, upstream: Duplex): () => void {
    const tunnel = { client, upstream };
    this.#tunnels.add(tunnel);
    return () => {
      if (this.#tunnels.delete(tunnel)) this.#notifyIfIdle();
    };
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
    for (const { client, upstream } of this.#tunnels) {
      client.destroy();
      upstream.destroy();
    }
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
