/**
 * Verbose mode's access log: one structured line per HTTP exchange and per tunnel, written when the exchange ends.
 * Every target goes through log-redaction.ts: no query strings (DataKit puts its workspace token there), no
 * userinfo, identifier-like path segments as `:id` unless `proxy.log_full_paths`.
 */
import type { Logger } from './logger.js';
import { pathForLog, targetForLog, type TargetRedaction } from './log-redaction.js';
import type { ExchangeObserver, HttpExchangeRecord, RejectRecord, TunnelRecord } from '../relay/exchange-records.js';

export class AccessLog implements ExchangeObserver {
  readonly #log: Logger;
  readonly #redaction: TargetRedaction;

  constructor(logger: Logger, redaction: TargetRedaction = { fullPaths: false }) {
    this.#log = logger.child({ log: 'access' });
    this.#redaction = redaction;
  }

  onHttpExchange(r: HttpExchangeRecord): void {
    this.#log.info(
      {
        kind: r.kind,
        client: r.clientIp,
        method: r.method,
        target: r.origin + pathForLog(r.path, this.#redaction),
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
        target: targetForLog(r.target, this.#redaction),
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
      { kind: 'reject', client: r.clientIp, method: r.method, target: targetForLog(r.target, this.#redaction), status: r.statusCode, reason: r.reason },
      'rejected',
    );
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
