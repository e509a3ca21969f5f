/**
 * Holds the bytes a CONNECT client sends before its tunnel exists (a TLS ClientHello pipelined after the CONNECT
 * head), while still reading the socket, so that a client that gives up during a slow dial is noticed at once
 * instead of when the connect timeout fires. A paused socket would keep the bytes but never see the client leave.
 */
import type { Duplex } from 'node:stream';

/** More than a ClientHello and then some; past this we stop reading until the tunnel is there. */
const MAX_EARLY_BYTES = 64 * 1024;

export class EarlyClientData {
  readonly #socket: Duplex;
  readonly #chunks: Buffer[];
  #size: number;
  #released = false;

  constructor(socket: Duplex, head: Buffer) {
    this.#socket = socket;
    this.#chunks = head.length > 0 ? [head] : [];
    this.#size = head.length;
    socket.on('data', this.#onData);
    // Ending before the tunnel exists means the client gave up: nothing will ever use the tunnel.
    socket.once('end', this.#onEnd);
    if (this.#size >= MAX_EARLY_BYTES) socket.pause();
    else socket.resume();
  }

  /** Stops holding: returns everything received so far and leaves the socket paused for its new owner. */
  release(): Buffer {
    if (!this.#released) {
      this.#released = true;
      this.#socket.off('data', this.#onData);
      this.#socket.off('end', this.#onEnd);
      this.#socket.pause();
    }
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    this.#chunks.length = 0;
    this.#size = 0;
    return all;
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    if (this.#size >= MAX_EARLY_BYTES) this.#socket.pause();
  };

  readonly #onEnd = (): void => {
    this.#socket.destroy();
  };
}
