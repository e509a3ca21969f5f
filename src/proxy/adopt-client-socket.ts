/**
 * Takes a connected socket's TCP handle away from the `net.Socket` that holds it, for a tunnel relay that reads
 * the connection its own way: the JavaScript relay gives the client's connection a reusable read buffer
 * (read-buffer-relay.ts), the native relay takes both sockets' descriptors (splice-tunnel-relay.ts).
 *
 * Node only offers `onread` when a socket is created, and the proxy's `net.Server` created the client's socket
 * before anyone knew it would become a tunnel. So the TCP handle is moved into a new `net.Socket` made with
 * `onread`: that is what `net.Server` itself does with every accepted handle (`new Socket({ handle })`). It relies on
 * `socket._handle`, which Node has not documented but has not changed since 0.x; when anything is not as expected
 * (not a TCP socket, already closing or half-closed, bytes still queued for writing) nothing is moved and the caller
 * falls back to `pipe()`.
 *
 * The original socket stays behind without a handle, as the server's record of the connection: it keeps counting
 * against `limits.max_client_connections` (proxy-server.ts) and in the tracker until the relay is over, and destroying it (as a drain does)
 * ends the relay.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ReadBufferOption } from './read-buffer-relay.js';

/** The undocumented part of `net.Socket` this relies on. */
export interface StreamHandle {
  readStart(): number;
  readStop(): number;
  useUserBuffer(buffer: Uint8Array): void;
  close(callback?: () => void): void;
  /** The descriptor (POSIX only; -1 elsewhere). */
  readonly fd?: number;
}
type SocketWithHandle = net.Socket & { _handle: StreamHandle | null; _readableState: { ended: boolean } };

export interface AdoptedClientSocket {
  /** The connection from here on: reads go to `onread`, writes go to the client. */
  socket: net.Socket;
  /** What the old socket had read but not yet handed out, in order. */
  buffered: Buffer[];
}

/** Whether `socket` holds a TCP handle that can be taken (see above for what rules it out). */
export function canTakeHandle(socket: Duplex): socket is net.Socket {
  if (!(socket instanceof net.Socket)) return false;
  const s = socket as SocketWithHandle;
  const handle = s._handle;
  return (
    handle !== null &&
    typeof handle.readStart === 'function' &&
    typeof handle.useUserBuffer === 'function' &&
    !s.destroyed &&
    !s.connecting &&
    !s.readableEnded &&
    // The peer's FIN was already read (it waits behind buffered bytes): the handle will not report it again, so
    // whoever takes it would never pass the end on. pipe() delivers the bytes and then the end.
    !s._readableState.ended &&
    s.writable &&
    s.writableLength === 0
  );
}

/** What `socket` has read but not yet handed out, in order (it is paused: nothing more arrives meanwhile). */
export function readBuffered(socket: Duplex): Buffer[] {
  const buffered: Buffer[] = [];
  for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) buffered.push(chunk);
  return buffered;
}

/**
 * Takes the handle out of `socket` (check `canTakeHandle` first). The socket is left as a record without a handle:
 * `destroy()` still emits `close` and releases its server's connection count.
 */
export function takeHandle(socket: net.Socket): StreamHandle {
  const s = socket as SocketWithHandle;
  const handle = s._handle!;
  // The old socket's timers would fire on a socket that no longer sees any traffic. Its `timeout` listeners go too:
  // `setTimeout(0)` leaves them, and through them the HTTP connection that read the CONNECT would stay reachable
  // (and in memory) for as long as the tunnel is open.
  s.setTimeout(0);
  s.removeAllListeners('timeout');
  s._handle = null;
  return handle;
}

export function adoptClientSocket(socket: Duplex, onread: ReadBufferOption): AdoptedClientSocket | undefined {
  if (!canTakeHandle(socket)) return undefined;
  const buffered = readBuffered(socket);
  const handle = takeHandle(socket);
  const adopted = new net.Socket({ handle, allowHalfOpen: true, readable: true, writable: true, onread } as net.SocketConstructorOpts);

  adopted.on('error', (err) => socket.destroy(err));
  adopted.once('close', () => socket.destroy());
  socket.once('close', () => adopted.destroy());
  return { socket: adopted, buffered };
}
