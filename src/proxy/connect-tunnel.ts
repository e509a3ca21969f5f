/**
 * CONNECT tunnels (RFC 9110 §9.3.6): dial the target, answer `200 Connection established`, then relay bytes
 * both ways until each side has closed, natively or in JavaScript (tunnel-relay.ts). Half-close is kept: a client
 * that shuts down its sending side still gets the rest of the server's answer. This file owns what comes before
 * the relay (dialling, the connect timeout, the error answers) and the tunnel's record for the log and metrics.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { RejectError, UpstreamConnectTimeoutError, toUpstreamError, type UpstreamError } from '../errors.js';
import { writeRawErrorResponse, writeRawRefusal } from '../relay/error-response.js';
import type { ExchangeObservers } from '../relay/exchange-records.js';
import type { ProxyTarget } from '../relay/request-target.js';
import type { ConnectionTracker } from '../relay/connection-tracker.js';
import type { TunnelSocketOptions } from '../relay/upstream-dialer.js';
import type { EarlyClientData } from './early-client-data.js';
import type { PreparedRelay, TunnelByteCounts, TunnelRelay } from './tunnel-relay.js';
import { tunnelRelay } from './tunnel-relay-selection.js';
import { relayInJavaScript } from './js-tunnel-relay.js';
import { connectThroughParent, type ParentOverhead } from '../relay/parent-connect.js';
import type { ParentProxy } from '../relay/parent-proxy.js';

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
 * exchange is subtracted from them (see openTunnel).
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
  const started = performance.now();
  let failure: UpstreamError | undefined;
  let rejected: RejectError | undefined;
  let counts: TunnelByteCounts | undefined;
  let reported = false;

  const parent = ctx.parent;
  // What failures name: the origin, and (never the parent's address) that it was reached through a parent.
  const named = parent === undefined ? target.authority : `${target.authority} through the upstream proxy`;
  const relay = (ctx.relay ?? (parent === undefined ? tunnelRelay() : PARENT_TUNNEL_RELAY)).prepare();
  const socket = ctx.upstreamSocket({ allowHalfOpen: true, ...(relay.upstreamOnread ? { onread: relay.upstreamOnread } : {}) });
  let untrack = ctx.tracker.trackTunnel(clientSocket, socket);
  /**
   * The upstream socket, until a relay that took its descriptor lets go of it: an open tunnel holds as little as
   * it can (issue 13), and what outlives the dial here (the report, the client's listeners) would keep it.
   */
  let upstream: Socket | undefined = socket;

  const report = (): void => {
    if (reported) return;
    reported = true;
    untrack();
    ctx.observers.onTunnel({
      clientIp: ctx.clientIp,
      target: target.authority,
      // 499 (nginx's "client closed request"): the client left before the tunnel was established.
      statusCode: counts ? 200 : (rejected?.statusCode ?? failure?.statusCode ?? 499),
      errorCode: rejected?.code ?? failure?.code,
      upstreamFailure: failure?.reason,
      intercepted: false,
      bytesFromClient: counts?.fromClient() ?? 0,
      bytesToClient: counts?.toClient() ?? 0,
      durationSeconds: (performance.now() - started) / 1000,
    });
  };
  const recordFailure = (err: Error): void => {
    failure ??= toUpstreamError(err, named);
  };

  // What only the dial needs, dropped once the tunnel is up.
  let dialling: { early: EarlyClientData; relay: PreparedRelay; timer: NodeJS.Timeout } | undefined = {
    early,
    relay,
    timer: setTimeout(() => {
      upstream?.destroy(new UpstreamConnectTimeoutError(target.authority, `connect timed out after ${ctx.connectTimeoutMs} ms`));
    }, ctx.connectTimeoutMs),
  };
  const endDial = (): { early: EarlyClientData; relay: PreparedRelay } | undefined => {
    const ended = dialling;
    dialling = undefined;
    if (ended) clearTimeout(ended.timer);
    return ended;
  };

  const established = (upstreamSocket: Socket, overhead: ParentOverhead | undefined): void => {
    const dial = endDial()!;
    if (clientSocket.destroyed) {
      upstreamSocket.destroy();
      return;
    }
    const relayCounts = dial.relay.start({
      client: clientSocket,
      pipelined: dial.early.release(),
      upstream: upstreamSocket,
      idleTimeoutMs: ctx.idleTimeoutMs,
      upstreamFailed: recordFailure,
      upstreamReleased: () => {
        // The tunnel is the client's socket from here on: destroying it (a drain's deadline) ends the relay.
        const tracked = ctx.tracker.trackTunnel(clientSocket, clientSocket);
        untrack();
        untrack = tracked;
        upstream = undefined;
      },
    });
    counts =
      overhead === undefined
        ? relayCounts
        : { fromClient: () => relayCounts.fromClient() - overhead.written, toClient: () => relayCounts.toClient() - overhead.read };
  };
  socket.once('connect', function (this: Socket) {
    if (parent === undefined) return established(this, undefined);
    connectThroughParent(this, parent, target.authority, named, (err, overhead) => {
      if (err !== undefined) this.destroy(err);
      else established(this, overhead);
    });
  });

  socket.on('error', (err) => {
    endDial()?.early.release();
    // Once established, the relay answers a failure (it resets the client); this only keeps it for the record.
    if (counts) return recordFailure(err);
    if (err instanceof RejectError) {
      // The dialer refused every address the target has (the destination policy, or this proxy itself).
      rejected = err;
      writeRawRefusal(clientSocket, err);
      return;
    }
    recordFailure(err);
    writeRawErrorResponse(clientSocket, failure!.statusCode, failure!.publicMessage, failure!.code);
  });
  clientSocket.on('error', () => {
    if (!counts) upstream?.destroy();
  });

  // Before the tunnel is up, either side closing ends it; after, the relay closes both, and it is over when both
  // have closed.
  let closed = 0;
  const onClose = (): void => {
    if (++closed === 2 || !counts) report();
  };
  socket.once('close', onClose);
  clientSocket.once('close', () => {
    if (!counts) upstream?.destroy();
    onClose();
  });
}
