/**
 * CONNECT tunnels (RFC 9110 §9.3.6): dial the target, answer `200 Connection established`, then relay bytes
 * both ways until each side has closed, natively or in JavaScript (tunnel-relay.ts). Half-close is kept: a client
 * that shuts down its sending side still gets the rest of the server's answer. This file owns what comes before
 * the relay (dialling, the connect timeout, the error answers) and the tunnel's record for the log and metrics.
 *
 * An open tunnel is one ConnectTunnel object, the relay's own state and the client's socket. Thousands of them sit
 * idle on a busy proxy (issue 13: at most 8 KB each), so what only the dial needs is dropped once the tunnel is
 * up, and the listeners are methods bound once per tunnel rather than closures over the whole dial.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { RejectError, UpstreamConnectTimeoutError, toUpstreamError, type UpstreamError } from '../errors.js';
import { writeRawErrorResponse, writeRawRefusal } from '../relay/error-response.js';
import type { ExchangeObservers } from '../relay/exchange-records.js';
import type { ProxyTarget } from '../relay/request-target.js';
import type { ConnectionTracker, TrackedTunnel } from '../relay/connection-tracker.js';
import type { TunnelSocketOptions } from '../relay/upstream-dialer.js';
import type { EarlyClientData } from './early-client-data.js';
import type { PreparedRelay, TunnelByteCounts, TunnelOwner, TunnelRelay } from './tunnel-relay.js';
import { tunnelRelay } from './tunnel-relay-selection.js';
import { relayInJavaScript } from './js-tunnel-relay.js';
import { connectThroughParent, type ParentOverhead } from '../relay/parent-connect.js';
import type { ParentProxy } from '../relay/parent-proxy.js';
import { LiveTunnelBytes, type TunnelBytesCount } from '../relay/live-tunnel-bytes.js';

export { CONNECT_ESTABLISHED } from './tunnel-relay.js';

export interface TunnelContext {
  clientIp: string;
  observers: ExchangeObservers;
  tracker: ConnectionTracker;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  /**
   * The upstream socket for the target, connected once its address is resolved and checked (the engine's dialer:
   * UpstreamDialer.tunnelSocket); a refusal is its 'error'.
   */
  upstreamSocket: (options: TunnelSocketOptions) => Socket;
  /** How the bytes move once the tunnel is up; undefined means the process's choice (tunnel-relay-selection.ts). */
  relay?: TunnelRelay;
  /**
   * The parent proxy `upstreamSocket` connects to instead of the target (UpstreamDialer.parentFor): once connected,
   * it is asked for the tunnel.
   */
  parent?: ParentProxy | undefined;
}

/**
 * The relay of a tunnel through a parent proxy: the JavaScript one, reading the upstream with `data` events (the
 * parent's answer to our CONNECT is read that way first, and what came after it was put back on the socket, which
 * a relay that takes the descriptor would never see). Its byte counts are the upstream socket's, so the CONNECT
 * exchange is subtracted from them (see ConnectTunnel#established).
 */
const PARENT_TUNNEL_RELAY: TunnelRelay = {
  name: 'js',
  detail: 'JavaScript relay, through the upstream proxy',
  prepare: () => ({ start: (tunnel) => relayInJavaScript(tunnel, { answered: false }) }),
};

/**
 * Opens a TCP connection to `target` and relays it to `clientSocket`. What the client sent before the tunnel
 * existed (a pipelined TLS ClientHello) is held in `early` and goes upstream first.
 */
export function openTunnel(clientSocket: Duplex, early: EarlyClientData, target: ProxyTarget, ctx: TunnelContext): void {
  ConnectTunnel.open(clientSocket, early, target, ctx);
}

/** What only the dial needs: dropped once the tunnel is up (or has failed). */
interface Dial {
  early: EarlyClientData;
  relay: PreparedRelay;
  timer: NodeJS.Timeout;
  idleTimeoutMs: number;
}

class ConnectTunnel implements TunnelOwner, TrackedTunnel {
  readonly #client: Duplex;
  /** The upstream socket, until a relay that took its descriptor lets go of it (what outlives the dial would keep it). */
  #upstream: Socket | undefined;
  readonly #clientIp: string;
  readonly #authority: string;
  /** What failures name: the origin, and (never the parent's address) that it was reached through a parent. */
  readonly #named: string;
  readonly #observers: ExchangeObservers;
  readonly #tracker: ConnectionTracker;
  readonly #started = performance.now();
  #dial: Dial | undefined;
  #counts: TunnelByteCounts | undefined;
  #failure: UpstreamError | undefined;
  #rejected: RejectError | undefined;
  #closed = 0;
  #reported = false;
  /** What countBytesSoFar has handed to the metrics already; the close reports only the rest to them. */
  readonly #live = new LiveTunnelBytes();

  static open(client: Duplex, early: EarlyClientData, target: ProxyTarget, ctx: TunnelContext): void {
    const tunnel = new ConnectTunnel(client, target, ctx);
    tunnel.#connect(early, ctx);
  }

  private constructor(client: Duplex, target: ProxyTarget, ctx: TunnelContext) {
    this.#client = client;
    this.#clientIp = ctx.clientIp;
    this.#authority = target.authority;
    this.#named = ctx.parent === undefined ? target.authority : `${target.authority} through the upstream proxy`;
    this.#observers = ctx.observers;
    this.#tracker = ctx.tracker;
  }

  #connect(early: EarlyClientData, ctx: TunnelContext): void {
    const parent = ctx.parent;
    const relay = (ctx.relay ?? (parent === undefined ? tunnelRelay() : PARENT_TUNNEL_RELAY)).prepare();
    const socket = ctx.upstreamSocket({ allowHalfOpen: true, ...(relay.upstreamOnread ? { onread: relay.upstreamOnread } : {}) });
    this.#upstream = socket;
    this.#tracker.addTunnel(this);
    const timeoutMs = ctx.connectTimeoutMs;
    this.#dial = {
      early,
      relay,
      idleTimeoutMs: ctx.idleTimeoutMs,
      timer: setTimeout(() => {
        this.#upstream?.destroy(new UpstreamConnectTimeoutError(this.#authority, `connect timed out after ${timeoutMs} ms`));
      }, timeoutMs),
    };
    // Closures made here, not methods bound per instance: the upstream's go with the upstream socket (which the
    // native relay lets go of), and the client's two are all an open tunnel keeps. `on`, not `once`, for events
    // that come once anyway: `once` adds a wrapper and a record per listener.
    if (parent === undefined) socket.once('connect', () => this.#established(socket, undefined));
    else
      socket.once('connect', () => {
        connectThroughParent(socket, parent, this.#authority, this.#named, (err, overhead) => {
          if (err !== undefined) socket.destroy(err);
          else this.#established(socket, overhead);
        });
      });
    socket.on('error', (err: Error) => this.#onUpstreamError(err));
    socket.on('close', () => this.#onClose());
    this.#client.on('error', () => this.#onClientError());
    this.#client.on('close', () => this.#onClientClose());
  }

  /** TrackedTunnel: a drain's deadline. */
  destroy(): void {
    this.#client.destroy();
    this.#upstream?.destroy();
  }

  /** TrackedTunnel: the bytes relayed since the last metrics read. */
  countBytesSoFar(count: TunnelBytesCount): void {
    const counts = this.#counts;
    if (counts === undefined || this.#reported) return;
    this.#live.countSince(counts.fromClient(), counts.toClient(), false, count);
  }

  // TunnelOwner
  upstreamFailed(err: Error): void {
    this.#failure ??= toUpstreamError(err, this.#named);
  }

  upstreamReleased(): void {
    // The tunnel is the client's socket from here on: destroying it (a drain's deadline) ends the relay.
    this.#upstream = undefined;
  }

  #endDial(): Dial | undefined {
    const dial = this.#dial;
    this.#dial = undefined;
    if (dial) clearTimeout(dial.timer);
    return dial;
  }

  #established(upstream: Socket, overhead: ParentOverhead | undefined): void {
    const dial = this.#endDial()!;
    if (this.#client.destroyed) {
      upstream.destroy();
      return;
    }
    const counts = dial.relay.start({
      client: this.#client,
      pipelined: dial.early.release(),
      upstream,
      idleTimeoutMs: dial.idleTimeoutMs,
      owner: this,
    });
    this.#counts =
      overhead === undefined
        ? counts
        : { fromClient: () => counts.fromClient() - overhead.written, toClient: () => counts.toClient() - overhead.read };
  }


  #onUpstreamError(err: Error): void {
    this.#endDial()?.early.release();
    // Once established, the relay answers a failure (it resets the client); this only keeps it for the record.
    if (this.#counts) {
      this.upstreamFailed(err);
      return;
    }
    if (err instanceof RejectError) {
      // The dialer refused every address the target has (the destination policy, or this proxy itself).
      this.#rejected = err;
      writeRawRefusal(this.#client, err);
      return;
    }
    this.upstreamFailed(err);
    const failure = this.#failure!;
    writeRawErrorResponse(this.#client, failure.statusCode, failure.publicMessage, failure.code);
  }

  #onClientError(): void {
    if (!this.#counts) this.#upstream?.destroy();
  }

  #onClientClose(): void {
    if (!this.#counts) this.#upstream?.destroy();
    this.#onClose();
  }

  // Before the tunnel is up, either side closing ends it; after, the relay closes both, and it is over when both
  // have closed.
  #onClose(): void {
    if (++this.#closed === 2 || !this.#counts) this.#report();
  }

  #report(): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#tracker.removeTunnel(this);
    const counts = this.#counts;
    const failure = this.#failure;
    const rejected = this.#rejected;
    this.#observers.onTunnel({
      clientIp: this.#clientIp,
      target: this.#authority,
      // 499 (nginx's "client closed request"): the client left before the tunnel was established.
      statusCode: counts ? 200 : (rejected?.statusCode ?? failure?.statusCode ?? 499),
      errorCode: rejected?.code ?? failure?.code,
      upstreamFailure: failure?.reason,
      intercepted: false,
      bytesFromClient: counts?.fromClient() ?? 0,
      bytesToClient: counts?.toClient() ?? 0,
      bytesCountedLive: this.#live.counted,
      durationSeconds: (performance.now() - this.#started) / 1000,
    });
  }
}
