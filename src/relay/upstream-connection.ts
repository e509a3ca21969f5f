/**
 * One upstream connection and whoever holds it now: a client connection's relay while it serves a request, the
 * pool while it is idle. The socket's listeners are added once, when the connection is made, and send its events
 * to the current holder; handing the connection over is one assignment. Adding and removing a listener set at
 * every hand-over (to the pool and back, twice per request) was a measurable part of a small request's CPU.
 */
import type { Socket } from 'node:net';

export interface UpstreamHolder {
  upstreamData(connection: UpstreamConnection, data: Buffer): void;
  upstreamEnd(connection: UpstreamConnection): void;
  /** The connection failed or closed without an end; `err` when it failed. */
  upstreamClosed(connection: UpstreamConnection, err: Error | undefined): void;
  upstreamDrained(connection: UpstreamConnection): void;
}

/** The holder of a connection nobody holds any more (being closed): its events are of no interest. */
const NOBODY: UpstreamHolder = {
  upstreamData() {},
  upstreamEnd() {},
  upstreamClosed() {},
  upstreamDrained() {},
};

export class UpstreamConnection {
  readonly socket: Socket;
  #holder: UpstreamHolder;
  /** While parked: the pool's list it is in, and since when it is idle (the pool's bookkeeping). */
  parkedIn: UpstreamConnection[] | undefined;
  idleSince = 0;

  constructor(socket: Socket, holder: UpstreamHolder) {
    this.socket = socket;
    this.#holder = holder;
    socket.on('data', (data: Buffer) => this.#holder.upstreamData(this, data));
    socket.on('end', () => this.#holder.upstreamEnd(this));
    // An error is followed by a close; the holder hears of the error, and of the close only if there was none.
    let failed = false;
    socket.on('error', (err: Error) => {
      failed = true;
      this.#holder.upstreamClosed(this, err);
    });
    socket.on('close', () => {
      if (!failed) this.#holder.upstreamClosed(this, undefined);
    });
    socket.on('drain', () => this.#holder.upstreamDrained(this));
  }

  /** Whether the connection can carry another request (open both ways). */
  get usable(): boolean {
    const { socket } = this;
    return !socket.destroyed && socket.writable && socket.readable;
  }

  holdBy(holder: UpstreamHolder): void {
    this.#holder = holder;
  }

  /** Closes the connection; nothing hears of it any more. An error arriving late is absorbed by the listener. */
  close(): void {
    this.#holder = NOBODY;
    this.socket.destroy();
  }
}
