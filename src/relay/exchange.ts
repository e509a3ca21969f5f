/**
 * The upstream side of one request, for both routes: a slot for the origin, a connection (pooled or dialled), the
 * rewritten head and the body bytes as they arrive, the response scanned and relayed, and exactly one
 * HttpExchangeRecord however it ends. The client side (connection-relay.ts) owns the client connection, the order
 * of requests and the client's timeouts; this side owns everything about the upstream.
 *
 * Phases (UpstreamPhase): WaitingForSlot → Connecting → AwaitingHead → ReceivingBody → Done, or → Switched after
 * a 101 (bytes both ways until either side closes). Each waiting phase is bounded: a slot and a connection by
 * `timeouts.connect` (504), the response by `timeouts.upstream_response` of upstream silence while the proxy is
 * not waiting on the client (504, or a reset mid-body).
 *
 * Behaviours that are easy to get wrong and are decided here once:
 * - A close-delimited response (no length, not chunked) goes to an HTTP/1.1 client re-framed as chunked, so the
 *   client can tell the end from a cut, and the client connection can even stay open. A response cut short in any
 *   framing ends with a TCP reset, never a FIN that would make the part look whole (curl: exit 56, not 0).
 * - A pooled connection the origin closed just as we reused it fails before any response byte: a request that is
 *   safe to replay (an idempotent method with no body) is sent once more on a new connection, as Go's Transport
 *   does. Never a request with a body.
 * - Byte counts are what went through, counted as it goes: a cut response reports what reached the client.
 */
import {
  ClientFailureError,
  ClientStalledError,
  ProxyError,
  RejectError,
  UpstreamConnectTimeoutError,
  UpstreamError,
  UpstreamFailedError,
  ParentProxyAuthError,
  UpstreamResetError,
  UpstreamResponseTimeoutError,
  toUpstreamError,
} from '../errors.js';
import { responseBodyFraming, type BodyFraming } from '../http1/body-framing.js';
import { fieldHasToken, fieldValues, MessageHeadError, parseRelayedResponseHead, type RequestHead, type ResponseHead } from '../http1/message-head.js';
import { MAX_HEAD_BYTES, MessageScanner, type MessageListener } from '../http1/message-scanner.js';
import type { ConnectionTracker } from './connection-tracker.js';
import type { ExchangeKind, ExchangeObservers } from './exchange-records.js';
import { connectionOptions, responseHeadForClient, type ConnectionOptions } from './message-heads.js';
import type { OriginSlots, SlotHolder } from './origin-slots.js';
import type { RelayIo } from './relay-io.js';
import type { RelaySettings } from './relay-settings.js';
import type { AbsoluteTarget } from './request-target.js';
import type { DialTarget } from './upstream-dialer.js';

export const enum UpstreamPhase {
  /** Queued for one of the origin's slots (limits.upstream_max_sockets_per_host, per client share). */
  WaitingForSlot,
  /** A pooled connection being taken, or a new one dialled. */
  Connecting,
  /** The request is going out; no final response head yet (interim ones may have passed). */
  AwaitingHead,
  /** The final response head has gone to the client; its body is streaming. */
  ReceivingBody,
  /** A 101: the connection carries another protocol, both ways, until either side closes. */
  Switched,
  /** Complete, failed or abandoned: the upstream has been let go and the record written. */
  Done,
}

/** What the exchange tells the client side, and asks it. */
export interface ExchangeOwner {
  /** The time of the event being handled (the sweep's clock), read once per event by the owner. */
  readonly time: number;
  /** Reads the clock afresh, for what happens outside the owner's own events (a slot given back by another). */
  stamp(): number;
  /** Whether the client connection is to close after this response (asked for, HTTP/1.0, or draining). */
  closesAfterResponse(): boolean;
  /** The upstream takes request body bytes again (after sendBody returned false). */
  requestBodyAccepted(): void;
  /** The final response is complete; `closeClient` says the client connection ends with it. */
  exchangeEnded(closeClient: boolean): void;
  /** The exchange failed before any response reached the client: answer with `error`; close if framing is lost. */
  exchangeFailed(error: ProxyError, closeClient: boolean): void;
  /** The exchange failed after its response began: the client connection must be cut with a reset. */
  exchangeCut(): void;
  /** A 101 went to the client: from now on bytes pass both ways untouched. */
  switchedProtocols(): void;
}

/** The same object for every exchange of a connection (until a reload changes the settings): never changed. */
export interface ExchangeContext {
  readonly io: RelayIo;
  readonly owner: ExchangeOwner;
  readonly settings: RelaySettings;
  readonly slots: OriginSlots;
  /** Counts the exchange as in flight (requests_in_flight, drain) from its start until it is over. */
  readonly tracker: ConnectionTracker;
  readonly observers: ExchangeObservers;
  readonly kind: ExchangeKind;
  readonly clientIp: string;
}

/** Request bytes held per request while it waits for a slot or a connection; then the client is paused. */
const MAX_PENDING_BYTES = 64 * 1024;
const NO_BODY: BodyFraming = { kind: 'none' };
const LAST_CHUNK = '0\r\n\r\n';
const CRLF = '\r\n';
/** RFC 9110 §9.2.2: methods whose repetition has the effect of one; with no body they are safe to send again. */
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/**
 * The text of the response head parsed last. The scanner calls the listener's onHead synchronously right after the
 * parse, so the head being handled is always the one parsed last; a module-level capture spares every exchange
 * a closure of its own.
 */
let parsedResponseText = '';

/** Parses a response head, keeping its text for the rewrite (field lines go on as they arrived). */
function parseResponse(text: string, bytes: Buffer, offset: number): ResponseHead {
  parsedResponseText = text;
  // One reason-phrase policy: a phrase with control characters is not refused but replaced by the standard one.
  return parseRelayedResponseHead(text, bytes, offset);
}

export class Exchange implements MessageListener<ResponseHead>, SlotHolder {
  readonly #ctx: ExchangeContext;
  readonly #io: RelayIo;
  readonly head: RequestHead;
  readonly #target: AbsoluteTarget;
  readonly #dialTarget: DialTarget;
  readonly #origin: string;
  /** Where the connection is pooled: the origin, or the parent proxy that plain http:// goes through. */
  readonly #poolKey: string;
  /** Plain http:// through the parent proxy: the head went in absolute-form, and a 407 is the parent's. */
  readonly #viaParent: boolean;
  readonly #started: number;
  /** The head as the origin gets it, kept for a replay until the response begins. */
  #requestHead: string | undefined;
  readonly #replayable: boolean;
  readonly expectsContinue: boolean;
  readonly upgradeRequested: boolean;
  #phase = UpstreamPhase.WaitingForSlot;
  #phaseSince: number;

  // The request side.
  #requestComplete = false;
  #bodyBytesFromClient = 0;
  /**
   * Request bytes (head first) not written yet: there is no upstream connection to write them to, or the client
   * read that brought the head is still being scanned (see headReadScanned).
   */
  #pending: Array<Buffer | string> | undefined;
  #pendingBytes = 0;
  /** The client read that brought the head is being scanned: the head waits for the body bytes that came with it. */
  #inHeadRead = true;

  // The upstream connection.
  #admitted = false;
  #slotHeld = false;
  #waitingForSlot = false;
  #inFlight = true;
  #hasConnection = false;
  #reused = false;
  #retried = false;
  /** Bytes received from the upstream on the current connection: a replay is only safe before the first. */
  #upstreamBytes = 0;
  #lastUpstreamActivity: number;
  #upstreamPausedSince: number | undefined;
  #responses: MessageScanner<ResponseHead> | undefined;

  // The response side.
  #interim = false;
  /** An interim or final response has gone to the client. */
  #answered = false;
  #responseStarted = false;
  #responseComplete = false;
  /** A close-delimited body being re-framed as chunked for an HTTP/1.1 client. */
  #rechunk = false;
  #closeClientAfter = false;
  /** Whether the upstream connection can serve another request once this response has ended. */
  #reusable: boolean;
  #statusCode: number | undefined;
  #failure: ProxyError | undefined;
  #bytesToClient = 0;

  /** `started`: when the request head was read (the caller's clock reading, spared a second one). */
  constructor(ctx: ExchangeContext, head: RequestHead, requestHead: string, target: AbsoluteTarget, upgradeRequested: boolean, bodyless: boolean, started: number) {
    this.#ctx = ctx;
    this.#io = ctx.io;
    this.head = head;
    this.#target = target;
    this.#origin = target.origin;
    // https:// goes through a parent as a CONNECT tunnel (the dialer's), which is a connection to the origin.
    const parent = target.protocol === 'http:' ? ctx.settings.upstreamProxy : undefined;
    this.#viaParent = parent !== undefined && parent.carries(target.host);
    this.#poolKey = this.#viaParent ? parent!.poolKey : this.#origin;
    if (this.#viaParent) requestHead = parent!.forwardHead(requestHead, target);
    this.#dialTarget = { host: target.host, port: target.port, authority: target.authority, tls: target.protocol === 'https:' };
    this.#started = started;
    this.#phaseSince = started;
    ctx.tracker.requestStarted();
    this.#lastUpstreamActivity = this.#started;
    this.upgradeRequested = upgradeRequested;
    this.expectsContinue = head.minorVersion === 1 && hasField(head, 'expect') && fieldHasToken(head.headers, 'expect', '100-continue');
    this.#replayable = bodyless && !upgradeRequested && (IDEMPOTENT_METHODS.has(head.method) || hasIdempotencyKey(head));
    if (this.#replayable) this.#requestHead = requestHead;
    this.#pending = [requestHead];
    this.#pendingBytes = requestHead.length;
    // An HTTP/1.0 request goes on as one, without keep-alive: the origin closes after answering it.
    this.#reusable = head.minorVersion === 1;
  }

  get phase(): UpstreamPhase {
    return this.#phase;
  }

  /** Whether any of the final response has gone to the client (after which no answer of ours can follow). */
  get responseStarted(): boolean {
    return this.#responseStarted;
  }

  /** Request body bytes received so far. */
  get bodyBytesFromClient(): number {
    return this.#bodyBytesFromClient;
  }

  /** Whether the client has been sent anything for this request (an interim response counts). */
  get answered(): boolean {
    return this.#answered;
  }

  /**
   * Asks for a slot, then a connection; the head and whatever body has arrived by then go out once there is one.
   * Until then (a guard still deciding whether the request may go at all) the body is held as for a slot.
   */
  start(): void {
    this.#admitted = true;
    if (this.#ctx.slots.acquire(this.#origin, this.#ctx.clientIp, this)) this.#granted();
    else this.#waitingForSlot = true;
  }

  /** Whether start() has been called: the request was admitted and asked for its upstream. */
  get started(): boolean {
    return this.#admitted;
  }

  /**
   * Ends an exchange that never started because its request was refused after all (a guard that decided late):
   * nothing went upstream, and the refusal's reject record stands for it, so no exchange record is written.
   */
  withdraw(): void {
    if (this.#phase === UpstreamPhase.Done) return;
    this.#phase = UpstreamPhase.Done;
    this.#notInFlight();
  }

  /** SlotHolder: a slot another request gave back is this exchange's. */
  slotGranted(): void {
    this.#ctx.owner.stamp();
    this.#granted();
  }

  #granted(): void {
    this.#waitingForSlot = false;
    this.#slotHeld = true;
    if (this.#phase === UpstreamPhase.Done) this.#releaseSlot();
    else this.#open(false);
  }

  #open(fresh: boolean): void {
    this.#enter(UpstreamPhase.Connecting);
    this.#hasConnection = true;
    this.#io.openUpstream(this.#dialTarget, this.#poolKey, fresh);
  }

  /** The upstream connection is there (`reused`: from the pool): what waited goes out. */
  upstreamOpened(reused: boolean): void {
    if (this.#phase !== UpstreamPhase.Connecting) return;
    this.#reused = reused;
    this.#upstreamBytes = 0;
    this.#enter(UpstreamPhase.AwaitingHead);
    this.#lastUpstreamActivity = this.#phaseSince;
    this.#responses = new MessageScanner(parseResponse, this, MAX_HEAD_BYTES);
    // While the read that brought the head is scanned, the body bytes that came with it join the head first.
    if (!this.#inHeadRead) this.#writePending();
  }

  /**
   * The client read that brought the request head has been scanned (the owner calls this after each scan; only the
   * first one counts): what it held of the request goes out now if there is a connection.
   */
  headReadScanned(): void {
    if (!this.#inHeadRead) return;
    this.#inHeadRead = false;
    if (this.#phase === UpstreamPhase.AwaitingHead && this.#pending !== undefined) this.#writePending();
  }

  /**
   * The head and the body bytes that came with it go out in one write of one buffer: on loopback a write costs a
   * syscall and a TCP segment (and for TLS a record) whatever its size, and one buffer spares the socket's corked
   * writev of a string and buffers (a copy into one record either way, Node's for TLS, ours here).
   */
  #writePending(): void {
    const pending = this.#pending as Array<Buffer | string>;
    this.#pending = undefined;
    const bytes = this.#pendingBytes;
    this.#pendingBytes = 0;
    if (this.#io.writeUpstream(pending.length === 1 ? (pending[0] as Buffer | string) : joined(pending, bytes))) this.#ctx.owner.requestBodyAccepted();
  }

  /** Body bytes from the client; false when they cannot be taken now (wait for requestBodyAccepted). */
  sendBody(data: Buffer): boolean {
    this.#bodyBytesFromClient += data.length;
    if (this.#phase === UpstreamPhase.Done) return true;
    if (this.#pending !== undefined) {
      // A body chunk is a view of a read that may be reused: copied, unless it joins the head before this read's
      // scan returns (a connection is there, and the read that brought the head is the one being scanned).
      this.#pending.push(this.#inHeadRead && this.#phase === UpstreamPhase.AwaitingHead ? data : Buffer.from(data));
      this.#pendingBytes += data.length;
      return this.#pendingBytes < MAX_PENDING_BYTES;
    }
    return this.#io.writeUpstream(data);
  }

  /** The request's body is complete. */
  endRequest(): void {
    this.#requestComplete = true;
  }

  upstreamDrained(): void {
    if (this.#phase !== UpstreamPhase.Done) this.#ctx.owner.requestBodyAccepted();
  }

  clientDrained(): void {
    if (this.#upstreamPausedSince === undefined) return;
    this.#upstreamPausedSince = undefined;
    this.#io.resumeUpstream();
  }

  upstreamData(data: Buffer): void {
    if (this.#phase === UpstreamPhase.Done) return;
    this.#lastUpstreamActivity = this.#ctx.owner.time;
    this.#upstreamBytes += data.length;
    if (this.#phase === UpstreamPhase.Switched) {
      this.#writeClient(data);
      return;
    }
    let used: number;
    try {
      used = (this.#responses as MessageScanner<ResponseHead>).push(data);
    } catch (err) {
      if (err instanceof ParentProxyAuthError) return this.#fail(err);
      if (!(err instanceof MessageHeadError)) throw err;
      this.#fail(new UpstreamFailedError(this.#target.authority, `invalid response: ${err.message}`));
      return;
    }
    // The scan ran the listener, which may have moved the phase on.
    const phase = this.#phase as UpstreamPhase;
    if (phase === UpstreamPhase.Switched) {
      // What came behind the 101 is the new protocol's already.
      if (used < data.length) this.#writeClient(data.subarray(used));
      return;
    }
    if (!this.#responseComplete || phase === UpstreamPhase.Done) return;
    // Bytes after the response it owed: the origin and we disagree about where its messages end (a body on a HEAD
    // answer, a second response), so whatever it sends next on this connection cannot be trusted to any request.
    if (used < data.length) this.#reusable = false;
    this.#finish(true);
  }

  upstreamEnd(): void {
    if (this.#phase === UpstreamPhase.Done || this.#phase === UpstreamPhase.Switched) return;
    const responses = this.#responses;
    // A body that runs until the close ends here; anything else cut short is a failure.
    const truncated = responses === undefined || responses.end().truncated;
    if (this.#responseComplete) {
      this.#reusable = false;
      this.#finish(true);
      return;
    }
    this.#fail(resetError(truncated ? 'upstream closed before the response was complete' : 'upstream closed before responding'));
  }

  upstreamFailed(err: Error): void {
    this.#fail(err);
  }

  upstreamClosed(err: Error | undefined): void {
    this.#fail(err ?? resetError('upstream closed before the response was complete'));
  }

  /**
   * The client side ends the exchange (the client left, timed out, sent something unframeable, or the relay is
   * cutting the connection): the upstream is let go at once and the exchange recorded with `failure`. `answered`
   * says the client gets `failure`'s status as its answer.
   */
  abort(failure: ProxyError, answered: boolean): void {
    if (this.#phase === UpstreamPhase.Done) return;
    if (this.#phase === UpstreamPhase.Switched) {
      this.closeSwitched();
      return;
    }
    this.#failure = failure;
    if (answered) this.#statusCode = failure.statusCode;
    else if (!this.#responseStarted) this.#statusCode = undefined;
    this.#reusable = false;
    this.#finish(false);
  }

  /**
   * Checks this side's deadlines. `clientIdleSince` is when the client side stopped being read for this exchange
   * (its body complete, or paused for the upstream), undefined while the client is the one being waited for.
   */
  expire(now: number, clientIdleSince: number | undefined): void {
    const { timeouts } = this.#ctx.settings;
    switch (this.#phase) {
      case UpstreamPhase.WaitingForSlot:
        // Waiting for a slot is part of getting a connection, and bounded like it: origins that hold every slot
        // (slow uploads, answers that trickle) must not make the requests queued behind them wait without end.
        if (now - this.#phaseSince >= timeouts.connectMs) {
          this.#fail(new UpstreamConnectTimeoutError(this.#target.authority, `no connection to the origin free within ${timeouts.connectMs} ms (limits.upstream_max_sockets_per_host)`));
        }
        return;
      case UpstreamPhase.Connecting:
        if (now - this.#phaseSince >= timeouts.connectMs) {
          this.#fail(new UpstreamConnectTimeoutError(this.#target.authority, `connect timed out after ${timeouts.connectMs} ms`));
        }
        return;
      case UpstreamPhase.AwaitingHead:
      case UpstreamPhase.ReceivingBody:
        if (this.#upstreamPausedSince !== undefined) {
          // The client is not reading what the origin sent: the client's failure, not the origin's.
          if (now - this.#upstreamPausedSince >= timeouts.upstreamResponseMs) {
            this.#failure = new ClientStalledError();
            this.#reusable = false;
            this.#finish(false);
            this.#ctx.owner.exchangeCut();
          }
        } else if (clientIdleSince !== undefined) {
          const silentSince = Math.max(this.#lastUpstreamActivity, clientIdleSince);
          if (now - silentSince >= timeouts.upstreamResponseMs) {
            this.#fail(new UpstreamResponseTimeoutError(this.#target.authority, `no data for ${timeouts.upstreamResponseMs} ms`));
          }
        }
        return;
      default:
        return;
    }
  }

  /** After a 101: the connection is over for this exchange's part (the relay closes both sides). */
  closeSwitched(): void {
    if (this.#phase !== UpstreamPhase.Switched) return;
    this.#phase = UpstreamPhase.Done;
    this.#io.releaseUpstream(false);
    this.#releaseSlot();
    this.#notInFlight();
  }

  // -------------------------------------------------------------------------------------------------------------
  // The response scanner's listener (MessageListener): not for anyone else to call
  // -------------------------------------------------------------------------------------------------------------

  onHead(head: ResponseHead): BodyFraming {
    if (this.#phase === UpstreamPhase.Done) return NO_BODY;
    // The parser has refused status codes outside 100-599 (RFC 9110 §15): the relay answers those 502.
    const status = head.statusCode;
    const clientMinor = this.head.minorVersion;
    // Framing first, for every response: it also refuses what no response may be (a 1xx that ends the connection,
    // ambiguous framing fields even where there is no body).
    const framing = responseBodyFraming(this.head.method, status, head.minorVersion, head.headers);
    // Through a parent proxy, a 407 is the parent asking us (not the client) for credentials: ours are missing or
    // wrong, which is the operator's to fix. Passed on, it would ask the client for the parent's password.
    if (status === 407 && this.#viaParent) {
      throw new ParentProxyAuthError(this.#target.authority, 'the upstream proxy answered 407 to a forwarded request');
    }
    if (status === 101) {
      // Only a switch that was asked for, and passed on: anything else means the origin and we disagree.
      if (!this.upgradeRequested) throw new MessageHeadError('switched protocols without being asked');
      this.#switch(head);
      return NO_BODY;
    }
    if (status < 200) {
      this.#interim = true;
      // RFC 9110 §15.2: a 1xx is not forwarded to an HTTP/1.0 client, which cannot expect one.
      if (clientMinor === 1) {
        this.#answered = true;
        this.#writeClient(responseHeadForClient(head, parsedResponseText, connectionOptions(head.headers), { chunked: false, close: false, upgrade: false, via: this.#ctx.settings.via }));
      }
      return NO_BODY;
    }
    this.#interim = false;
    // A 1.1 origin must not chunk its answer to a 1.0 request (RFC 9112 §6.1), which is what went upstream.
    if (framing.kind === 'chunked' && clientMinor === 0) throw new MessageHeadError('chunked response to an HTTP/1.0 request');
    const options = connectionOptions(head.headers);
    if (!isPersistent(head, options) || framing.kind === 'close') this.#reusable = false;
    this.#rechunk = framing.kind === 'close' && clientMinor === 1;
    // A response that comes before the request's body is done: the rest of that body is never read, so the
    // connection's framing ends with this response.
    this.#closeClientAfter = (framing.kind === 'close' && !this.#rechunk) || !this.#requestComplete || this.#ctx.owner.closesAfterResponse();
    this.#statusCode = status;
    this.#requestHead = undefined;
    this.#answered = true;
    this.#responseStarted = true;
    // No deadline of its own: the upstream's silence is measured from its last byte.
    this.#phase = UpstreamPhase.ReceivingBody;
    // The head and the body bytes that came with it leave in one write (see upstreamOpened); a head without a body
    // (an empty 200 or 204, DataKit's usual answer) is one write without it.
    if (framing.kind !== 'none' || this.#rechunk) this.#io.corkClient();
    this.#writeClient(responseHeadForClient(head, parsedResponseText, options, { chunked: this.#rechunk, close: this.#closeClientAfter, upgrade: false, via: this.#ctx.settings.via }));
    return framing;
  }

  onBody(data: Buffer): void {
    if (this.#phase !== UpstreamPhase.ReceivingBody) return;
    this.#bytesToClient += data.length;
    if (this.#rechunk) {
      this.#io.corkClient();
      this.#io.writeClient(`${data.length.toString(16)}${CRLF}`);
      this.#io.writeClient(data);
      this.#writeClient(CRLF);
      return;
    }
    this.#writeClient(data);
  }

  onMessageEnd(): void {
    if (this.#interim) {
      this.#interim = false;
      return;
    }
    if (this.#phase !== UpstreamPhase.ReceivingBody) return;
    if (this.#rechunk) this.#writeClient(LAST_CHUNK);
    // Finished once the scan of this read returns (upstreamData), when it is known whether more followed.
    this.#responseComplete = true;
    (this.#responses as MessageScanner<ResponseHead>).stop();
  }

  #switch(head: ResponseHead): void {
    this.#statusCode = 101;
    this.#answered = true;
    this.#responseStarted = true;
    this.#responseComplete = true;
    this.#requestHead = undefined;
    this.#phase = UpstreamPhase.Switched;
    (this.#responses as MessageScanner<ResponseHead>).stop();
    this.#writeClient(responseHeadForClient(head, parsedResponseText, connectionOptions(head.headers), { chunked: false, close: false, upgrade: true, via: this.#ctx.settings.via }));
    // The exchange is recorded now; it stays in flight (and its slot held) until the switched connection closes.
    this.#report();
    this.#ctx.owner.switchedProtocols();
  }

  // -------------------------------------------------------------------------------------------------------------

  #writeClient(data: Buffer | string): void {
    if (this.#io.writeClient(data) || this.#upstreamPausedSince !== undefined || !this.#hasConnection) return;
    this.#upstreamPausedSince = this.#ctx.owner.time;
    this.#io.pauseUpstream();
  }

  #fail(err: unknown): void {
    if (this.#phase === UpstreamPhase.Done) return;
    if (this.#phase === UpstreamPhase.Switched) {
      this.#ctx.owner.exchangeCut();
      return;
    }
    const failure = err instanceof RejectError || err instanceof ClientFailureError ? err : toUpstreamError(err, this.#target.authority);
    if (this.#canReplay(failure)) {
      this.#replay();
      return;
    }
    this.#failure = failure;
    this.#reusable = false;
    if (this.#responseStarted) {
      this.#finish(false);
      this.#ctx.owner.exchangeCut();
      return;
    }
    this.#statusCode = failure.statusCode;
    // A refusal (the name resolved to this proxy) closes like every refusal; an upstream failure keeps the client
    // connection when the request's body has been read to its end.
    const closeClient = failure instanceof RejectError || !this.#requestComplete;
    this.#finish(false);
    this.#ctx.owner.exchangeFailed(failure, closeClient);
  }

  /**
   * Go's Transport rule (shouldRetryRequest): a connection taken from the pool that fails before a single byte of
   * response, for a request that can be sent again as it was (idempotent, no body), gets one more try on a new
   * connection. The origin closed an idle connection as we reused it; it never saw the request.
   */
  #canReplay(failure: ProxyError): boolean {
    return (
      this.#reused &&
      !this.#retried &&
      this.#requestHead !== undefined &&
      this.#requestComplete &&
      this.#upstreamBytes === 0 &&
      !this.#answered &&
      failure instanceof UpstreamResetError
    );
  }

  #replay(): void {
    this.#retried = true;
    this.#io.releaseUpstream(false);
    const head = this.#requestHead as string;
    this.#pending = [head];
    this.#pendingBytes = head.length;
    this.#open(true);
  }

  /** Ends the exchange once: the upstream connection back to the pool or closed, the slot given back, the record. */
  #finish(responseComplete: boolean): void {
    this.#phase = UpstreamPhase.Done;
    if (this.#waitingForSlot) {
      this.#waitingForSlot = false;
      this.#ctx.slots.withdraw(this.#origin, this);
    }
    if (this.#hasConnection) {
      this.#hasConnection = false;
      if (this.#upstreamPausedSince !== undefined) {
        this.#upstreamPausedSince = undefined;
        this.#io.resumeUpstream();
      }
      this.#io.releaseUpstream(responseComplete && this.#reusable && this.#requestComplete);
    }
    this.#releaseSlot();
    this.#report();
    this.#notInFlight();
    if (responseComplete) this.#ctx.owner.exchangeEnded(this.#closeClientAfter);
  }

  #notInFlight(): void {
    if (!this.#inFlight) return;
    this.#inFlight = false;
    this.#ctx.tracker.requestEnded();
  }

  #releaseSlot(): void {
    if (!this.#slotHeld) return;
    this.#slotHeld = false;
    this.#ctx.slots.release(this.#origin, this.#ctx.clientIp);
  }

  #enter(phase: UpstreamPhase): void {
    this.#phase = phase;
    this.#phaseSince = this.#ctx.owner.time;
  }

  #report(): void {
    const failure = this.#failure;
    this.#ctx.observers.onHttpExchange({
      kind: this.#ctx.kind,
      clientIp: this.#ctx.clientIp,
      method: this.head.method,
      origin: this.#origin,
      path: this.#target.pathname,
      statusCode: this.#statusCode,
      errorCode: failure?.code,
      upstreamFailure: failure instanceof UpstreamError ? failure.reason : undefined,
      clientFailure: failure instanceof ClientFailureError ? failure.reason : undefined,
      bytesFromClient: this.#bodyBytesFromClient,
      bytesToClient: this.#bytesToClient,
      durationSeconds: (this.#ctx.owner.time - this.#started) / 1000,
    });
  }
}

/** RFC 9112 §9.3: whether the origin keeps the connection open after this response. */
function isPersistent(head: ResponseHead, options: ConnectionOptions): boolean {
  if (options.close) return false;
  return head.minorVersion === 1 || options.keepAlive;
}

function hasField(head: RequestHead, name: string): boolean {
  for (const field of head.headers) if (field.name === name) return true;
  return false;
}

/** An explicit promise that the request may be repeated (the header Go's Transport honours). */
function hasIdempotencyKey(head: RequestHead): boolean {
  return fieldValues(head.headers, 'idempotency-key').length > 0 || fieldValues(head.headers, 'x-idempotency-key').length > 0;
}

/** `chunks` (latin1 strings and buffers, `bytes` in all) as one buffer. */
function joined(chunks: ReadonlyArray<Buffer | string>, bytes: number): Buffer {
  const buffer = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (const chunk of chunks) {
    if (typeof chunk === 'string') at += buffer.write(chunk, at, 'latin1');
    else {
      buffer.set(chunk, at);
      at += chunk.length;
    }
  }
  return buffer;
}

function resetError(message: string): Error {
  return Object.assign(new Error(message), { code: 'ECONNRESET' });
}
