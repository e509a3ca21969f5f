/**
 * What the proxy reports when a request or a tunnel ends. The relay emits exactly one record per exchange
 * (completed, failed, abandoned or rejected); metrics and access logs subscribe to these records instead of being
 * sprinkled through the forwarding code, so nothing is missed or counted twice.
 */
import type { ClientFailureReason, RejectReason, UpstreamFailureReason } from '../errors.js';

/** How an HTTP exchange reached us: absolute-URI forwarding, or decrypted from inside a CONNECT tunnel. */
export type ExchangeKind = 'forward' | 'mitm';

export interface HttpExchangeRecord {
  kind: ExchangeKind;
  clientIp: string;
  method: string;
  /** `scheme://host:port` of the upstream. */
  origin: string;
  /** Path without the query string (query strings carry tokens: never logged or used as labels). */
  path: string;
  /** Status sent to the client; undefined when the client went away before any response. */
  statusCode: number | undefined;
  /** Set when the proxy itself produced the failure (rejects, upstream errors). */
  errorCode: string | undefined;
  upstreamFailure: UpstreamFailureReason | undefined;
  /** Set when the client's side ended the exchange (it timed out, stopped reading, or left). */
  clientFailure?: ClientFailureReason | undefined;
  /** Request body bytes received from the client and passed on, as they went (chunk framing included). */
  bytesFromClient: number;
  /**
   * Response body bytes passed to the client, as they went (chunk framing included): for a response cut short,
   * what got through before the cut.
   */
  bytesToClient: number;
  durationSeconds: number;
}

export interface TunnelRecord {
  clientIp: string;
  /** `host:port` from the CONNECT line. */
  target: string;
  /** 200 once established; otherwise the error status the client was answered with. */
  statusCode: number;
  errorCode: string | undefined;
  upstreamFailure: UpstreamFailureReason | undefined;
  /** Whether the tunnel's TLS was terminated for interception (MITM) rather than relayed untouched. */
  intercepted: boolean;
  bytesFromClient: number;
  bytesToClient: number;
  /** Of the bytes above, what was already counted in the metrics while the tunnel was open (countBytesSoFar). */
  bytesCountedLive?: { fromClient: number; toClient: number } | undefined;
  durationSeconds: number;
}

export interface RejectRecord {
  clientIp: string;
  reason: RejectReason;
  /** Set when the refusal is the client's failure too (a head that never came in time). */
  clientFailure?: ClientFailureReason | undefined;
  statusCode: number;
  method: string;
  target: string;
}

export interface ExchangeObserver {
  onHttpExchange?(record: HttpExchangeRecord): void;
  onTunnel?(record: TunnelRecord): void;
  /** A CONNECT was accepted for processing (the reference's connect counter counts these). */
  onConnectAttempt?(clientIp: string): void;
  onReject?(record: RejectRecord): void;
  /** A TLS handshake with a client failed inside an intercepted tunnel. */
  onClientTlsFailure?(reason: string, target: string, clientIp: string): void;
}

/** Fans records out to every observer; one observer throwing must not break the exchange or the others. */
export class ExchangeObservers implements Required<ExchangeObserver> {
  readonly #observers: ExchangeObserver[];
  readonly #onObserverError: (err: unknown) => void;

  constructor(observers: ExchangeObserver[], onObserverError: (err: unknown) => void) {
    this.#observers = observers;
    this.#onObserverError = onObserverError;
  }

  onHttpExchange(record: HttpExchangeRecord): void {
    for (const o of this.#observers) this.#call(() => o.onHttpExchange?.(record));
  }
  onTunnel(record: TunnelRecord): void {
    for (const o of this.#observers) this.#call(() => o.onTunnel?.(record));
  }
  onConnectAttempt(clientIp: string): void {
    for (const o of this.#observers) this.#call(() => o.onConnectAttempt?.(clientIp));
  }
  onReject(record: RejectRecord): void {
    for (const o of this.#observers) this.#call(() => o.onReject?.(record));
  }
  onClientTlsFailure(reason: string, target: string, clientIp: string): void {
    for (const o of this.#observers) this.#call(() => o.onClientTlsFailure?.(reason, target, clientIp));
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#onObserverError(err);
    }
  }
}
