/**
 * Verbose mode's access log: one structured line per HTTP exchange and per tunnel, written when the exchange ends.
 * Query strings are never logged: DataKit puts its workspace token there.
 */
import type { Logger } from './logger.js';
import type { ExchangeObserver, HttpExchangeRecord, RejectRecord, TunnelRecord } from '../relay/exchange-records.js';

export class AccessLog implements ExchangeObserver {
  readonly #log: Logger;

  constructor(logger: Logger) {
    this.#log = logger.child({ log: 'access' });
  }

  onHttpExchange(r: HttpExchangeRecord): void {
    this.#log.info(
      {
        kind: r.kind,
        client: r.clientIp,
        method: r.method,
        target: r.origin + r.path,
        status: r.statusCode ?? null,
        error: r.errorCode,
        bytes_in: r.bytesFromClient,
        bytes_out: r.bytesToClient,
        duration_ms: round(r.durationSeconds * 1000),
      },
      'request',
    );
  }

  onTunnel(r: TunnelRecord): void {
    this.#log.info(
      {
        kind: r.intercepted ? 'mitm-tunnel' : 'tunnel',
        client: r.clientIp,
        method: 'CONNECT',
        target: r.target,
        status: r.statusCode,
        error: r.errorCode,
        bytes_in: r.bytesFromClient,
        bytes_out: r.bytesToClient,
        duration_ms: round(r.durationSeconds * 1000),
      },
      'tunnel',
    );
  }

  onReject(r: RejectRecord): void {
    this.#log.info(
      { kind: 'reject', client: r.clientIp, method: r.method, target: r.target, status: r.statusCode, reason: r.reason },
      'rejected',
    );
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
