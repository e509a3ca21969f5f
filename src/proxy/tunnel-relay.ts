/**
 * How an established CONNECT tunnel moves its bytes, chosen once per process:
 *
 * - `splice`: the native relay (native/tunnel_splice.c, built at install on Linux) moves bytes between the two
 *   sockets with splice(2) through a pipe, on Node's event loop, with no JavaScript per chunk
 *   (splice-tunnel-relay.ts).
 * - `js`: the JavaScript relay, reading into reused buffers (js-tunnel-relay.ts). Everywhere the native relay is
 *   missing: macOS, Windows, no compiler at install, a failed build.
 *
 * Both keep the same behaviour (tests run against each): half-close both ways, the idle timeout, byte counts,
 * drain on shutdown, and a reset passed on when one side fails. `EGRESS_PROXY_TUNNEL_RELAY=js|splice` forces one;
 * forcing `splice` where it cannot load fails at start instead of falling back.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ReadBufferOption } from './read-buffer-relay.js';

export type TunnelRelayName = 'splice' | 'js';

/** The answer to a CONNECT once the upstream is connected (RFC 9110 §9.3.6: any 2xx; no body, no fields). */
export const CONNECT_ESTABLISHED = 'HTTP/1.1 200 Connection established\r\n\r\n';

/** A tunnel whose upstream has just connected. */
export interface EstablishedTunnel {
  /** The socket the CONNECT came on, paused, holding nothing the relay must read first. */
  client: Duplex;
  /** What the client sent with or after its CONNECT head before the tunnel existed: it goes upstream first. */
  pipelined: Buffer;
  upstream: Socket;
  idleTimeoutMs: number;
  /** Who opened the tunnel and keeps its record. */
  owner: TunnelOwner;
}

/**
 * What a relay tells the tunnel's owner (connect-tunnel.ts). An object rather than two callbacks: an open tunnel
 * holds it for its whole life, and a closure each would cost every idle tunnel two more objects (issue 13).
 */
export interface TunnelOwner {
  /** A failure of the upstream that the relay saw itself (not as an `error` on `upstream`): for the record. */
  upstreamFailed(err: Error): void;
  /**
   * The relay took the upstream's descriptor and has destroyed the `upstream` object: the owner lets go of it, and
   * `client` alone stands for the tunnel from now on (destroying it ends the relay).
   */
  upstreamReleased(): void;
}

/** Bytes delivered each way so far (and in the end): what the metrics and access log report. */
export interface TunnelByteCounts {
  fromClient(): number;
  toClient(): number;
}

/** One tunnel's relay, made before the upstream is dialled so that it can choose how the upstream is read. */
export interface PreparedRelay {
  /** `onread` for `net.connect` to the upstream, when this relay reads into buffers of its own. */
  readonly upstreamOnread?: ReadBufferOption;
  /**
   * Answers `200` to the client and relays until the tunnel is over. When it is, both `client` and `upstream` are
   * destroyed, so their `close` events tell the caller. An upstream failure is emitted as an `error` on `upstream`
   * or given to `owner.upstreamFailed` (for the record) and the client is reset, not closed cleanly; a clean
   * FIN either way is passed on as a half-close.
   */
  start(tunnel: EstablishedTunnel): TunnelByteCounts;
}

export interface TunnelRelay {
  readonly name: TunnelRelayName;
  /** Why this relay, for the start-up log line. */
  readonly detail: string;
  prepare(): PreparedRelay;
}
