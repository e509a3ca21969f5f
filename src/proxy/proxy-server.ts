/**
 * The proxy listener: one Node HTTP server whose `request` event handles absolute-URI forwarding and whose
 * `connect` event handles tunnels. Admission guards run first; everything after is forward-request.ts,
 * connect-tunnel.ts, or the MITM interceptor.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, LookupFunction, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { once } from 'node:events';
import { MalformedRequestError, NotAProxyRequestError, RejectError } from '../errors.js';
import type { ProxyConfig } from '../config/proxy-config.js';
import type { Logger } from '../logging/logger.js';
import { AdmissionGuards, displayClientIp } from './admission-guards.js';
import { ConnectionTracker } from './connection-tracker.js';
import { openTunnel } from './connect-tunnel.js';
import { EarlyClientData } from './early-client-data.js';
import { sendErrorResponse, writeRawErrorResponse } from './error-response.js';
import type { ExchangeObservers } from './exchange-records.js';
import { forwardRequest, type ForwardContext } from './forward-request.js';
import { parseAbsoluteTarget, parseConnectAuthority, type ProxyTarget } from './request-target.js';
import type { TunnelInterceptor } from './tunnel-interceptor.js';
import type { UpstreamAgents } from './upstream-agents.js';

export interface ProxyServerDeps {
  config: ProxyConfig;
  logger: Logger;
  observers: ExchangeObservers;
  agents: UpstreamAgents;
  guards: AdmissionGuards;
  tracker: ConnectionTracker;
  interceptor?: TunnelInterceptor;
  /** Replaces the system resolver (tests use it to fail or stall DNS without touching the network). */
  lookup?: LookupFunction;
}

export class ProxyServer {
  readonly #deps: ProxyServerDeps;
  readonly #server: http.Server;
  #draining = false;

  constructor(deps: ProxyServerDeps) {
    this.#deps = deps;
    const { timeouts, limits } = deps.config;
    this.#server = http.createServer({
      // Slowloris guard: headers must arrive within this; checked every second rather than Node's 30 s default
      // so the limit means what it says.
      headersTimeout: timeouts.clientHeadersMs,
      requestTimeout: 0,
      connectionsCheckingInterval: 1000,
      keepAliveTimeout: timeouts.clientKeepAliveMs,
      noDelay: true,
    });
    // A client that stops sending or reading mid-request is dropped after this much silence.
    this.#server.timeout = Math.max(timeouts.upstreamResponseMs, timeouts.clientKeepAliveMs) + 5000;
    this.#server.maxConnections = limits.maxClientConnections;
    this.#server.on('connection', (socket: Socket) => deps.tracker.trackClientConnection(socket));
    this.#server.on('request', (req, res) => this.#onRequest(req, res));
    this.#server.on('connect', (req, socket, head) => this.#onConnect(req, socket, head));
    this.#server.on('clientError', (err, socket) => this.#onClientError(err, socket));
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
    const closeIdle = (): void => {
      this.#server.closeIdleConnections();
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
    this.#server.closeAllConnections();
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

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const { guards, observers, agents, config, tracker } = this.#deps;
    const clientIp = displayClientIp(req.socket.remoteAddress);
    const done = tracker.trackRequest();
    res.once('close', done);
    // While draining, each response tells the client to reconnect elsewhere rather than reuse this connection.
    if (this.#draining) res.shouldKeepAlive = false;

    const denied = guards.checkClient(req.socket.remoteAddress);
    if (denied) return this.#rejectRequest(req, res, denied, clientIp);
    const url = req.url ?? '';
    if (url.startsWith('/') || url === '*') return this.#rejectRequest(req, res, new NotAProxyRequestError(), clientIp);

    let target;
    try {
      target = parseAbsoluteTarget(url);
    } catch (err) {
      return this.#rejectRequest(req, res, asReject(err), clientIp);
    }
    const loop = guards.checkLoop(target);
    if (loop) return this.#rejectRequest(req, res, loop, clientIp);

    const ctx: ForwardContext = {
      kind: 'forward',
      clientIp,
      agents,
      observers,
      connectTimeoutMs: config.timeouts.connectMs,
      upstreamResponseTimeoutMs: config.timeouts.upstreamResponseMs,
      lookup: guards.loopSafeLookup(target.port, this.#deps.lookup),
    };
    forwardRequest(req, res, target, ctx);
  }

  #onConnect(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Every check below is synchronous, so no byte can arrive before either a reject (which discards what the
    // client sent) or EarlyClientData (which keeps it) takes the socket over.
    socket.on('error', () => socket.destroy());
    const { guards, observers, config, tracker, interceptor } = this.#deps;
    const clientIp = displayClientIp(req.socket.remoteAddress);
    const rejectTunnel = (error: RejectError, targetText: string): void => {
      observers.onReject({ clientIp, reason: error.reason, statusCode: error.statusCode, method: 'CONNECT', target: targetText });
      writeRawErrorResponse(socket, error.statusCode, error.publicMessage, error.code);
    };

    const denied = guards.checkClient(req.socket.remoteAddress);
    if (denied) return rejectTunnel(denied, req.url ?? '');
    if (this.#draining) {
      // Not a reject of the client: a new tunnel cannot outlive the drain, so it is not opened.
      writeRawErrorResponse(socket, 503, 'Proxy is shutting down');
      return;
    }
    let target: ProxyTarget;
    try {
      target = parseConnectAuthority(req.url);
    } catch (err) {
      return rejectTunnel(asReject(err), req.url ?? '');
    }
    const refused = guards.checkConnectPort(target) ?? guards.checkLoop(target);
    if (refused) return rejectTunnel(refused, target.authority);

    observers.onConnectAttempt(clientIp);
    const early = new EarlyClientData(socket, head);
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

  #rejectRequest(req: IncomingMessage, res: ServerResponse, error: RejectError, clientIp: string): void {
    this.#deps.observers.onReject({
      clientIp,
      reason: error.reason,
      statusCode: error.statusCode,
      method: req.method ?? '',
      target: rejectTargetForLog(req.url),
    });
    // Rejected requests close the connection: a denied or confused client gets no second try on this socket,
    // and any body it is still sending is not worth reading.
    sendErrorResponse(res, error, true);
    req.resume();
  }

  /** Unparseable HTTP (Node's parser said no): 400 (431 for oversized headers, 408 for a headers timeout), close. */
  #onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    if (err.code === 'ECONNRESET' || !socket.writable || (socket as Socket & { _httpMessage?: unknown })._httpMessage) {
      socket.destroy();
      return;
    }
    const clientIp = displayClientIp((socket as Socket).remoteAddress);
    let status = 400;
    let message = 'Bad request: malformed HTTP';
    if (err.code === 'HPE_HEADER_OVERFLOW') {
      status = 431;
      message = 'Request header fields too large';
    } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      status = 408;
      message = 'Request timeout: headers not received in time';
    }
    this.#deps.observers.onReject({ clientIp, reason: 'bad_request', statusCode: status, method: '', target: '' });
    writeRawErrorResponse(socket, status, message, new MalformedRequestError(err.code ?? 'parse error').code);
  }
}

function asReject(err: unknown): RejectError {
  if (err instanceof RejectError) return err;
  return new MalformedRequestError(err instanceof Error ? err.message : String(err));
}

/** Logged target of a rejected request: never the query string, which carries tokens. */
function rejectTargetForLog(url: string | undefined): string {
  if (!url) return '';
  const q = url.indexOf('?');
  return (q === -1 ? url : url.slice(0, q)).slice(0, 200);
}
