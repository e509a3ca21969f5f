/**
 * The upstream side of one forwarded request (absolute-URI forwarding): takes a slot for the origin, a pooled
 * connection (or dials one, verifying TLS for `https://` targets), writes the rewritten head and relays the body
 * bytes as they arrive, scans the response, hands it to the client side, and reports exactly one
 * HttpExchangeRecord. The client side (client-connection.ts) owns the client socket and the order of requests.
 *
 * Why bytes and not Node's HTTP server and client (what this replaced): a request then costs one head parse and
 * one head write each way, and its body is written on as it was read. On the bench machine that is the
 * difference between forwarding at about a third of direct and near the floor relay (docs/benchmarks.md).
 */
import net, { isIP, type LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import {
  RejectError,
  UpstreamConnectTimeoutError,
  UpstreamError,
  UpstreamFailedError,
  UpstreamResponseTimeoutError,
  toUpstreamError,
  type ProxyError,
} from '../errors.js';
import { responseBodyFraming, type BodyFraming } from '../http1/body-framing.js';
import { fieldHasToken, MessageHeadError, parseResponseHead, type RequestHead, type ResponseHead } from '../http1/message-head.js';
import { MAX_HEAD_BYTES, MessageScanner } from '../http1/message-scanner.js';
import type { ConnectionTracker } from '../relay/connection-tracker.js';
import type { ExchangeObservers } from '../relay/exchange-records.js';
import { forwardedInterimHead, forwardedRequestHead, forwardedResponseHead } from '../relay/forwarded-heads.js';
import { addListeners } from '../relay/listeners.js';
import type { OriginSlots } from '../relay/origin-slots.js';
import { corkUntilNextTick, discardSocket } from '../relay/socket-writes.js';
import type { AbsoluteTarget } from '../relay/request-target.js';
import type { UpstreamConnectionPool } from '../relay/upstream-pool.js';
import type { UpstreamTlsSettings } from '../relay/upstream-tls.js';

/** Request bytes held per request while it waits for a slot or a connection; then the client is paused. */
const MAX_PENDING_BYTES = 64 * 1024;

const parseForwardedResponseHead = (text: string): ResponseHead => parseResponseHead(text, true);

/** What plain forwarding shares across requests and connections. */
export interface ForwardingDeps {
  observers: ExchangeObservers;
  tracker: ConnectionTracker;
  upstreamTls: UpstreamTlsSettings;
  /** Idle upstream connections, keyed by scheme and authority. */
  pool: UpstreamConnectionPool;
  slots: OriginSlots;
  connectTimeoutMs: number;
  /** Silence from the upstream, while a response is owed, before the exchange fails (504, or a cut mid-body). */
  upstreamResponseTimeoutMs: number;
}

/** How an exchange talks back to the client connection it belongs to. */
export interface ExchangeClient {
  /** Writes to the client; false when its buffer is full, and then `onDrain` is called once it has drained. */
  write(data: Buffer | string, onDrain: () => void): boolean;
  /** Holds writes to the client until the next tick, so that what is written meanwhile leaves as one. */
  corkWritesUntilNextTick(): void;
  /** The upstream takes more of the request body again (after sendBody returned false). */
  resumeRequestBody(): void;
  /** Whether the client connection is to close after this response (decided when the response head goes out). */
  closesAfterResponse(): boolean;
  /** The response is complete; `closeClient` says the client connection ends with it. */
  responseEnded(closeClient: boolean): void;
  /** The exchange failed before any response byte: answer with `error`; `closeClient` if framing is lost. */
  answerWithError(error: ProxyError, closeClient: boolean): void;
  /** The exchange failed mid-response: the only honest signal left is to cut the client connection. */
  cut(): void;
}

export class ForwardExchange {
  readonly #head: RequestHead;
  readonly #target: AbsoluteTarget;
  readonly #client: ExchangeClient;
  readonly #deps: ForwardingDeps;
  readonly #clientIp: string;
  readonly #lookup: LookupFunction | undefined;
  readonly #originKey: string;
  readonly #started = performance.now();
  readonly #done: () => void;
  readonly #responses: MessageScanner<ResponseHead>;
  #withdrawSlotRequest: (() => void) | undefined;
  /** Bounds the wait for a slot (timeouts.connect). */
  #slotTimer: NodeJS.Timeout | undefined;
  #slotHeld = false;
  #upstream: net.Socket | undefined;
  #detachUpstream: (() => void) | undefined;
  /** Request bytes (head first) written before there was an upstream connection to write them to. */
  #pending: Array<Buffer | string> | undefined = [];
  #pendingBytes = 0;
  #requestComplete = false;
  /** Body bytes as they arrived, until the end of the request gives the decoded count. */
  #bytesFromClient = 0;
  #bytesToClient = 0;
  #statusCode: number | undefined;
  #failure: ProxyError | undefined;
  #responseStarted = false;
  /** The final response has been scanned to its end. */
  #responseComplete = false;
  #interim = false;
  #closeClientAfter = false;
  /** Whether the upstream connection can serve another request once this response has ended. */
  #reusable: boolean;
  #upstreamPaused = false;
  #over = false;

  constructor(head: RequestHead, target: AbsoluteTarget, client: ExchangeClient, deps: ForwardingDeps, clientIp: string, lookup: LookupFunction | undefined) {
    this.#head = head;
    this.#target = target;
    this.#client = client;
    this.#deps = deps;
    this.#clientIp = clientIp;
    this.#lookup = lookup;
    this.#originKey = `${target.protocol}//${target.authority}`;
    this.#done = deps.tracker.trackRequest();
    // An HTTP/1.0 request goes on as one, without keep-alive: the origin closes after answering it.
    this.#reusable = head.minorVersion === 1;
    this.#responses = new MessageScanner(parseForwardedResponseHead, {
      onHead: (responseHead) => this.#onResponseHead(responseHead),
      onBody: (data) => this.#writeClient(data),
      onMessageEnd: (bodyBytes) => this.#onResponseEnd(bodyBytes),
    }, MAX_HEAD_BYTES);
    this.#send(forwardedRequestHead(head, target));
  }

  /** Whether any of the response has gone to the client (after which no answer of ours can follow). */
  get responseStarted(): boolean {
    return this.#responseStarted;
  }

  /** Asks for a slot and a connection; the head and whatever body has arrived by then go out once there is one. */
  start(): void {
    this.#withdrawSlotRequest = this.#deps.slots.acquire(this.#originKey, () => {
      clearTimeout(this.#slotTimer);
      this.#slotHeld = true;
      this.#withdrawSlotRequest = undefined;
      if (this.#over) this.#releaseSlot();
      else this.#useConnection();
    });
    if (this.#slotHeld || this.#over) return;
    // Waiting for a slot is part of getting a connection, and bounded like it: origins that hold every slot (slow
    // uploads, answers that trickle) must not make the requests queued behind them wait without end.
    const { connectTimeoutMs } = this.#deps;
    this.#slotTimer = setTimeout(() => {
      this.#fail(new UpstreamConnectTimeoutError(this.#target.authority, `no connection to the origin free within ${connectTimeoutMs} ms (limits.upstream_max_sockets_per_host)`));
    }, connectTimeoutMs);
  }

  /** Body bytes from the client; false when the upstream's buffer is full (wait for resumeRequestBody). */
  sendBody(data: Buffer): boolean {
    this.#bytesFromClient += data.length;
    return this.#send(data);
  }

  /** The request's body is complete (`bodyBytes` decoded bytes). */
  endRequest(bodyBytes: number): void {
    this.#requestComplete = true;
    this.#bytesFromClient = bodyBytes;
  }

  /** The client connection is gone, or gave up on this request: drop the upstream side (if not done already). */
  abort(): void {
    if (this.#over) return;
    this.#upstream?.destroy();
    this.#finish(false);
  }

  #useConnection(): void {
    const { pool, upstreamTls, connectTimeoutMs } = this.#deps;
    const { host, port, authority, protocol } = this.#target;
    let upstream = pool.take(this.#originKey);
    let connectTimer: NodeJS.Timeout | undefined;
    if (upstream === undefined) {
      const common = { host, port, noDelay: true, ...(this.#lookup ? { lookup: this.#lookup } : {}) };
      upstream =
        protocol === 'https:'
          ? tls.connect({
              ...common,
              secureContext: upstreamTls.secureContext,
              rejectUnauthorized: upstreamTls.rejectUnauthorized,
              ALPNProtocols: ['http/1.1'],
              // SNI must not carry an IP address (RFC 6066 §3).
              ...(isIP(host) === 0 ? { servername: host } : {}),
            })
          : net.connect(common);
      // TLS sockets ignore the noDelay option; without it the last small segment of each body waits for the
      // peer's delayed ACK (40 ms on Linux).
      upstream.setNoDelay(true);
      const connecting = upstream;
      connectTimer = setTimeout(() => {
        connecting.destroy(new UpstreamConnectTimeoutError(authority, `connect timed out after ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      connecting.once(protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
    }
    this.#upstream = upstream;
    this.#detachUpstream = this.#attach(upstream, connectTimer);
    const pending = this.#pending as Array<Buffer | string>;
    this.#pending = undefined;
    // The head and the body bytes that came in the same read go out in one write: on loopback a write costs a
    // syscall and a TCP segment whatever its size, and a separate one for a 300-byte head was 1 in 8 of the
    // proxy's CPU per request.
    corkUntilNextTick(upstream);
    let accepted = true;
    for (const data of pending) accepted = this.#send(data);
    if (accepted) this.#client.resumeRequestBody();
  }

  #attach(upstream: net.Socket, connectTimer: NodeJS.Timeout | undefined): () => void {
    const timeoutMs = this.#deps.upstreamResponseTimeoutMs;
    upstream.setTimeout(timeoutMs);
    const remove = addListeners(upstream, {
      data: (data: Buffer) => this.#onUpstreamData(data),
      end: () => this.#onUpstreamEnd(),
      error: (err: Error) => this.#fail(err),
      close: () => this.#fail(Object.assign(new Error('upstream closed before the response was complete'), { code: 'ECONNRESET' })),
      timeout: () => this.#fail(new UpstreamResponseTimeoutError(this.#target.authority, `no data for ${timeoutMs} ms`)),
      drain: () => this.#client.resumeRequestBody(),
    });
    return () => {
      clearTimeout(connectTimer);
      upstream.setTimeout(0);
      remove();
    };
  }

  #send(data: Buffer | string): boolean {
    if (this.#pending !== undefined) {
      // Copied: a body chunk is a view of a read the client connection may reuse.
      this.#pending.push(typeof data === 'string' ? data : Buffer.from(data));
      this.#pendingBytes += data.length;
      return this.#pendingBytes < MAX_PENDING_BYTES;
    }
    const upstream = this.#upstream;
    if (upstream === undefined || upstream.destroyed || !upstream.writable) return true;
    // Heads are latin1 text (the bytes as they came, obs-text included), never re-encoded as UTF-8.
    return upstream.write(data, 'latin1');
  }

  #onUpstreamData(data: Buffer): void {
    let used: number;
    try {
      used = this.#responses.push(data);
    } catch (err) {
      if (!(err instanceof MessageHeadError)) throw err;
      this.#fail(new UpstreamFailedError(this.#target.authority, `invalid response: ${err.message}`));
      return;
    }
    if (!this.#responseComplete || this.#over) return;
    // Bytes after the response it owed: the origin and we disagree about where its messages end (a body on a HEAD
    // answer, a second response), so whatever it sends next on this connection cannot be trusted to any request.
    if (used < data.length) this.#reusable = false;
    this.#finish(true);
  }

  #onResponseHead(head: ResponseHead): BodyFraming {
    if (this.#over) return { kind: 'none' };
    if (head.statusCode === 101) {
      // The client's Upgrade was stripped as hop-by-hop, so the origin was never asked to switch.
      throw new MessageHeadError('switched protocols without being asked');
    }
    if (head.statusCode < 200) {
      this.#interim = true;
      // RFC 9110 §15.2: a 1xx is not forwarded to an HTTP/1.0 client, which cannot expect one.
      if (this.#head.minorVersion === 1) this.#writeClient(forwardedInterimHead(head));
      return { kind: 'none' };
    }
    this.#interim = false;
    const framing = responseBodyFraming(this.#head.method, head.statusCode, head.minorVersion, head.headers);
    // A 1.1 origin must not chunk its answer to a 1.0 request (RFC 9112 §6.1), which is what went upstream.
    if (framing.kind === 'chunked' && this.#head.minorVersion === 0) throw new MessageHeadError('chunked response to an HTTP/1.0 request');
    if (fieldHasToken(head.headers, 'connection', 'close') || (head.minorVersion === 0 && !fieldHasToken(head.headers, 'connection', 'keep-alive'))) {
      this.#reusable = false;
    }
    if (framing.kind === 'close') this.#reusable = false;
    // A response that comes before the request's body is done: the rest of that body is never read, so the
    // connection's framing ends with this response.
    this.#closeClientAfter = framing.kind === 'close' || !this.#requestComplete || this.#client.closesAfterResponse();
    this.#statusCode = head.statusCode;
    this.#responseStarted = true;
    // The head and the body bytes that came with it leave in one write (see #useConnection).
    this.#client.corkWritesUntilNextTick();
    this.#writeClient(forwardedResponseHead(head, framing, this.#closeClientAfter));
    return framing;
  }

  #writeClient(data: Buffer | string): void {
    if (this.#client.write(data, this.#onClientDrain)) return;
    if (this.#upstreamPaused || this.#upstream === undefined) return;
    this.#upstreamPaused = true;
    this.#upstream.pause();
  }

  readonly #onClientDrain = (): void => {
    if (!this.#upstreamPaused) return;
    this.#upstreamPaused = false;
    this.#upstream?.resume();
  };

  #onResponseEnd(bodyBytes: number): void {
    if (this.#interim) {
      this.#interim = false;
      return;
    }
    if (this.#over) return;
    this.#bytesToClient = bodyBytes;
    // Finished once the scan of this read returns (#onUpstreamData), when it is known whether more followed.
    this.#responseComplete = true;
    this.#responses.stop();
  }

  #onUpstreamEnd(): void {
    if (this.#over) return;
    // A body that runs until the close ends here; anything else cut short is a failure.
    const { truncated } = this.#responses.end();
    if (this.#responseComplete) {
      // A body delimited by the close (or a response complete just before the origin closed).
      this.#reusable = false;
      this.#finish(true);
      return;
    }
    this.#fail(
      Object.assign(new Error(truncated ? 'upstream closed before the response was complete' : 'upstream closed before responding'), {
        code: 'ECONNRESET',
      }),
    );
  }

  #fail(err: unknown): void {
    if (this.#over) return;
    this.#upstream?.destroy();
    const failure = err instanceof RejectError ? err : toUpstreamError(err, this.#target.authority);
    this.#failure = failure;
    if (this.#responseStarted) {
      this.#finish(false);
      this.#client.cut();
      return;
    }
    this.#statusCode = failure.statusCode;
    // A reject (the name resolved to this proxy) closes like every reject; an upstream failure keeps the client
    // connection when the request's body has been read to its end.
    const closeClient = err instanceof RejectError || !this.#requestComplete;
    this.#finish(false);
    this.#client.answerWithError(failure, closeClient);
  }

  /** Ends the exchange once: the upstream connection back to the pool or closed, the slot given back, the record. */
  #finish(responseComplete: boolean): void {
    this.#over = true;
    clearTimeout(this.#slotTimer);
    this.#withdrawSlotRequest?.();
    const upstream = this.#upstream;
    if (upstream !== undefined) {
      this.#upstream = undefined;
      this.#detachUpstream?.();
      if (this.#upstreamPaused) {
        this.#upstreamPaused = false;
        upstream.resume();
      }
      const reusable = responseComplete && this.#reusable && this.#requestComplete;
      if (!reusable || !this.#deps.pool.park(this.#originKey, upstream, 0)) {
        discardSocket(upstream);
      }
    }
    this.#releaseSlot();
    this.#report();
    if (responseComplete) this.#client.responseEnded(this.#closeClientAfter);
  }

  #releaseSlot(): void {
    if (!this.#slotHeld) return;
    this.#slotHeld = false;
    this.#deps.slots.release(this.#originKey);
  }

  #report(): void {
    this.#done();
    this.#deps.observers.onHttpExchange({
      kind: 'forward',
      clientIp: this.#clientIp,
      method: this.#head.method,
      origin: this.#originKey,
      path: this.#target.pathname,
      statusCode: this.#statusCode,
      errorCode: this.#failure?.code,
      upstreamFailure: this.#failure instanceof UpstreamError ? this.#failure.reason : undefined,
      bytesFromClient: this.#bytesFromClient,
      bytesToClient: this.#bytesToClient,
      durationSeconds: (performance.now() - this.#started) / 1000,
    });
  }
}
