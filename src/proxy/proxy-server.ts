/**
 * The proxy listener: a TCP server whose connections are read as HTTP/1.1 by client-connection.ts, which forwards
 * absolute-URI requests itself and hands CONNECTs back here. Admission guards run first; tunnels are
 * connect-tunnel.ts or the MITM interceptor.
 */
import net, { type AddressInfo, type LookupFunction, type Socket } from 'node:net';
import { once } from 'node:events';
import { MalformedRequestError, RejectError } from '../errors.js';
import type { ProxyConfig } from '../config/proxy-config.js';
import type { RequestHead } from '../http1/message-head.js';
import type { Logger } from '../logging/logger.js';
import { AdmissionGuards, displayClientIp } from '../relay/admission-guards.js';
import { ClientConnection } from './client-connection.js';
import { ConnectionTracker } from '../relay/connection-tracker.js';
import { openTunnel } from './connect-tunnel.js';
import { EarlyClientData } from './early-client-data.js';
import { writeRawErrorResponse } from '../relay/error-response.js';
import type { ExchangeObservers } from '../relay/exchange-records.js';
import type { ForwardingDeps } from './forward-exchange.js';
import { OriginSlots } from '../relay/origin-slots.js';
import { parseConnectAuthority, type ProxyTarget } from '../relay/request-target.js';
import type { TunnelInterceptor } from '../relay/tunnel-interceptor.js';
import type { UpstreamTlsSettings } from '../relay/upstream-tls.js';
import { UpstreamConnectionPool } from '../relay/upstream-pool.js';

export interface ProxyServerDeps {
  config: ProxyConfig;
  logger: Logger;
  observers: ExchangeObservers;
  upstreamTls: UpstreamTlsSettings;
  guards: AdmissionGuards;
  tracker: ConnectionTracker;
  interceptor?: TunnelInterceptor;
  /** Replaces the system resolver (tests use it to fail or stall DNS without touching the network). */
  lookup?: LookupFunction;
}

export class ProxyServer {
  readonly #deps: ProxyServerDeps;
  readonly #server: net.Server;
  readonly #pool: UpstreamConnectionPool;
  readonly #forwarding: ForwardingDeps;
  /** Connections being read as HTTP (not those that became tunnels): what a drain closes once idle. */
  readonly #connections = new Set<ClientConnection>();
  /**
   * Every accepted socket until it has closed, whatever it became (a tunnel, a connection lingering after its last
   * response): what a drain destroys at its deadline, so a stop is bounded by it.
   */
  readonly #sockets = new Set<Socket>();
  #draining = false;

  constructor(deps: ProxyServerDeps) {
    this.#deps = deps;
    const { timeouts, limits } = deps.config;
    this.#pool = new UpstreamConnectionPool({ maxIdlePerTarget: limits.upstreamMaxSocketsPerHost, idleTimeoutMs: timeouts.upstreamKeepAliveMs });
    this.#forwarding = {
      observers: deps.observers,
      tracker: deps.tracker,
      upstreamTls: deps.upstreamTls,
      pool: this.#pool,
      slots: new OriginSlots(limits.upstreamMaxSocketsPerHost),
      connectTimeoutMs: timeouts.connectMs,
      upstreamResponseTimeoutMs: timeouts.upstreamResponseMs,
    };
    // Half-open allowed: a tunnel's client may shut down its sending side and still read the rest (RFC 9110
    // §9.3.6). A forwarding client that does so with a request in flight has given up on it (client-connection.ts).
    this.#server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.#onConnection(socket));
    this.#server.maxConnections = limits.maxClientConnections;
  }

  /** Listening and not draining: what /readyz reports. */
  get accepting(): boolean {
    return this.#server.listening && !this.#draining;
  }

  async listen(): Promise<AddressInfo> {
    const { bind, port } = this.#deps.config;
    this.#server.listen({ host: bind, port });
    await once(this.#server, 'listening');
    const address = this.#server.address() as AddressInfo;
    this.#deps.guards.addOwnListener(bind, address.port);
    return address;
  }

  /**
   * Graceful stop: refuse new connections, let requests and tunnels in flight finish for up to `timeoutMs`, then
   * close whatever is left. Idle keep-alive connections are closed at once; busy ones close after their response.
   */
  async drain(timeoutMs: number): Promise<{ forced: boolean }> {
    this.#draining = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#pool.close();
    const closeIdle = (): void => {
      for (const connection of this.#connections) connection.closeWhenIdle();
      this.#deps.interceptor?.closeIdleConnections();
    };
    closeIdle();
    const idleSweep = setInterval(closeIdle, 100);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<true>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    });
    const forced = await Promise.race([this.#deps.tracker.whenIdle().then(() => false), timedOut]);
    clearTimeout(timer);
    clearInterval(idleSweep);
    this.#deps.tracker.destroyAllTunnels();
    for (const connection of this.#connections) connection.destroy();
    for (const socket of this.#sockets) socket.destroy();
    // Destroyed sockets report their close on a later turn of the event loop: wait for those records (bounded),
    // so the metrics and access log are complete when the stop returns.
    const settled = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 1000);
    });
    await Promise.race([this.#deps.tracker.whenIdle(), settled]);
    clearTimeout(timer);
    await closed;
    return { forced };
  }

  #onConnection(socket: Socket): void {
    this.#deps.tracker.trackClientConnection(socket);
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    const { config, observers, guards, lookup } = this.#deps;
    const connection = new ClientConnection(socket, displayClientIp(socket.remoteAddress), {
      forwarding: this.#forwarding,
      observers,
      guards,
      lookup,
      clientHeadersTimeoutMs: config.timeouts.clientHeadersMs,
      clientKeepAliveMs: config.timeouts.clientKeepAliveMs,
      isDraining: () => this.#draining,
      onConnect: (connectSocket, head, rest, clientIp) => this.#onConnect(connectSocket, head, rest, clientIp),
      onRelease: (released) => this.#connections.delete(released),
    });
    this.#connections.add(connection);
  }

  /** A CONNECT from an allowed client; `rest` is what it sent after the head. */
  #onConnect(socket: Socket, head: RequestHead, rest: Buffer, clientIp: string): void {
    // Every check below is synchronous, so no byte can arrive before either a reject (which discards what the
    // client sent) or EarlyClientData (which keeps it) takes the socket over.
    socket.on('error', () => socket.destroy());
    const { guards, observers, config, tracker, interceptor } = this.#deps;
    const rejectTunnel = (error: RejectError, targetText: string): void => {
      observers.onReject({ clientIp, reason: error.reason, statusCode: error.statusCode, method: 'CONNECT', target: targetText });
      writeRawErrorResponse(socket, error.statusCode, error.publicMessage, error.code);
    };

    if (this.#draining) {
      // Not a reject of the client: a new tunnel cannot outlive the drain, so it is not opened.
      writeRawErrorResponse(socket, 503, 'Proxy is shutting down');
      return;
    }
    let target: ProxyTarget;
    try {
      target = parseConnectAuthority(head.target);
    } catch (err) {
      return rejectTunnel(asReject(err), head.target.slice(0, 200));
    }
    const refused = guards.checkConnectPort(target) ?? guards.checkLoop(target);
    if (refused) return rejectTunnel(refused, target.authority);

    observers.onConnectAttempt(clientIp);
    const early = new EarlyClientData(socket, rest);
    if (interceptor?.shouldIntercept(target)) {
      interceptor.intercept(socket, early, target, clientIp);
      return;
    }
    openTunnel(socket, early, target, {
      clientIp,
      observers,
      tracker,
      connectTimeoutMs: config.timeouts.connectMs,
      idleTimeoutMs: config.timeouts.tunnelIdleMs,
      lookup: guards.loopSafeLookup(target.port, this.#deps.lookup),
    });
  }
}

function asReject(err: unknown): RejectError {
  if (err instanceof RejectError) return err;
  return new MalformedRequestError(err instanceof Error ? err.message : String(err));
}
