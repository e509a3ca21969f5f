/**
 * The proxy listener: accepts TCP connections, checks each against the connection guards (the client allow-list)
 * before a byte is read, and serves the rest on the relay engine with the forwarding route. It also carries out the
 * CONNECT decisions the connections take: a tunnel (connect-tunnel.ts) or, with MITM on, an interception.
 */
import net, { type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import type { ProxyConfig } from '../config/proxy-config.js';
import type { TlsInterceptor } from '../mitm/tls-interceptor.js';
import type { ConnectionTracker } from '../relay/connection-tracker.js';
import type { RejectError } from '../errors.js';
import { writeRawErrorResponse, writeRawRefusal } from '../relay/error-response.js';
import { FORWARD_ROUTE } from '../relay/forward-route.js';
import { displayClientIp, type ConnectionContext, type ConnectionGuard, type SelfLoopGuard } from '../relay/guards.js';
import type { RelayEngine } from '../relay/relay-engine.js';
import type { HandOverDecision } from '../relay/routing.js';
import { openTunnel } from './connect-tunnel.js';
import { EarlyClientData } from './early-client-data.js';
import { ACCEPT_REFUSAL_LINGER_MS, RefusalLingerBudget } from './refusal-linger-budget.js';

export interface ProxyServerDeps {
  /** The listen address and port, and the connection cap (these need a restart to change). */
  config: Pick<ProxyConfig, 'bind' | 'port' | 'limits'>;
  engine: RelayEngine;
  tracker: ConnectionTracker;
  /** Learns the port the listener got, so requests aimed at it are refused as loops. */
  loopGuard: SelfLoopGuard;
  /** Carries out Intercept decisions; undefined with MITM off. */
  interceptor?: TlsInterceptor | undefined;
  /**
   * An error of the listener once it listens (what Node emits when accept() fails: EMFILE, ENFILE). It must not end
   * the process; the callee reports it.
   */
  onAcceptError?: (err: Error) => void;
}

export class ProxyServer {
  readonly #deps: ProxyServerDeps;
  readonly #server: net.Server;
  /**
   * Every accepted socket until it has closed, whatever it became (a tunnel, a connection lingering after its last
   * response): what a drain destroys at its deadline, so a stop is bounded by it.
   */
  readonly #sockets = new Set<Socket>();
  /**
   * One `close` listener for every accepted socket (it is `this` when called), not a closure each: a socket that
   * becomes an idle tunnel keeps its listeners for the tunnel's life (issue 13).
   */
  readonly #forgetSocket: (this: Socket) => void;
  #draining = false;
  /**
   * Connections admitted by the guards and not yet closed: what `limits.max_client_connections` caps. Counted here,
   * not with `server.maxConnections` (which counts every accepted socket): a connection refused at accept lingers a
   * moment after its answer, and a denied client opening many must not fill the cap and lock the allowed ones out.
   */
  #admitted = 0;
  /** Bounds what refused connections, outside the cap, may hold (refusal-linger-budget.ts). */
  readonly #refusalLingers = new RefusalLingerBudget();

  constructor(deps: ProxyServerDeps) {
    this.#deps = deps;
    deps.engine.setHandOver((socket, decision, rest, client) => this.#handOver(socket, decision, rest, client));
    // Half-open allowed: a tunnel's client may shut down its sending side and still read the rest (RFC 9110
    // §9.3.6). A forwarding client that does so with a request in flight has given up on it (connection-relay.ts).
    this.#server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.#onConnection(socket));
    const sockets = this.#sockets;
    this.#forgetSocket = function (this: Socket) {
      sockets.delete(this);
    };
  }

  /** Listening and not draining: what /readyz reports. */
  get accepting(): boolean {
    return this.#server.listening && !this.#draining;
  }

  async listen(): Promise<AddressInfo> {
    const { bind, port } = this.#deps.config;
    this.#server.listen({ host: bind, port });
    await once(this.#server, 'listening');
    this.#server.on('error', (err) => this.#deps.onAcceptError?.(err));
    const address = this.#server.address() as AddressInfo;
    this.#deps.loopGuard.addOwnListener(bind, address.port);
    this.#deps.engine.start();
    return address;
  }

  /**
   * Graceful stop: refuse new connections, let requests and tunnels in flight finish for up to `timeoutMs`, then
   * close whatever is left. Idle keep-alive connections are closed at once; busy ones close after their response.
   */
  async drain(timeoutMs: number): Promise<{ forced: boolean }> {
    const { engine, tracker } = this.#deps;
    this.#draining = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    engine.beginDrain();
    // Connections whose head was arriving when the drain began close once they have been answered.
    const idleSweep = setInterval(() => engine.closeIdleConnections(), 100);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<true>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    });
    const forced = await Promise.race([tracker.whenIdle().then(() => false), timedOut]);
    clearTimeout(timer);
    clearInterval(idleSweep);
    tracker.destroyAllTunnels();
    engine.destroyAll();
    for (const socket of this.#sockets) socket.destroy();
    // Destroyed sockets report their close on a later turn of the event loop: wait for those records (bounded),
    // so the metrics and access log are complete when the stop returns.
    const settled = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 1000);
    });
    await Promise.race([tracker.whenIdle(), settled]);
    clearTimeout(timer);
    await closed;
    return { forced };
  }

  #onConnection(socket: Socket): void {
    const { config, engine, tracker } = this.#deps;
    if (this.#admitted >= config.limits.maxClientConnections) {
      // Full: closed at once, unanswered and unrecorded, as `server.maxConnections` would.
      socket.destroy();
      return;
    }
    tracker.trackClientConnection(socket);
    this.#sockets.add(socket);
    socket.on('close', this.#forgetSocket);
    const client: ConnectionContext = { clientIp: displayClientIp(socket.remoteAddress), clientAddress: socket.remoteAddress, socket };
    const settings = engine.settings.current;
    const guards = settings.connectionGuards;
    for (let index = 0; index < guards.length; index++) {
      const refused = (guards[index] as ConnectionGuard).checkConnection(client);
      if (refused === undefined) continue;
      // The guards before it admitted the connection (and may have counted it): it is gone for them too.
      for (let admitted = 0; admitted < index; admitted++) guards[admitted]?.connectionClosed?.(client);
      // Answered before a byte is read: a denied client costs a write and a close, nothing more.
      settings.observers.onReject({ clientIp: client.clientIp, reason: refused.reason, statusCode: refused.statusCode, method: '', target: '' });
      socket.on('error', destroyOnError);
      // Outside the cap: lingers briefly within its address's budget, else closes once the answer has left.
      const address = client.clientAddress ?? '';
      const lingers = this.#refusalLingers.take(address);
      if (lingers) socket.once('close', () => this.#refusalLingers.release(address));
      writeRawRefusal(socket, refused, lingers ? ACCEPT_REFUSAL_LINGER_MS : 0);
      return;
    }
    this.#admitted++;
    // The guards of the accept are told of its close, whatever a reload has put in force by then. `on`, not `once`
    // (close comes once): `once` would add a wrapper and a record to every open tunnel (issue 13).
    socket.on('close', () => {
      this.#admitted--;
      for (const guard of guards) guard.connectionClosed?.(client);
    });
    engine.serve(socket, FORWARD_ROUTE, client);
  }

  /** A CONNECT decided on a connection: its socket is a tunnel's (or the interceptor's) from here on. */
  #handOver(socket: Socket, decision: HandOverDecision, rest: Buffer, client: ConnectionContext): void {
    // Every step below is synchronous, so no byte can arrive before either a refusal (which discards what the
    // client sent) or EarlyClientData (which keeps it) takes the socket over.
    socket.on('error', destroyOnError);
    if (this.#draining) {
      // Not a refusal of the client: a new tunnel cannot outlive the drain, so it is not opened.
      writeRawErrorResponse(socket, 503, 'Proxy is shutting down');
      return;
    }
    const early = new EarlyClientData(socket, rest);
    if (decision.pending !== undefined) {
      // A guard is still deciding (proxy authentication of new credentials): what the client sends meanwhile is
      // held by `early`, and nothing is dialled before the decision.
      decision.pending.then(
        (refused) => {
          if (socket.destroyed) return;
          if (refused === undefined) this.#carryOut(socket, decision, early, client);
          else this.#refuseHandOver(socket, decision, early, client, refused);
        },
        () => socket.destroy(),
      );
      return;
    }
    this.#carryOut(socket, decision, early, client);
  }

  /** A CONNECT refused once its guards had decided: answered and recorded as a refusal at the head would be. */
  #refuseHandOver(socket: Socket, decision: HandOverDecision, early: EarlyClientData, client: ConnectionContext, refused: RejectError): void {
    early.release();
    this.#deps.engine.settings.current.observers.onReject({
      clientIp: client.clientIp,
      reason: refused.reason,
      statusCode: refused.statusCode,
      method: 'CONNECT',
      target: decision.target.authority,
    });
    writeRawRefusal(socket, refused);
  }

  #carryOut(socket: Socket, decision: HandOverDecision, early: EarlyClientData, client: ConnectionContext): void {
    const { engine, tracker, interceptor } = this.#deps;
    const settings = engine.settings.current;
    settings.observers.onConnectAttempt(client.clientIp);
    const { target } = decision;
    if (decision.kind === 'intercept' && interceptor !== undefined) {
      interceptor.intercept(socket, early, target, client);
      return;
    }
    const dialTarget = { host: target.host, port: target.port, authority: target.authority, tls: false, tunnel: true };
    openTunnel(socket, early, target, {
      clientIp: client.clientIp,
      observers: settings.observers,
      tracker,
      connectTimeoutMs: settings.timeouts.connectMs,
      idleTimeoutMs: settings.timeouts.tunnelIdleMs,
      // The engine's dialer resolves and checks: the tunnel connects only to an address that passed (the target's,
      // or with a parent proxy the parent's, which is then asked for the tunnel).
      upstreamSocket: (options) => engine.dialer.tunnelSocket(dialTarget, options),
      parent: engine.dialer.parentFor(target.host),
    });
  }
}

/** A socket's `error` listener that closes it (shared: `this` is the socket). */
function destroyOnError(this: Socket): void {
  this.destroy();
}
