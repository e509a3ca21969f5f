/**
 * Things done to sockets in several places: sizing their write buffers, coalescing the writes of one turn, and
 * letting go of a socket nobody listens to any more.
 */
import type { Socket } from 'node:net';

/**
 * The write buffer (stream highWaterMark) of the TLS sockets a request body goes through. Node's default, 16 KiB, is
 * the size of one TLS record's plaintext, and `write()` reports a full buffer when what it holds *with* the new
 * chunk reaches the mark, even when the chunk then leaves at once: every record of a body read from a TLS client
 * paused the client, and a 'drain' resumed it (a readStop and a readStart, two epoll_ctl calls, and the JS around
 * them), and the records went out one write each. With room for a few records the relay pauses only when the
 * upstream really falls behind: a 170 KB MITM upload went from 12 to 7 writes and from 9 to 4 epoll_ctl calls, for
 * ~8% less proxy CPU per request (docs/mitm.md). The cost is at most 48 KiB more held per slow connection.
 */
export const TLS_WRITE_BUFFER_BYTES = 64 * 1024;

/**
 * The stream option that sizes a TLS socket's buffers. Node passes it on from `tls.connect()` and `new TLSSocket()`
 * to the socket's Duplex (both directions), on Node 20 and 24 alike; @types/node leaves it out of the TLS options.
 */
export interface StreamBufferOption {
  highWaterMark: number;
}

/**
 * Holds writes until the next tick, so that what is written meanwhile (a head and the body bytes read with it)
 * leaves as one write, and for TLS as one record: each write costs a syscall and a TCP segment (and an encryption)
 * whatever its size.
 */
export function corkUntilNextTick(socket: Socket): void {
  socket.cork();
  process.nextTick(uncork, socket);
}

function uncork(socket: Socket): void {
  socket.uncork();
}

/**
 * Closes a socket whose listeners are gone. An error can still be on its way after destroy() (OpenSSL may be in the
 * middle of the read that holds a broken record), and an 'error' without a listener kills the process.
 */
export function discardSocket(socket: Socket): void {
  socket.on('error', ignoreError);
  socket.destroy();
}

function ignoreError(): void {}
