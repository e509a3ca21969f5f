/**
 * Two things done to sockets in several places: coalescing the writes of one turn, and letting go of a socket
 * nobody listens to any more.
 */
import type { Socket } from 'node:net';

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
