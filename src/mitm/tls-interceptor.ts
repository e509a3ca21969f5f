/**
 * Interception of a CONNECT tunnel: answer 200, terminate the client's TLS on the same socket with a leaf
 * certificate for the host (signed by our CA, cached), and serve the decrypted stream on the relay engine with the
 * intercept route (intercept-route.ts): the same HTTP/1.1 relay as plain forwarding, keep-alive across requests,
 * one verified TLS connection to the target at a time, pooled, and the same per-API metrics.
 *
 * Why this shape: the reference made a key per CONNECT (~227 ms of CPU here), forced `Connection: close` and
 * skipped upstream verification. One TLSSocket per tunnel, no loopback hop, no per-host server, and cached
 * SecureContexts make decryption cost a handshake and symmetric crypto.
 */
import tls from 'node:tls';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logging/logger.js';
import { CONNECT_ESTABLISHED } from '../proxy/connect-tunnel.js';
import type { EarlyClientData } from '../proxy/early-client-data.js';
import type { ConnectionTracker } from '../relay/connection-tracker.js';
import type { RejectError } from '../errors.js';
import { writeRawErrorResponse, writeRawRefusal } from '../relay/error-response.js';
import type { ConnectionContext } from '../relay/guards.js';
import type { RelayEngine } from '../relay/relay-engine.js';
import { TLS_WRITE_BUFFER_BYTES, type StreamBufferOption } from '../relay/socket-writes.js';
import type { ProxyTarget } from '../relay/request-target.js';
import type { DialTarget } from '../relay/upstream-dialer.js';
import { classifyClientTlsFailure } from './client-tls-failure.js';
import { InterceptRoute } from './intercept-route.js';
import { InterceptedTunnel } from './intercepted-tunnel.js';

/** What the interceptor needs from the certificate side. */
export interface SecureContextSource {
  getSecureContext(hostname: string): Promise<tls.SecureContext>;
}

export interface TlsInterceptorOptions {
  logger: Logger;
  tracker: ConnectionTracker;
  certificates: SecureContextSource;
  /** Serves the decrypted connections; its settings say where the records go. */
  engine: RelayEngine;
}

// A client that connects and never completes TLS holds a socket and a tunnel slot; 10 s matches Go's default
// TLS handshake timeout on the client side (DataKit's uploader).
const HANDSHAKE_TIMEOUT_MS = 10_000;
const CERTIFICATE_FAILURE_CODE = 'EPROXY_MITM_CERTIFICATE';

/** What the destination policy judges for a name the client asked to reach through an intercepted tunnel. */
function dialTarget(host: string, port: number): DialTarget {
  return { host, port, authority: `${host.includes(':') ? `[${host}]` : host}:${port}`, tls: true };
}

export class TlsInterceptor {
  readonly #options: TlsInterceptorOptions;
  readonly #warnedUntrusted = new Set<string>();
  readonly #warnedCertificate = new Set<string>();

  constructor(options: TlsInterceptorOptions) {
    this.#options = options;
  }

  /**
   * Takes over a CONNECT socket that has been answered nothing yet. Owns the socket from here on, including its
   * tracking for drain and its record when it closes.
   */
  intercept(clientSocket: Duplex, early: EarlyClientData, target: ProxyTarget, client: ConnectionContext): void {
    const { tracker, engine } = this.#options;
    const observers = engine.settings.current.observers;
    const started = performance.now();
    const raw = clientSocket as Socket;
    let reported = false;
    let handshakeFailed = false;
    let certificateFailed = false;
    let rejected: RejectError | undefined;
    const tracked = new InterceptedTunnel(raw);
    tracker.addTunnel(tracked);

    const report = (): void => {
      if (reported) return;
      reported = true;
      tracker.removeTunnel(tracked);
      observers.onTunnel({
        clientIp: client.clientIp,
        target: target.authority,
        statusCode: rejected?.statusCode ?? (certificateFailed ? 502 : 200),
        errorCode: rejected?.code ?? (certificateFailed ? CERTIFICATE_FAILURE_CODE : handshakeFailed ? 'EPROXY_MITM_CLIENT_TLS' : undefined),
        upstreamFailure: undefined,
        intercepted: true,
        bytesFromClient: raw.bytesRead ?? 0,
        bytesToClient: raw.bytesWritten ?? 0,
        bytesCountedLive: tracked.countedLive,
        durationSeconds: (performance.now() - started) / 1000,
      });
    };
    clientSocket.once('close', report);
    clientSocket.on('error', () => clientSocket.destroy());

    const intercept = (): void => {
      this.#options.certificates.getSecureContext(target.host).then(
        (secureContext) => {
          if (clientSocket.destroyed) return;
          clientSocket.write(CONNECT_ESTABLISHED);
          const pipelined = early.release();
          if (pipelined.length > 0) clientSocket.unshift(pipelined);
          const options: tls.TLSSocketOptions & StreamBufferOption = {
            isServer: true,
            secureContext,
            // A client may name a different host in SNI than in CONNECT (domain fronting or a CNAME'd endpoint):
            // present a certificate for the name it will verify.
            SNICallback: (servername, callback) => {
              const name = servername.toLowerCase();
              if (name === target.host) return callback(null, secureContext);
              // Another name gets a certificate only if the policy would let it be dialled (same port as the CONNECT);
              // a refusal ends the handshake.
              engine.dialer.check(dialTarget(name, target.port), (refusal) => {
                if (refusal !== undefined) return callback(refusal, undefined);
                this.#options.certificates.getSecureContext(name).then(
                  (ctx) => callback(null, ctx),
                  (err: Error) => callback(err, undefined),
                );
              });
            },
            ALPNProtocols: ['http/1.1'],
            // Responses relayed to the client: room for a few TLS records before a write reports a full buffer.
            highWaterMark: TLS_WRITE_BUFFER_BYTES,
          };
          const tlsSocket = new tls.TLSSocket(raw, options);
          // The handshake's deadline is checked by the engine's one timeout sweep, like every other.
          const handshake = {
            expire: (now: number): void => {
              if (now - started < HANDSHAKE_TIMEOUT_MS) return;
              engine.sweep.delete(handshake);
              tlsSocket.destroy(Object.assign(new Error('TLS handshake timed out'), { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' }));
            },
          };
          engine.sweep.add(handshake);
          tlsSocket.once('secure', () => engine.sweep.delete(handshake));
          tlsSocket.on('error', (err: NodeJS.ErrnoException) => {
            engine.sweep.delete(handshake);
            if (!(tlsSocket as tls.TLSSocket & { _secureEstablished?: boolean })._secureEstablished) {
              handshakeFailed = true;
              this.#onHandshakeFailure(err, target, client.clientIp);
            }
            clientSocket.destroy();
          });
          tlsSocket.once('close', () => {
            engine.sweep.delete(handshake);
            clientSocket.destroy();
          });
          // TLSSocket takes over the TCP handle and first consumes what is buffered (the unshifted head).
          engine.serve(tlsSocket, new InterceptRoute(target), client, raw);
        },
        (err: Error) => {
          certificateFailed = true;
          // Once per host: a client repeating a CONNECT we cannot serve must not be able to flood the log.
          if (!this.#warnedCertificate.has(target.host) && this.#warnedCertificate.size < 1000) {
            this.#warnedCertificate.add(target.host);
            this.#options.logger.error({ err, host: target.host }, 'could not make a certificate for an intercepted host');
          }
          early.release();
          writeRawErrorResponse(clientSocket, 502, `Bad gateway: cannot intercept ${target.host}`, CERTIFICATE_FAILURE_CODE);
        },
      );
    };

    // The destination policy judges the CONNECT as it would a tunnel's, before the 200 and before a certificate is
    // made: a refused name gets its 403 here, not a leaf signed by our CA (and the client's first request).
    engine.dialer.check(dialTarget(target.host, target.port), (refusal) => {
      if (clientSocket.destroyed) return;
      if (refusal === undefined) return intercept();
      rejected = refusal;
      early.release();
      writeRawRefusal(clientSocket, refusal);
    });
  }

  #onHandshakeFailure(err: NodeJS.ErrnoException, target: ProxyTarget, clientIp: string): void {
    const reason = classifyClientTlsFailure(err);
    this.#options.engine.settings.current.observers.onClientTlsFailure(reason, target.authority, clientIp);
    // One warning per client and reason: a misconfigured fleet would otherwise flood the log.
    const key = `${clientIp} ${reason}`;
    if (this.#warnedUntrusted.has(key) || this.#warnedUntrusted.size > 1000) return;
    this.#warnedUntrusted.add(key);
    this.#options.logger.warn(
      { client: clientIp, target: target.authority, reason, err: err.message },
      reason === 'untrusted_ca'
        ? 'MITM: client rejected our certificate; it must trust the CA from `egress-proxy ca export`'
        : 'MITM: TLS handshake with client failed',
    );
  }
}
