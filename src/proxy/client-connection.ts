/**
 * One client connection to the proxy port, from accept until it closes or becomes a tunnel: scans request heads
 * strictly (src/http1), runs the admission guards, answers what it must refuse, hands CONNECTs over to the tunnel
 * code, and forwards absolute-URI requests one at a time (forward-exchange.ts), keeping the connection alive
 * between them.
 *
 * Requests are served in order, one at a time: bytes a client pipelines behind a request are held, unread, until
 * that request's response has ended. A client gets its answers in order, and one slow origin cannot make a
 * connection hold many upstream connections at once.
 */
import type { LookupFunction, Socket } from 'node:net';
import {
  MalformedRequestError,
  NotAProxyRequestError,
  RejectError,
  type ProxyError,
} from '../errors.js';
import { requestBodyFraming, type BodyFraming } from '../http1/body-framing.js';
import { fieldHasToken, fieldValues, HeadTooLargeError, MessageHeadError, parseRequestHead, type RequestHead } from '../http1/message-head.js';
import { MAX_HEAD_BYTES, MessageScanner } from '../http1/message-scanner.js';
import type { AdmissionGuards } from '../relay/admission-guards.js';
import { errorResponseText, lingerThenClose, writeRawErrorResponse } from '../relay/error-response.js';
import type { ExchangeObservers } from '../relay/exchange-records.js';
import { ForwardExchange, type ExchangeClient, type ForwardingDeps } from './forward-exchange.js';
import { parseAbsoluteTarget } from '../relay/request-target.js';
import { corkUntilNextTick } from '../relay/socket-writes.js';

const NO_BODY: BodyFraming = { kind: 'none' };

export interface ClientConnectionDeps {
  forwarding: ForwardingDeps;
  observers: ExchangeObservers;
  guards: AdmissionGuards;
  /** Replaces the system resolver for upstream connections (tests). */
  lookup: LookupFunction | undefined;
  /** A request head must be complete this long after its first byte (slowloris guard) → 408. */
  clientHeadersTimeoutMs: number;
  /** A connection between requests this long is closed. */
  clientKeepAliveMs: number;
  /** Whether a graceful stop has begun: every response then closes its connection. */
  isDraining(): boolean;
  /**
   * A CONNECT head passed the client check: the socket is the caller's from here on, with the bytes that came
   * after the head.
   */
  onConnect(socket: Socket, head: RequestHead, rest: Buffer, clientIp: string): void;
  /** The connection is no longer a forwarding connection (closed, or handed over as a tunnel). */
  onRelease(connection: ClientConnection): void;
}

export class ClientConnection {
  readonly #socket: Socket;
  readonly #clientIp: string;
  readonly #deps: ClientConnectionDeps;
  readonly #requests: MessageScanner<RequestHead>;
  /** Decided once per connection: the address does not change. Reported at the first request, with a 403. */
  readonly #denied: RejectError | undefined;
  /** The request being served, from its head until its response has ended. */
  #exchange: ForwardExchange | undefined;
  /** The request being scanned, for the reject record if it is refused (its body may turn out malformed). */
  #method = '';
  #rejectTarget = '';
  /** Nothing has been read yet: the headers timeout runs from the accept, as Node's HTTP server's does. */
  #firstHeadPending = true;
  /** The request being served asked for the connection to end after it (or is HTTP/1.0). */  /** The request being served asked for the connection to end after it (or is HTTP/1.0). */
  #closeAfterThis = false;
  /** Client bytes that arrived behind the request being served, held until its response has ended. */
  #held: Buffer[] | undefined;
  /** A CONNECT head was read: the socket is handed over once the scanner returns. */
  #connectHead: RequestHead | undefined;
  #paused = false;
  #clientEnded = false;
  #closeWhenIdle = false;
  /** Nothing more is read or answered on this connection. */
  #finished = false;
  #released = false;
  #headersTimer: NodeJS.Timeout | undefined;
  readonly #exchangeClient: ExchangeClient;

  constructor(socket: Socket, clientIp: string, deps: ClientConnectionDeps) {
    this.#socket = socket;
    this.#clientIp = clientIp;
    this.#deps = deps;
    this.#denied = deps.guards.checkClient(socket.remoteAddress);
    this.#requests = new MessageScanner(parseRequestHead, {
      onHead: (head) => this.#onRequestHead(head),
      onBody: (data) => this.#onRequestBody(data),
      onMessageEnd: (bodyBytes) => this.#onRequestEnd(bodyBytes),
    }, MAX_HEAD_BYTES);
    this.#exchangeClient = {
      write: (data, onDrain) => this.#write(data, onDrain),
      corkWritesUntilNextTick: () => corkUntilNextTick(this.#socket),
      resumeRequestBody: () => this.#resume(),
      closesAfterResponse: () => this.#closesAfterResponse(),
      responseEnded: (closeClient) => this.#onResponseEnded(closeClient),
      answerWithError: (error, closeClient) => this.#answerWithError(error, closeClient),
      cut: () => this.#socket.destroy(),
    };
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onClose);
    socket.on('error', this.#onError);
    socket.setTimeout(deps.clientKeepAliveMs, this.#onTimeout);
    this.#watchHeadersTimeout();
  }

  /** Closes the connection now if it is between requests, or else once the response in flight has ended (a drain). */
  closeWhenIdle(): void {
    this.#closeWhenIdle = true;
    this.#closeIfIdle();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  readonly #onData = (data: Buffer): void => {
    if (this.#finished) return;
    if (this.#held !== undefined) {
      this.#hold(data);
      return;
    }
    this.#scan(data);
  };

  #scan(data: Buffer): void {
    let used: number;
    try {
      used = this.#requests.push(data);
    } catch (err) {
      if (err instanceof HeadTooLargeError) this.#refuse(new MalformedRequestError(err.message), 431, 'Request header fields too large');
      else if (err instanceof MessageHeadError) this.#refuse(new MalformedRequestError(err.message));
      else if (err instanceof RejectError) this.#refuse(err);
      else throw err;
      return;
    }
    if (this.#connectHead !== undefined) {
      this.#handOver(this.#connectHead, data.subarray(used));
      return;
    }
    // The scanner stops at the end of each request: what follows waits for its response.
    if (used < data.length) this.#hold(data.subarray(used));
    this.#watchHeadersTimeout();
  }

  #onRequestHead(head: RequestHead): BodyFraming {
    this.#method = head.method;
    this.#rejectTarget = targetForLog(head.target);
    this.#firstHeadPending = false;
    if (this.#denied !== undefined) throw this.#denied;
    if (head.method === 'CONNECT') {
      this.#connectHead = head;
      this.#requests.stop();
      return NO_BODY;
    }
    const targetText = head.target;
    if (targetText.startsWith('/') || targetText === '*') throw new NotAProxyRequestError();
    // RFC 9112 §3.2: an HTTP/1.1 request without Host, or with more than one, is answered 400 (even though a proxy
    // then replaces it with the URI's authority).
    if (head.minorVersion === 1 && fieldValues(head.headers, 'host').length !== 1) throw new MalformedRequestError('an HTTP/1.1 request needs one Host field');
    const target = parseAbsoluteTarget(targetText);
    const loop = this.#deps.guards.checkLoop(target);
    if (loop) throw loop;
    // A head whose framing is ambiguous throws MessageHeadError: #scan answers it with 400.
    const framing = requestBodyFraming(head.minorVersion, head.headers);
    // RFC 9112 §9.3: HTTP/1.0 connections close after the response unless the client asked otherwise, and we do
    // not keep 1.0 ones alive at all (their responses may end with the close).
    this.#closeAfterThis = head.minorVersion === 0 || fieldHasToken(head.headers, 'connection', 'close');
    const lookup = this.#deps.guards.loopSafeLookup(target.port, this.#deps.lookup);
    const exchange = new ForwardExchange(head, target, this.#exchangeClient, this.#deps.forwarding, this.#clientIp, lookup);
    this.#exchange = exchange;
    exchange.start();
    return framing;
  }

  #onRequestBody(data: Buffer): void {
    if (this.#exchange?.sendBody(data) === false) this.#pause();
  }

  #onRequestEnd(bodyBytes: number): void {
    if (this.#connectHead !== undefined) return;
    this.#exchange?.endRequest(bodyBytes);
    if (this.#exchange !== undefined) {
      this.#requests.stop();
      this.#held = [];
    }
  }

  #hold(data: Buffer): void {
    (this.#held as Buffer[]).push(data);
    // One read's worth is plenty while the client should be waiting for its response.
    this.#pause();
  }

  #handOver(head: RequestHead, rest: Buffer): void {
    // Nothing here touches the socket again: it is the tunnel's.
    this.#finished = true;
    this.#release();
    const socket = this.#socket;
    socket.removeListener('data', this.#onData);
    socket.removeListener('end', this.#onEnd);
    socket.removeListener('close', this.#onClose);
    socket.removeListener('error', this.#onError);
    socket.setTimeout(0);
    clearTimeout(this.#headersTimer);
    this.#deps.onConnect(socket, head, rest, this.#clientIp);
  }

  #closesAfterResponse(): boolean {
    return this.#closeAfterThis || this.#closeWhenIdle || this.#deps.isDraining();
  }

  #onResponseEnded(closeClient: boolean): void {
    this.#exchange = undefined;
    if (closeClient) {
      this.#finish();
      return;
    }
    const held = this.#held ?? [];
    this.#held = undefined;
    this.#requests.resume();
    // One scan of all that was held: a request in it holds what follows it again, and a CONNECT in it takes
    // what follows it into the tunnel.
    if (held.length > 0) this.#scan(held.length === 1 ? (held[0] as Buffer) : Buffer.concat(held));
    if (this.#held === undefined && !this.#finished) this.#resume();
    this.#watchHeadersTimeout();
    this.#closeIfIdle();
  }

  #answerWithError(error: ProxyError, closeClient: boolean): void {
    this.#exchange = undefined;
    if (error instanceof RejectError) {
      this.#deps.observers.onReject({ clientIp: this.#clientIp, reason: error.reason, statusCode: error.statusCode, method: this.#method, target: this.#rejectTarget });
    }
    const close = closeClient || this.#closesAfterResponse();
    if (close) {
      this.#finished = true;
      this.#release();
      writeRawErrorResponse(this.#socket, error.statusCode, error.publicMessage, error.code);
      return;
    }
    this.#write(errorResponseText(error.statusCode, error.publicMessage, error.code, false), () => undefined);
    this.#onResponseEnded(false);
  }

  /** Refuses what the client sent (a reject, or bytes that are not HTTP/1.x we can frame): answer, then close. */
  #refuse(error: RejectError, statusCode = error.statusCode, message = error.publicMessage): void {
    this.#deps.observers.onReject({
      clientIp: this.#clientIp,
      reason: error.reason,
      statusCode,
      method: this.#method,
      target: this.#rejectTarget,
    });
    this.#finished = true;
    this.#release();
    const exchange = this.#exchange;
    this.#exchange = undefined;
    exchange?.abort();
    clearTimeout(this.#headersTimer);
    // Inside a response already on its way an answer of ours would read as part of its body: cut instead.
    if (exchange?.responseStarted === true) this.#socket.destroy();
    else writeRawErrorResponse(this.#socket, statusCode, message, error.code);
  }

  #write(data: Buffer | string, onDrain: () => void): boolean {
    const socket = this.#socket;
    if (socket.destroyed) return true;
    // Heads are latin1 text (the bytes as they came, obs-text included), never re-encoded as UTF-8.
    if (socket.write(data, 'latin1')) return true;
    socket.once('drain', onDrain);
    return false;
  }

  #pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#socket.pause();
  }

  #resume(): void {
    if (!this.#paused || this.#held !== undefined || this.#finished) return;
    this.#paused = false;
    if (!this.#socket.destroyed) this.#socket.resume();
  }

  readonly #onEnd = (): void => {
    this.#clientEnded = true;
    if (this.#finished) return;
    if (this.#exchange === undefined) {
      this.#closeIfIdle();
      return;
    }
    // A half-close and a close look the same until a write fails, and a client that closes has given up on its
    // request (timed out, say). So, as Node's HTTP server, squid (half_closed_clients off) and nginx do, the
    // request in flight is abandoned: a request still waiting for an upstream slot is never sent, and one in
    // progress stops holding its upstream connection.
    const exchange = this.#exchange;
    this.#exchange = undefined;
    exchange.abort();
    this.#socket.destroy();
  };

  readonly #onClose = (): void => {
    clearTimeout(this.#headersTimer);
    this.#release();
    const exchange = this.#exchange;
    this.#exchange = undefined;
    exchange?.abort();
  };

  readonly #onError = (): void => {
    this.#socket.destroy();
  };

  readonly #onTimeout = (): void => {
    // With a request in flight, the upstream's timeouts decide; between requests, a client this quiet is gone.
    if (this.#exchange === undefined) this.#socket.destroy();
  };

  #closeIfIdle(): void {
    if (this.#finished || this.#exchange !== undefined) return;
    if (!(this.#clientEnded || this.#closeWhenIdle)) return;
    // A drain lets a request whose head is arriving come in; a client that has ended its side sends no more.
    if (this.#closeWhenIdle && !this.#clientEnded && this.#requests.inMessage) return;
    this.#finish();
  }

  /** Ends the connection after what has been written: nothing more is read. */
  #finish(): void {
    this.#finished = true;
    this.#release();
    clearTimeout(this.#headersTimer);
    this.#socket.end();
    lingerThenClose(this.#socket);
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#deps.onRelease(this);
  }

  /** Node's headersTimeout, for a head that trickles in (slowloris). */
  #watchHeadersTimeout(): void {
    const waitingForHead = (this.#requests.inMessage || this.#firstHeadPending) && this.#exchange === undefined && !this.#finished;
    if (!waitingForHead) {
      clearTimeout(this.#headersTimer);
      this.#headersTimer = undefined;
    } else if (this.#headersTimer === undefined) {
      this.#headersTimer = setTimeout(() => {
        this.#refuse(new MalformedRequestError('headers timeout'), 408, 'Request timeout: headers not received in time');
      }, this.#deps.clientHeadersTimeoutMs);
    }
  }
}

/** Logged target of a rejected request: never the query string, which carries tokens. */
function targetForLog(target: string): string {
  const query = target.indexOf('?');
  return (query === -1 ? target : target.slice(0, query)).slice(0, 200);
}
