/**
 * One direction of a CONNECT tunnel: bytes read from a socket into a buffer this relay owns, written on to the
 * other side.
 *
 * Why not `source.pipe(destination)`: a plain socket read allocates a fresh 64 KiB ArrayBuffer, then copies what
 * was read into a right-sized one. For a 170 KB upload that is several allocations of memory V8 counts as external,
 * and external memory drives major (mark-compact) collections. Measured on the bench machine, depending on where
 * V8 set its heap limit at start-up, a proxy process would run a major GC every 100 ms under load and spend 2-3
 * times the user CPU of a relay that reuses its buffer. Node's `onread` option (a user-supplied read buffer) avoids
 * all of it: the kernel copies straight into our buffer, and the buffer is written on without a copy.
 *
 * The contract that makes reuse safe: the buffer must not be read into again while a write still refers to it.
 * A socket write that the kernel takes at once completes synchronously (`writableLength` is back to 0 when
 * `write()` returns); otherwise the source is paused (`false` from the callback stops reading) until every write
 * of ours has completed.
 */
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';

/** Enough for a TLS handshake and small records; an idle or chatty tunnel never needs more. */
const SMALL_READ_BUFFER_BYTES = 16 * 1024;
/** What a full small read grows to: the size Node itself reads with, and the fastest on the bench machine. */
const LARGE_READ_BUFFER_BYTES = 64 * 1024;

/** The `onread` option of `net.connect` / `new net.Socket`. */
export interface ReadBufferOption {
  buffer: () => Buffer;
  callback: (bytesRead: number, buffer: Buffer) => boolean;
}

export class ReadBufferRelay {
  #buffer: Buffer | undefined;
  #growNext = false;
  #allocations = 0;
  #source: Socket | undefined;
  #destination: Writable | undefined;
  /** Bytes that arrived before there was a destination (copied: the read buffer is reused). */
  #beforeStart: Buffer[] = [];
  #writesInFlight = 0;
  #waitingForWrites = false;

  /** Pass as `onread` to the socket this relay reads from. */
  readonly onread: ReadBufferOption = {
    buffer: () => this.#readBuffer(),
    callback: (bytesRead, buffer) => this.#onRead(bytesRead, buffer),
  };

  /** How many read buffers this relay has allocated: 1, or 2 once it has grown. Never one per read. */
  get bufferAllocations(): number {
    return this.#allocations;
  }

  /**
   * Starts relaying from `source` (which must have been created with this relay's `onread`) to `destination`.
   * The source ending ends the destination: that is the half-close of RFC 9110 §9.3.6.
   */
  start(source: Socket, destination: Writable): void {
    this.#source = source;
    this.#destination = destination;
    for (const chunk of this.#beforeStart) this.#write(chunk);
    this.#beforeStart = [];
    source.once('end', () => destination.end());
  }

  #readBuffer(): Buffer {
    // Node asks for the buffer once before the first read and again after every read.
    if (this.#buffer === undefined || this.#growNext) {
      this.#buffer = Buffer.allocUnsafe(this.#growNext ? LARGE_READ_BUFFER_BYTES : SMALL_READ_BUFFER_BYTES);
      this.#growNext = false;
      this.#allocations++;
    }
    return this.#buffer;
  }

  #onRead(bytesRead: number, buffer: Buffer): boolean {
    // A read that filled the buffer means more was waiting: read bigger from now on. The old buffer may still be
    // held by a write; it is simply left to it.
    if (bytesRead === buffer.length && buffer.length < LARGE_READ_BUFFER_BYTES) this.#growNext = true;
    const destination = this.#destination;
    if (destination === undefined) {
      // Only possible if the peer speaks before the tunnel is set up, which start() follows synchronously.
      this.#beforeStart.push(Buffer.from(buffer.subarray(0, bytesRead)));
      return true;
    }
    this.#write(buffer.subarray(0, bytesRead));
    if (destination.writableLength === 0) return true;
    this.#waitingForWrites = true;
    return false;
  }

  #write(chunk: Buffer): void {
    this.#writesInFlight++;
    this.#destination!.write(chunk, this.#afterWrite);
  }

  readonly #afterWrite = (): void => {
    this.#writesInFlight--;
    if (!this.#waitingForWrites || this.#writesInFlight > 0) return;
    this.#waitingForWrites = false;
    // Errors need nothing here: a destination that failed is destroyed, and the tunnel closes both sides.
    if (this.#source !== undefined && !this.#source.destroyed) this.#source.resume();
  };
}
