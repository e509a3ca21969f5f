/**
 * The HTTP/1.1 relay's state machine for one client connection, the same for both routes (plain forwarding on the
 * proxy port, decrypted requests inside an intercepted tunnel): fed the client's bytes and both sides' events
 * (RelayEvents), acting only through RelayIo. It scans request heads strictly (src/http1), takes one routing
 * decision per head (routing.ts), answers what it must refuse, hands CONNECTs over, and relays requests through
 * an Exchange (exchange.ts, the upstream side), keeping the connection alive between them.
 *
 * Client phases (ClientPhase): Idle → Head → Body → Waiting → Idle again, or → Closing (our last answer is out),
 * Switched (after a 101), Closed (gone or handed over). The upstream side has phases of its own (UpstreamPhase).
 *
 * Policies, decided here once for both routes:
 * - Pipelining: requests are served in order, one at a time. Bytes a client pipelines behind a request are held,
 *   unread, until that request's response has ended: answers come in order, one slow origin cannot make a
 *   connection hold many upstream connections, and bytes behind an upgrade request are never read as HTTP before
 *   the answer says whether they are.
 * - Half-close: a client that ends its side with a request in flight has given up on it (a half-close and a close
 *   look alike): the request is abandoned at once and its upstream let go, as Node's HTTP server, squid
 *   (half_closed_clients off) and nginx do. After a 101 a half-close goes on to the other side.
 * - Timeouts (checked by the one timeout sweep, never a timer per connection): a head must be complete within
 *   `timeouts.client_headers` of its first byte (of the accept, for the first one) → 408; a body may not go quiet
 *   for `timeouts.client_body` while the proxy is reading it → 408 (a client timeout, never an upstream 504); a
 *   connection between requests closes after `timeouts.client_keepalive`; a switched one after
 *   `timeouts.tunnel_idle`. The upstream's deadlines are the exchange's.
 * - Refusals: 400/403/405/408/431/508 with Connection: close, never inside a response already on its way (the
 *   connection is cut with a reset instead).
 */
import {
  ClientAbortedError,
  ClientBodyTimeoutError,
    MalformedRequestError,
  RejectError,
  RequestHeadersTimeoutError,
  RequestHeadTooLargeError,
  type ProxyError,
} from '../errors.js';
import { requestBodyFraming, type BodyFraming } from '../http1/body-framing.js';
import { fieldValues, HeadTooLargeError, MessageHeadError, parseRequestHead, type RequestHead } from '../http1/message-head.js';
import { MAX_HEAD_BYTES, MessageScanner } from '../http1/message-scanner.js';
import { targetForLog } from '../logging/log-redaction.js';
import { errorAnswer } from './error-response.js';
import { Exchange, UpstreamPhase, type ExchangeContext, type ExchangeOwner } from './exchange.js';
import { connectionOptions } from './message-heads.js';
import type { ConnectionContext, PendingRefusal } from './guards.js';
import type { RelayEnvironment } from './relay-environment.js';
import type { RelayEvents, RelayIo } from './relay-io.js';
import type { RelaySettings } from './relay-settings.js';
import type { Route } from './route.js';
import { decide, type HandOverDecision } from './routing.js';
import type { Expiring } from './timeout-sweep.js';

export const enum ClientPhase {
  /** Between requests: nothing of the next head yet. */
  Idle,
  /** A request head is arriving. */
  Head,
  /** The request's body is arriving. */
  Body,
  /** The request is complete, its response is not; bytes behind it are held. */
  Waiting,
  /** After a 101: bytes pass both ways untouched. */
  Switched,
  /** Our last bytes are written; nothing more is read. */
  Closing,
  /** The socket is gone, or handed over to a tunnel. */
  Closed,
}

/** Why the client is paused; it is read again once no reason is left. */
const PAUSED_HOLDING = 1;
const PAUSED_FOR_UPSTREAM = 2;
const NO_BODY: BodyFraming = { kind: 'none' };

export class ConnectionRelay implements RelayEvents, ExchangeOwner, Expiring {
  readonly #route: Route;
  readonly #client: ConnectionContext;
  readonly #io: RelayIo;
  readonly #env: RelayEnvironment;
  readonly #requests: MessageScanner<RequestHead>;
  /** The settings of the current request (or of the accept, before the first). */
  #settings: RelaySettings;
  #phase = ClientPhase.Idle;
  #phaseSince: number;
  #firstRequest = true;
  #lastClientByte: number;
  #pausedFor = 0;
  /** Whether the client socket is paused (for any reason in #pausedFor). */
  #clientPaused = false;
  /** When the client stopped being read for the exchange's sake (paused for the upstream), if it is. */
  #pausedForUpstreamSince: number | undefined;
  /** When the current request's body was complete. */
  #requestCompleteAt = 0;
  #exchange: Exchange | undefined;
  #context: ExchangeContext | undefined;
  /** Client bytes that arrived behind the request being served, held until its response has ended. */
  #held: Buffer[] | undefined;
  /** The text of the request head being parsed (captured from the parse, see #parseRequest). */
  #headText = '';
  /** The method and target (as sent) of the head being scanned, for the reject record if it is refused. */
  #method = '';
  #rejectTarget = '';
  #handOver: HandOverDecision | undefined;
  /** The request being served asked for the connection to end after it (or is HTTP/1.0). */
  #clientWantsClose = false;
  #closeWhenIdle = false;
  #lastSwitchedActivity = 0;
  /** When the connection went idle, kept while only empty lines arrive (see #scan). */
  #idleSince = 0;
  /** The time of the event being handled (the sweep's clock), read once per event. */
  #time: number;

  constructor(route: Route, client: ConnectionContext, io: RelayIo, env: RelayEnvironment) {
    this.#route = route;
    this.#client = client;
    this.#io = io;
    this.#env = env;
    this.#settings = env.settings.current;
    this.#time = env.now();
    this.#phaseSince = this.#time;
    this.#lastClientByte = this.#phaseSince;
    this.#requests = new MessageScanner(this.#parseRequest, this.#requestListener, MAX_HEAD_BYTES);
    env.sweep.add(this);
  }

  get phase(): ClientPhase {
    return this.#phase;
  }

  /** Closes the connection now if it is between requests, or else once the response in flight has ended (a drain). */
  closeWhenIdle(): void {
    this.#stamp();
    this.#closeWhenIdle = true;
    // A request whose head is arriving may still come in; one that has not begun cannot.
    if (this.#phase === ClientPhase.Idle) this.#finish();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Client events
  // -------------------------------------------------------------------------------------------------------------

  clientData(data: Buffer): void {
    const now = this.#stamp();
    switch (this.#phase) {
      case ClientPhase.Closing:
      case ClientPhase.Closed:
        return;
      case ClientPhase.Switched:
        this.#lastSwitchedActivity = now;
        if (!this.#io.writeUpstream(data)) this.#pause(PAUSED_FOR_UPSTREAM);
        return;
      case ClientPhase.Waiting:
        this.#hold(data);
        return;
      case ClientPhase.Idle:
        this.#idleSince = this.#phaseSince;
        this.#enter(ClientPhase.Head);
        break;
      default:
        break;
    }
    this.#lastClientByte = now;
    this.#scan(data);
  }

  clientEnd(): void {
    this.#stamp();
    switch (this.#phase) {
      case ClientPhase.Switched:
        this.#io.halfCloseUpstream();
        return;
      case ClientPhase.Idle:
      case ClientPhase.Head:
        // Nothing owed: the client is done, and so are we.
        this.#finish();
        return;
      case ClientPhase.Body:
      case ClientPhase.Waiting:
        // A half-close and a close look the same until a write fails, and a client that closes has given up on its
        // request (timed out, say): the request in flight is abandoned, and its upstream let go at once.
        this.#abandon(new ClientAbortedError());
        this.#io.closeClient();
        return;
      default:
        return;
    }
  }

  clientClosed(): void {
    this.#stamp();
    const phase = this.#phase;
    this.#phase = ClientPhase.Closed;
    this.#env.sweep.delete(this);
    if (phase === ClientPhase.Closed) return;
    this.#abandon(new ClientAbortedError());
  }

  clientDrained(): void {
    this.#stamp();
    if (this.#phase === ClientPhase.Switched) this.#io.resumeUpstream();
    this.#exchange?.clientDrained();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Upstream events: the exchange's, but for a switched connection
  // -------------------------------------------------------------------------------------------------------------

  upstreamOpened(reused: boolean): void {
    this.#stamp();
    this.#exchange?.upstreamOpened(reused);
  }

  upstreamFailed(err: Error): void {
    this.#stamp();
    this.#exchange?.upstreamFailed(err);
  }

  upstreamData(data: Buffer): void {
    const now = this.#stamp();
    if (this.#phase === ClientPhase.Switched) this.#lastSwitchedActivity = now;
    this.#exchange?.upstreamData(data);
  }

  upstreamEnd(): void {
    this.#stamp();
    if (this.#phase === ClientPhase.Switched) {
      this.#io.halfCloseClient();
      return;
    }
    this.#exchange?.upstreamEnd();
  }

  upstreamClosed(err: Error | undefined): void {
    this.#stamp();
    if (this.#phase === ClientPhase.Switched) {
      // After a 101 the two sides are one connection: an upstream gone takes the client with it.
      this.#closeSwitched();
      return;
    }
    this.#exchange?.upstreamClosed(err);
  }

  upstreamDrained(): void {
    this.#stamp();
    if (this.#phase === ClientPhase.Switched) this.#resume(PAUSED_FOR_UPSTREAM);
    else this.#exchange?.upstreamDrained();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Timeouts (called by the sweep)
  // -------------------------------------------------------------------------------------------------------------

  expire(now: number): void {
    this.#time = now;
    const { timeouts } = this.#settings;
    switch (this.#phase) {
      case ClientPhase.Idle:
        if (this.#firstRequest && now - this.#phaseSince >= timeouts.clientHeadersMs) this.#refuse(new RequestHeadersTimeoutError());
        else if (now - this.#phaseSince >= timeouts.clientKeepAliveMs) this.#close();
        return;
      case ClientPhase.Head:
        // Node's headersTimeout, for a head that trickles in (slowloris): from its first byte, whatever follows.
        if (now - this.#phaseSince >= timeouts.clientHeadersMs) this.#refuse(new RequestHeadersTimeoutError());
        return;
      case ClientPhase.Body: {
        const exchange = this.#exchange as Exchange;
        const idleSince = this.#clientIdleSince(exchange);
        if (idleSince === undefined && now - this.#lastClientByte >= timeouts.clientBodyMs) {
          this.#bodyTimeout();
          return;
        }
        exchange.expire(now, idleSince);
        return;
      }
      case ClientPhase.Waiting:
        this.#exchange?.expire(now, this.#requestCompleteAt);
        return;
      case ClientPhase.Switched:
        if (now - this.#lastSwitchedActivity >= timeouts.tunnelIdleMs) this.#closeSwitched();
        return;
      default:
        return;
    }
  }

  /**
   * Undefined while the proxy is waiting on the client's body; else since when it is not (the client is paused
   * for the upstream, or waits for a `100 Continue` before it sends its body, RFC 9110 §10.1.1).
   */
  #clientIdleSince(exchange: Exchange): number | undefined {
    if (this.#pausedForUpstreamSince !== undefined) return this.#pausedForUpstreamSince;
    if (exchange.expectsContinue && !exchange.answered && exchange.phase !== UpstreamPhase.Done && exchange.bodyBytesFromClient === 0) {
      return this.#phaseSince;
    }
    return undefined;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Scanning requests
  // -------------------------------------------------------------------------------------------------------------

  #scan(data: Buffer): void {
    let used: number;
    try {
      used = this.#requests.push(data);
    } catch (err) {
      this.#refuse(asRequestRefusal(err));
      return;
    }
    if (this.#handOver !== undefined) {
      this.#executeHandOver(this.#handOver, data.subarray(used));
      return;
    }
    this.#exchange?.headReadScanned();
    // The scanner stops at the end of each request: what follows waits for its response.
    if (used < data.length && this.#held !== undefined) this.#hold(data.subarray(used));
    // Only empty lines (RFC 9112 §2.2 lets them precede a request): still between requests, and still idle since
    // before them. Were they to restart the idle or head timeout, a client sending CRLF now and then would hold its
    // connection for ever (llhttp counts them into the header timeout too).
    if (this.#phase === ClientPhase.Head && !this.#requests.inMessage) {
      this.#phase = ClientPhase.Idle;
      this.#phaseSince = this.#idleSince;
    }
  }

  /** Parses a request head, keeping its text for the rewrite (field lines go on as they arrived). */
  readonly #parseRequest = (text: string, bytes: Buffer, offset: number): RequestHead => {
    this.#headText = text;
    return parseRequestHead(text, bytes, offset);
  };

  readonly #requestListener = {
    onHead: (head: RequestHead): BodyFraming => this.#onRequestHead(head),
    onBody: (data: Buffer): void => this.#onRequestBody(data),
    onMessageEnd: (): void => this.#onRequestEnd(),
  };

  #onRequestHead(head: RequestHead): BodyFraming {
    this.#method = head.method;
    this.#rejectTarget = head.target;
    this.#firstRequest = false;
    const settings = this.#env.settings.current;
    this.#settings = settings;
    const decision = decide(this.#route, head, this.#client, settings);
    if (decision.kind === 'reject') throw decision.error;
    if (decision.kind !== 'forward') {
      this.#handOver = decision;
      this.#requests.stop();
      return NO_BODY;
    }
    // A head whose framing is ambiguous throws MessageHeadError: answered 400.
    const framing = requestBodyFraming(head.minorVersion, head.headers);
    const options = connectionOptions(head.headers);
    // RFC 9112 §9.3: HTTP/1.0 connections close after the response unless the client asked otherwise, and we do
    // not keep 1.0 ones alive at all (their responses may end with the close).
    this.#clientWantsClose = head.minorVersion === 0 || options.close;
    // RFC 9110 §7.8: an HTTP/1.1 request asking to switch protocols (Upgrade, listed in Connection).
    const upgrade = options.upgrade && head.minorVersion === 1 && fieldValues(head.headers, 'upgrade').length > 0;
    const requestHead = this.#route.requestHead(head, this.#headText, options, decision.target, upgrade, settings.via);
    this.#enter(ClientPhase.Body);
    this.#lastClientByte = this.#phaseSince;
    const exchange = new Exchange(
      this.#exchangeContext(settings),
      head,
      requestHead,
      decision.target,
      upgrade,
      framing.kind === 'none',
      this.#phaseSince,
    );
    this.#exchange = exchange;
    if (decision.pending === undefined) exchange.start();
    else this.#startWhenAdmitted(exchange, decision.pending);
    return framing;
  }

  /** What every exchange of this connection is given: the same object for each, until a reload changes the settings. */
  #exchangeContext(settings: RelaySettings): ExchangeContext {
    let context = this.#context;
    if (context === undefined || context.settings !== settings) {
      const env = this.#env;
      context = { io: this.#io, owner: this, settings, slots: env.slots, tracker: env.tracker, observers: settings.observers, kind: this.#route.exchangeKind, clientIp: this.#client.clientIp };
      this.#context = context;
    }
    return context;
  }

  /**
   * A guard is still deciding (proxy authentication of credentials not verified yet): the exchange holds the body
   * as it would for a slot, and asks for its upstream only once admitted; a late refusal is answered as any other.
   */
  #startWhenAdmitted(exchange: Exchange, pending: PendingRefusal): void {
    void pending.then((refused) => {
      // The client left, or the request ended otherwise, while the guard decided.
      if (this.#exchange !== exchange) return;
      this.#stamp();
      if (refused === undefined) exchange.start();
      else this.#refuse(refused);
    });
  }

  #onRequestBody(data: Buffer): void {
    const exchange = this.#exchange;
    if (exchange !== undefined && !exchange.sendBody(data)) this.#pauseForUpstream();
  }

  #onRequestEnd(): void {
    if (this.#handOver !== undefined) return;
    this.#exchange?.endRequest();
    this.#requestCompleteAt = this.#time;
    // The exchange may be over already (answered before the body was all in: the connection closes with it).
    if (this.#phase === ClientPhase.Body) this.#enter(ClientPhase.Waiting);
    this.#requests.stop();
    this.#held = [];
  }

  #hold(data: Buffer): void {
    (this.#held ??= []).push(data);
    // One read's worth is plenty while the client should be waiting for its response.
    this.#pause(PAUSED_HOLDING);
  }

  #executeHandOver(decision: HandOverDecision, rest: Buffer): void {
    this.#phase = ClientPhase.Closed;
    this.#env.sweep.delete(this);
    this.#io.handOver(decision, rest);
  }

  // -------------------------------------------------------------------------------------------------------------
  // ExchangeOwner: what the exchange tells this side
  // -------------------------------------------------------------------------------------------------------------

  get time(): number {
    return this.#time;
  }

  stamp(): number {
    return this.#stamp();
  }

  closesAfterResponse(): boolean {
    return this.#clientWantsClose || this.#closeWhenIdle || this.#env.isDraining();
  }

  requestBodyAccepted(): void {
    this.#resume(PAUSED_FOR_UPSTREAM);
  }

  exchangeEnded(closeClient: boolean): void {
    this.#exchange = undefined;
    if (this.#phase === ClientPhase.Closed || this.#phase === ClientPhase.Closing) return;
    if (closeClient) {
      this.#finish();
      return;
    }
    this.#nextRequest();
  }

  exchangeFailed(error: ProxyError, closeClient: boolean): void {
    this.#exchange = undefined;
    if (this.#phase === ClientPhase.Closed || this.#phase === ClientPhase.Closing) return;
    if (error instanceof RejectError) this.#recordReject(error);
    if (closeClient || this.#closeWhenIdle || this.#clientWantsClose || this.#env.isDraining()) {
      this.#io.writeClient(errorAnswer(error, true, this.#method));
      this.#finish();
      return;
    }
    this.#io.writeClient(errorAnswer(error, false, this.#method));
    this.#nextRequest();
  }

  exchangeCut(): void {
    const exchange = this.#exchange;
    this.#exchange = undefined;
    exchange?.abort(new ClientAbortedError(), false);
    if (this.#phase === ClientPhase.Closed) return;
    this.#phase = ClientPhase.Closed;
    this.#env.sweep.delete(this);
    this.#io.resetClient();
  }

  switchedProtocols(): void {
    this.#enter(ClientPhase.Switched);
    this.#lastSwitchedActivity = this.#phaseSince;
    this.#requests.stop();
    // What the client sent behind its upgrade request is the new protocol's.
    const held = this.#held;
    this.#held = undefined;
    for (const data of held ?? []) if (!this.#io.writeUpstream(data)) this.#pause(PAUSED_FOR_UPSTREAM);
    this.#resume(PAUSED_HOLDING);
  }

  // -------------------------------------------------------------------------------------------------------------

  /** The response has ended and the connection stays: the held bytes are scanned as the next request. */
  #nextRequest(): void {
    this.#enter(ClientPhase.Idle);
    this.#clientWantsClose = false;
    // A refusal of what comes next (a malformed head) must not be recorded under the last request's target.
    this.#method = '';
    this.#rejectTarget = '';
    this.#requests.resume();
    const held = this.#held;
    this.#held = undefined;
    // Not resumed yet: the held bytes may hold the client again.
    this.#pausedFor &= ~PAUSED_HOLDING;
    // One scan of all that was held: a request in it holds what follows it again, and a CONNECT in it takes what
    // follows it into the tunnel.
    if (held !== undefined && held.length > 0) this.clientData(held.length === 1 ? (held[0] as Buffer) : Buffer.concat(held));
    if (this.#phase === ClientPhase.Idle && this.#closeWhenIdle) {
      this.#finish();
      return;
    }
    this.#resume(PAUSED_HOLDING);
  }

  /** The client's body went quiet while the proxy was reading it. */
  #bodyTimeout(): void {
    const exchange = this.#exchange as Exchange;
    const error = new ClientBodyTimeoutError();
    if (exchange.responseStarted) {
      this.#exchange = undefined;
      exchange.abort(error, false);
      this.#cut();
      return;
    }
    this.#exchange = undefined;
    exchange.abort(error, true);
    this.#io.writeClient(errorAnswer(error, true, this.#method));
    this.#finish();
  }

  /** Refuses what the client sent (a reject, or bytes that are not HTTP/1.x we can frame): answer, then close. */
  #refuse(error: RejectError): void {
    this.#recordReject(error);
    const exchange = this.#exchange;
    this.#exchange = undefined;
    // Inside a response already on its way an answer of ours would read as part of its body: cut instead.
    if (exchange?.responseStarted === true) {
      exchange.abort(error, false);
      this.#cut();
      return;
    }
    if (exchange !== undefined && !exchange.started) exchange.withdraw();
    else exchange?.abort(error, true);
    this.#io.writeClient(errorAnswer(error, true, this.#method));
    this.#finish();
  }

  #recordReject(error: RejectError): void {
    this.#settings.observers.onReject({
      clientIp: this.#client.clientIp,
      reason: error.reason,
      clientFailure: error instanceof RequestHeadersTimeoutError ? 'headers_timeout' : undefined,
      statusCode: error.statusCode,
      method: this.#method,
      // Redacted here, on the rare refusal rather than for every head, as a log line would be (full paths: the
      // access log applies its own setting when it writes it): no userinfo, no query.
      target: targetForLog(this.#rejectTarget, FULL_PATHS),
    });
  }

  /** The client is gone or gives up: whatever is in flight is abandoned and recorded as such. */
  #abandon(failure: ClientAbortedError): void {
    if (this.#phase === ClientPhase.Switched) {
      this.#closeSwitched();
      return;
    }
    const exchange = this.#exchange;
    this.#exchange = undefined;
    this.#phase = ClientPhase.Closed;
    this.#env.sweep.delete(this);
    exchange?.abort(failure, false);
  }

  #closeSwitched(): void {
    const exchange = this.#exchange;
    this.#exchange = undefined;
    this.#phase = ClientPhase.Closed;
    this.#env.sweep.delete(this);
    exchange?.closeSwitched();
    this.#io.closeClient();
  }

  /** Ends the connection after what has been written: nothing more is read. */
  #finish(): void {
    if (this.#phase === ClientPhase.Closing || this.#phase === ClientPhase.Closed) return;
    this.#enter(ClientPhase.Closing);
    this.#env.sweep.delete(this);
    this.#io.finishClient();
  }

  /** A quiet close: nothing was owed (an idle keep-alive connection). */
  #close(): void {
    this.#phase = ClientPhase.Closed;
    this.#env.sweep.delete(this);
    this.#io.closeClient();
  }

  /** A reset: something incomplete went out, and the client must not take it for complete. */
  #cut(): void {
    this.#phase = ClientPhase.Closed;
    this.#env.sweep.delete(this);
    this.#io.resetClient();
  }

  #enter(phase: ClientPhase): void {
    this.#phase = phase;
    this.#phaseSince = this.#time;
  }

  /** Reads the clock once for the event being handled: everything it sets off shares that time. */
  #stamp(): number {
    this.#time = this.#env.now();
    return this.#time;
  }

  #pause(reason: number): void {
    this.#pausedFor |= reason;
    if (this.#clientPaused) return;
    this.#clientPaused = true;
    this.#io.pauseClient();
  }

  #pauseForUpstream(): void {
    if ((this.#pausedFor & PAUSED_FOR_UPSTREAM) === 0) this.#pausedForUpstreamSince = this.#time;
    this.#pause(PAUSED_FOR_UPSTREAM);
  }

  #resume(reason: number): void {
    if (reason === PAUSED_FOR_UPSTREAM && this.#pausedForUpstreamSince !== undefined) {
      this.#pausedForUpstreamSince = undefined;
      // The body timer runs from the moment the client is read again, not from its last byte before the pause.
      this.#lastClientByte = this.#time;
    }
    this.#pausedFor &= ~reason;
    if (this.#pausedFor !== 0 || !this.#clientPaused || this.#phase === ClientPhase.Closed || this.#phase === ClientPhase.Closing) return;
    this.#clientPaused = false;
    this.#io.resumeClient();
  }
}

/** What a scan that threw is answered with. */
const FULL_PATHS = { fullPaths: true } as const;

function asRequestRefusal(err: unknown): RejectError {
  if (err instanceof RejectError) return err;
  if (err instanceof HeadTooLargeError) return new RequestHeadTooLargeError();
  if (err instanceof MessageHeadError) return new MalformedRequestError(err.message);
  throw err;
}
