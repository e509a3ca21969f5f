/**
 * CONNECT tunnels (RFC 9110 §9.3.6): dial the target, answer `200 Connection established`, then relay bytes
 * both ways until each side has closed. Half-close is kept: a client that shuts down its sending side still gets
 * the rest of the server's answer.
 */
import net, { type LookupFunction, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { RejectError, UpstreamConnectTimeoutError, toUpstreamError, type UpstreamError } from '../errors.js';
import { writeRawErrorResponse } from './error-response.js';
import type { ExchangeObservers } from './exchange-records.js';
import type { ProxyTarget } from './request-target.js';
import type { ConnectionTracker } from './connection-tracker.js';
import type { EarlyClientData } from './early-client-data.js';
import { ReadBufferRelay } from './read-buffer-relay.js';
import { adoptClientSocket } from './adopt-client-socket.js';

export const CONNECT_ESTABLISHED = 'HTTP/1.1 200 Connection established\r\n\r\n';

export interface TunnelContext {
  clientIp: string;
  observers: ExchangeObservers;
  tracker: ConnectionTracker;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  /** Name resolution; undefined means the system resolver (dns.lookup). */
  lookup?: LookupFunction;
}

/**
 * Opens a TCP connection to `target` and splices it to `clientSocket`. What the client sent before the tunnel
 * existed (a pipelined TLS ClientHello) is held in `early` and goes upstream first.
 */
export function openTunnel(clientSocket: Duplex, early: EarlyClientData, target: ProxyTarget, ctx: TunnelContext): void {
  const started = performance.now();
  let failure: UpstreamError | undefined;
  let rejected: RejectError | undefined;
  let established = false;
  let reported = false;

  const toClient = new ReadBufferRelay();
  const upstream = net.connect({
    host: target.host,
    port: target.port,
    allowHalfOpen: true,
    noDelay: true,
    onread: toClient.onread,
    ...(ctx.lookup ? { lookup: ctx.lookup } : {}),
  });
  const untrack = ctx.tracker.trackTunnel(clientSocket, upstream);
  /** The client's end of the relay: `clientSocket`, or the socket that took over its TCP handle. */
  let clientEnd: Duplex = clientSocket;

  const report = (): void => {
    if (reported) return;
    reported = true;
    untrack();
    ctx.observers.onTunnel({
      clientIp: ctx.clientIp,
      target: target.authority,
      // 499 (nginx's "client closed request"): the client left before the tunnel was established.
      statusCode: established ? 200 : (rejected?.statusCode ?? failure?.statusCode ?? 499),
      errorCode: rejected?.code ?? failure?.code,
      upstreamFailure: failure?.reason,
      intercepted: false,
      bytesFromClient: upstream.bytesWritten,
      bytesToClient: upstream.bytesRead,
      durationSeconds: (performance.now() - started) / 1000,
    });
  };

  const connectTimer = setTimeout(() => {
    upstream.destroy(new UpstreamConnectTimeoutError(target.authority, `connect timed out after ${ctx.connectTimeoutMs} ms`));
  }, ctx.connectTimeoutMs);

  upstream.once('connect', () => {
    clearTimeout(connectTimer);
    if (clientSocket.destroyed) {
      upstream.destroy();
      return;
    }
    established = true;
    const pipelined = early.release();
    const toUpstream = new ReadBufferRelay();
    const adopted = adoptClientSocket(clientSocket, toUpstream.onread);
    if (adopted) clientEnd = adopted.socket;
    clientEnd.write(CONNECT_ESTABLISHED);
    if (pipelined.length > 0) upstream.write(pipelined);
    for (const chunk of adopted?.buffered ?? []) upstream.write(chunk);
    // Each relay ends its destination when its source ends: that is the half-close. Each socket destroys itself
    // once both of its directions are done.
    if (adopted) toUpstream.start(adopted.socket, upstream);
    else clientSocket.pipe(upstream);
    toClient.start(upstream, clientEnd);
    upstream.setTimeout(ctx.idleTimeoutMs, () => {
      upstream.destroy();
      clientSocket.destroy();
    });
  });

  upstream.on('error', (err) => {
    clearTimeout(connectTimer);
    if (!established) early.release();
    if (err instanceof RejectError && !established) {
      // The resolver found the name points at this proxy (see AdmissionGuards.loopSafeLookup).
      rejected = err;
      writeRawErrorResponse(clientSocket, err.statusCode, err.publicMessage, err.code);
      return;
    }
    failure ??= toUpstreamError(err, target.authority);
    if (!established) {
      writeRawErrorResponse(clientSocket, failure.statusCode, failure.publicMessage, failure.code);
    } else {
      clientSocket.destroy();
    }
  });
  clientSocket.on('error', () => upstream.destroy());

  // A tunnel is over when both sockets are closed; a hard close of either side takes the other down with it.
  let closed = 0;
  const onClose = (other: () => Duplex | Socket) => () => {
    const end = other();
    if (established && !end.destroyed && !end.writableEnded) end.destroy();
    if (++closed === 2 || !established) report();
  };
  upstream.once('close', onClose(() => clientEnd));
  clientSocket.once('close', () => {
    if (!established) upstream.destroy();
    onClose(() => upstream)();
  });
}
