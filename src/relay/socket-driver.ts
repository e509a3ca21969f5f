/**
 * The thin socket side of one client connection's relay: socket events in as RelayEvents, RelayIo effects out as
 * socket operations. All the HTTP is in the state machine (connection-relay.ts, exchange.ts); this file only knows
 * sockets: listeners, writes and their backpressure, ends, resets, and the upstream connection of the moment
 * (taken from the pool or dialled, then parked or closed).
 *
 * The client socket is a TCP socket (the proxy port) or a TLS socket over one (an intercepted tunnel); resets go
 * to the TCP socket underneath, since TLS has no reset of its own.
 */
import type net from 'node:net';
import { lingerThenClose } from './error-response.js';
import { ConnectionRelay } from './connection-relay.js';
import type { ConnectionContext } from './guards.js';
import { addListeners } from './listeners.js';
import type { RelayEngine } from './relay-engine.js';
import type { RelayIo } from './relay-io.js';
import type { Route } from './route.js';
import type { HandOverDecision } from './routing.js';
import { corkUntilNextTick } from './socket-writes.js';
import { UpstreamConnection, type UpstreamHolder } from './upstream-connection.js';
import type { DialTarget } from './upstream-dialer.js';

export class SocketDriver implements RelayIo, UpstreamHolder {
  readonly relay: ConnectionRelay;
  readonly #socket: net.Socket;
  readonly #tcpSocket: net.Socket;
  readonly #client: ConnectionContext;
  readonly #engine: RelayEngine;
  readonly #detachClient: () => void;
  #upstream: UpstreamConnection | undefined;
  #abandonDial: (() => void) | undefined;
  #origin = '';

  constructor(socket: net.Socket, tcpSocket: net.Socket, route: Route, client: ConnectionContext, engine: RelayEngine) {
    this.#socket = socket;
    this.#tcpSocket = tcpSocket;
    this.#client = client;
    this.#engine = engine;
    const relay = new ConnectionRelay(route, client, this, engine);
    this.relay = relay;
    this.#detachClient = addListeners(socket, {
      data: (data: Buffer) => relay.clientData(data),
      end: () => relay.clientEnd(),
      close: () => {
        relay.clientClosed();
        this.#engine.forget(this);
      },
      error: () => socket.destroy(),
      drain: () => relay.clientDrained(),
    });
  }

  /** Closes the socket now (the end of a drain). */
  destroy(): void {
    this.#socket.destroy();
  }

  writeClient(data: Buffer | string): boolean {
    const socket = this.#socket;
    if (socket.destroyed) return true;
    // Heads are latin1 text (the bytes as they came, obs-text included), never re-encoded as UTF-8.
    return socket.write(data, 'latin1');
  }

  corkClient(): void {
    corkUntilNextTick(this.#socket);
  }

  pauseClient(): void {
    this.#socket.pause();
  }

  resumeClient(): void {
    if (!this.#socket.destroyed) this.#socket.resume();
  }

  finishClient(): void {
    this.#socket.end();
    lingerThenClose(this.#socket);
  }

  halfCloseClient(): void {
    this.#socket.end();
  }

  closeClient(): void {
    this.#socket.destroy();
  }

  resetClient(): void {
    const tcp = this.#tcpSocket;
    try {
      // A RST, not a FIN: a client reading a body that runs until the close would take a FIN for its end.
      if (!tcp.destroyed) tcp.resetAndDestroy();
    } catch {
      tcp.destroy();
    }
    this.#socket.destroy();
  }

  handOver(decision: HandOverDecision, rest: Buffer): void {
    // Nothing here touches the socket again: it is the tunnel's.
    this.#detachClient();
    this.#engine.forget(this);
    this.#engine.handOver(this.#socket, decision, rest, this.#client);
  }

  openUpstream(target: DialTarget, origin: string, fresh: boolean): void {
    this.#origin = origin;
    if (!fresh) {
      const pooled = this.#engine.pool.take(origin);
      if (pooled !== undefined) {
        pooled.holdBy(this);
        this.#upstream = pooled;
        this.relay.upstreamOpened(true);
        return;
      }
    }
    this.#abandonDial = this.#engine.dialer.dial(target, (err, socket) => {
      this.#abandonDial = undefined;
      if (socket === undefined) {
        this.relay.upstreamFailed(err ?? new Error('no connection'));
        return;
      }
      this.#upstream = new UpstreamConnection(socket, this);
      this.relay.upstreamOpened(false);
    });
  }

  writeUpstream(data: Buffer | string): boolean {
    const socket = this.#upstream?.socket;
    if (socket === undefined || socket.destroyed || !socket.writable) return true;
    return socket.write(data, 'latin1');
  }

  pauseUpstream(): void {
    this.#upstream?.socket.pause();
  }

  resumeUpstream(): void {
    const socket = this.#upstream?.socket;
    if (socket !== undefined && !socket.destroyed) socket.resume();
  }

  halfCloseUpstream(): void {
    this.#upstream?.socket.end();
  }

  releaseUpstream(reusable: boolean): void {
    if (this.#abandonDial !== undefined) {
      this.#abandonDial();
      this.#abandonDial = undefined;
    }
    const upstream = this.#upstream;
    if (upstream === undefined) return;
    this.#upstream = undefined;
    // Parked connections must flow: the pool drops one that says anything between requests.
    if (upstream.socket.isPaused()) upstream.socket.resume();
    if (!reusable || !this.#engine.pool.park(this.#origin, upstream, this.relay.time)) upstream.close();
  }

  // UpstreamHolder: the events of the upstream connection this driver holds (none from one it has let go).
  upstreamData(connection: UpstreamConnection, data: Buffer): void {
    if (connection === this.#upstream) this.relay.upstreamData(data);
  }
  upstreamEnd(connection: UpstreamConnection): void {
    if (connection === this.#upstream) this.relay.upstreamEnd();
  }
  upstreamClosed(connection: UpstreamConnection, err: Error | undefined): void {
    if (connection === this.#upstream) this.relay.upstreamClosed(err);
  }
  upstreamDrained(connection: UpstreamConnection): void {
    if (connection === this.#upstream) this.relay.upstreamDrained();
  }
}
