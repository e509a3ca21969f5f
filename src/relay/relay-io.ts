/**
 * What the relay's state machine (connection-relay.ts, exchange.ts) asks of the world, and the only way it acts
 * on it. The machine is sans-IO: it is fed bytes and events and calls these effects; socket-driver.ts implements
 * them on real sockets, and a test implements them with a recording fake and drives the machine without a socket
 * or a clock.
 *
 * Why an effects object and not a list of command objects returned per event (mitmproxy's layers yield commands):
 * this is the hot path, called for every chunk of every body; a method call on an object allocates nothing, an
 * array of commands per chunk would. It stays as testable: a fake records the calls in order.
 */
import type { HandOverDecision } from './routing.js';
import type { DialTarget } from './upstream-dialer.js';

export interface RelayIo {
  // The client connection.
  /** Writes to the client; false when its buffer is full (then `clientDrained` comes once it has drained). */
  writeClient(data: Buffer | string): boolean;
  /** Holds client writes until the next tick, so what is written meanwhile leaves as one write (one TLS record). */
  corkClient(): void;
  pauseClient(): void;
  resumeClient(): void;
  /** Our last bytes are written: FIN, read and discard for a moment (so they are not lost to a reset), close. */
  finishClient(): void;
  /** FIN only, reading goes on (a switched connection whose upstream ended). */
  halfCloseClient(): void;
  /** Close now (the client left, or a quiet keep-alive connection). */
  closeClient(): void;
  /** Close with a TCP reset: a response cut short must not end like a complete one would. */
  resetClient(): void;
  /** The connection stops being HTTP: its socket, with `rest` read behind the CONNECT head, goes to a tunnel. */
  handOver(decision: HandOverDecision, rest: Buffer): void;

  // The upstream connection of the exchange in flight (one at a time).
  /**
   * A connection to `target`: an idle one for `origin` from the pool unless `fresh`, else dialled. Answers with
   * `upstreamOpened` (possibly before returning) or `upstreamFailed` (never before returning).
   */
  openUpstream(target: DialTarget, origin: string, fresh: boolean): void;
  /** Writes to the upstream; false when its buffer is full (then `upstreamDrained`). */
  writeUpstream(data: Buffer | string): boolean;
  pauseUpstream(): void;
  resumeUpstream(): void;
  /** FIN to the upstream (a switched connection whose client ended). */
  halfCloseUpstream(): void;
  /** Lets go of the upstream (or abandons the dial): parked for reuse when `reusable`, else closed. */
  releaseUpstream(reusable: boolean): void;
}

/** The events the machine is fed (socket-driver.ts calls these; so does a test). */
export interface RelayEvents {
  clientData(data: Buffer): void;
  clientEnd(): void;
  clientClosed(): void;
  clientDrained(): void;
  upstreamOpened(reused: boolean): void;
  upstreamFailed(err: Error): void;
  upstreamData(data: Buffer): void;
  upstreamEnd(): void;
  /** The upstream failed or closed without an end; `err` when it failed. */
  upstreamClosed(err: Error | undefined): void;
  upstreamDrained(): void;
}
