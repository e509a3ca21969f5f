/**
 * The relay engine: what every HTTP/1.1 client connection of the proxy runs on, plain or decrypted. It owns what
 * the connections share (the live settings, the origins' slots, the upstream pool and dialer, the one timeout
 * sweep, the in-flight bookkeeping) and the set of connections being served, for a drain.
 *
 * A connection is served by `serve(socket, route, ...)`: a SocketDriver binds the socket to a ConnectionRelay, the
 * state machine that does the HTTP. The listener (src/proxy/proxy-server.ts) serves its accepted sockets on the
 * forwarding route; the MITM interceptor (src/mitm/tls-interceptor.ts) serves its decrypted sockets on the
 * intercept route. A CONNECT decided on a connection is carried out by `handOver`, which the listener provides
 * (tunnels and interception are its business, not the engine's).
 */
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { ConnectionTracker } from './connection-tracker.js';
import type { ConnectionContext } from './guards.js';
import { OriginSlots } from './origin-slots.js';
import type { RelayEnvironment } from './relay-environment.js';
import type { LiveSettings, RelaySettings } from './relay-settings.js';
import type { Route } from './route.js';
import type { HandOverDecision } from './routing.js';
import { SocketDriver } from './socket-driver.js';
import { sweepIntervalFor, TimeoutSweep } from './timeout-sweep.js';
import type { UpstreamDialer } from './upstream-dialer.js';
import { UpstreamPool } from './upstream-pool.js';

/** Carries out a Tunnel or Intercept decision: the socket, and what was read behind the CONNECT head, are its. */
export type HandOver = (socket: net.Socket, decision: HandOverDecision, rest: Buffer, client: ConnectionContext) => void;

export interface RelayEngineOptions {
  settings: LiveSettings;
  tracker: ConnectionTracker;
  dialer: UpstreamDialer;
  /** The sweep's clock; a test may give its own. */
  now?: () => number;
}

export class RelayEngine implements RelayEnvironment {
  readonly settings: LiveSettings;
  readonly tracker: ConnectionTracker;
  readonly dialer: UpstreamDialer;
  readonly slots: OriginSlots;
  readonly pool: UpstreamPool;
  readonly sweep: TimeoutSweep;
  readonly now: () => number;
  /** Connections being served as HTTP (not those handed over to tunnels): what a drain closes once idle. */
  readonly #connections = new Set<SocketDriver>();
  #handOver: HandOver = (socket) => socket.destroy();
  #draining = false;
  #running = false;

  constructor(options: RelayEngineOptions) {
    this.settings = options.settings;
    this.tracker = options.tracker;
    this.dialer = options.dialer;
    const settings = this.settings;
    this.slots = new OriginSlots({
      get perOrigin() {
        return settings.current.limits.upstreamMaxSocketsPerHost;
      },
      get perClient() {
        return settings.current.limits.upstreamMaxSocketsPerClient;
      },
    });
    this.pool = new UpstreamPool({
      get maxIdlePerOrigin() {
        return settings.current.limits.upstreamMaxSocketsPerHost;
      },
      get idleTimeoutMs() {
        return settings.current.timeouts.upstreamKeepAliveMs;
      },
    });
    this.now = options.now ?? performance.now.bind(performance);
    this.sweep = new TimeoutSweep(sweepIntervalFor(timeoutValues(this.settings.current)), this.now);
    this.sweep.add(this.pool);
    this.sweep.add(this.slots);
    this.settings.onReplace((next) => {
      if (this.#running) this.sweep.start(sweepIntervalFor(timeoutValues(next)));
    });
  }

  /** Starts the timeout sweep (the listener calls this once it is listening). */
  start(): void {
    this.#running = true;
    this.sweep.start(sweepIntervalFor(timeoutValues(this.settings.current)));
  }

  /** Sets what carries out CONNECT decisions (the listener, once it exists). */
  setHandOver(handOver: HandOver): void {
    this.#handOver = handOver;
  }

  /** Serves `socket` as HTTP/1.1 on `route`. `tcpSocket` is the TCP socket under a TLS one (for resets). */
  serve(socket: net.Socket, route: Route, client: ConnectionContext, tcpSocket: net.Socket = socket): SocketDriver {
    const driver = new SocketDriver(socket, tcpSocket, route, client, this);
    this.#connections.add(driver);
    return driver;
  }

  handOver(socket: net.Socket, decision: HandOverDecision, rest: Buffer, client: ConnectionContext): void {
    this.#handOver(socket, decision, rest, client);
  }

  /** A connection no longer served (closed, or handed over). */
  forget(driver: SocketDriver): void {
    this.#connections.delete(driver);
  }

  isDraining(): boolean {
    return this.#draining;
  }

  /** A graceful stop begins: idle pooled connections close, no more are parked, every response closes its connection. */
  beginDrain(): void {
    this.#draining = true;
    this.pool.close();
    this.closeIdleConnections();
  }

  /** Closes connections between requests now; busy ones close after their response. */
  closeIdleConnections(): void {
    for (const driver of this.#connections) driver.relay.closeWhenIdle();
  }

  /** The end of a drain: whatever is left is closed, and the sweep stops. */
  destroyAll(): void {
    for (const driver of this.#connections) driver.destroy();
    this.sweep.stop();
    this.#running = false;
  }

  /** Connections being served as HTTP now (for tests). */
  get connectionCount(): number {
    return this.#connections.size;
  }
}

function timeoutValues(settings: RelaySettings): number[] {
  const t = settings.timeouts;
  return [t.connectMs, t.upstreamResponseMs, t.clientHeadersMs, t.clientBodyMs, t.clientKeepAliveMs, t.upstreamKeepAliveMs, t.tunnelIdleMs];
}
