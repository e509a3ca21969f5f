/**
 * Gives a CONNECT client's socket a reusable read buffer (see read-buffer-relay.ts for why).
 *
 * Node only offers `onread` when a socket is created, and the proxy's `net.Server` created this one before
 * anyone knew it would become a tunnel. So the TCP handle is
 * moved into a new `net.Socket` made with `onread`: that is what `net.Server` itself does with every accepted
 * handle (`new Socket({ handle })`). It relies on `socket._handle`, which Node has not documented but has not
 * changed since 0.x; when anything is not as expected (not a TCP socket, already closing or half-closed, bytes still
 * queued for writing) nothing is moved and the caller falls back to `pipe()`.
 *
 * The original socket stays behind without a handle, as the server's record of the connection: it keeps counting
 * against `server.maxConnections` and in the tracker until the adopted socket closes, and destroying it (as a
 * drain does) closes the adopted one.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ReadBufferOption } from './read-buffer-relay.js';

/** The undocumented part of `net.Socket` this relies on. */
interface StreamHandle {
  readStart(): number;
  readStop(): number;
  useUserBuffer(buffer: Uint8Array): void;
}
type SocketWithHandle = net.Socket & { _handle: StreamHandle | null; _readableState: { ended: boolean } };

export interface AdoptedClientSocket {
  /** The connection from here on: reads go to `onread`, writes go to the client. */
  socket: net.Socket;
  /** What the old socket had read but not yet handed out, in order. */
  buffered: Buffer[];
}

export function adoptClientSocket(socket: Duplex, onread: ReadBufferOption): AdoptedClientSocket | undefined {
  if (!(socket instanceof net.Socket)) return undefined;
  const old = socket as SocketWithHandle;
  const handle = old._handle;
  if (
    handle === null ||
    typeof handle.readStart !== 'function' ||
    typeof handle.useUserBuffer !== 'function' ||
    old.destroyed ||
    old.connecting ||
    old.readableEnded ||
    // The client's FIN was already read (it waits behind buffered bytes): the handle will not report it again, so
    // a socket adopting it would never end the upstream. pipe() delivers the bytes and then the end.
    old._readableState.ended ||
    !old.writable ||
    old.writableLength > 0
  ) {
    return undefined;
  }

  const buffered: Buffer[] = [];
  for (let chunk = old.read() as Buffer | null; chunk !== null; chunk = old.read() as Buffer | null) buffered.push(chunk);

  // The old socket's timers would fire on a socket that no longer sees any traffic.
  old.setTimeout(0);
  old._handle = null;
  const adopted = new net.Socket({ handle, allowHalfOpen: true, readable: true, writable: true, onread } as net.SocketConstructorOpts);

  adopted.on('error', (err) => old.destroy(err));
  adopted.once('close', () => old.destroy());
  old.once('close', () => adopted.destroy());
  return { socket: adopted, buffered };
}
