/**
 * The JavaScript tunnel relay: each direction reads into a buffer it reuses and writes it on (read-buffer-relay.ts),
 * the client's TCP handle moved into a socket that reads that way (adopt-client-socket.ts). Where the handle cannot
 * be moved, or the upstream was dialled without a read buffer, that direction falls back to `pipe()`.
 */
import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { adoptClientSocket } from './adopt-client-socket.js';
import { ReadBufferRelay } from './read-buffer-relay.js';
import { CONNECT_ESTABLISHED, type EstablishedTunnel, type PreparedRelay, type TunnelByteCounts, type TunnelRelay } from './tunnel-relay.js';

export const javaScriptTunnelRelay: TunnelRelay = {
  name: 'js',
  detail: 'JavaScript relay on reused read buffers',
  prepare(): PreparedRelay {
    const toClient = new ReadBufferRelay();
    return {
      upstreamOnread: toClient.onread,
      start: (tunnel) => relayInJavaScript(tunnel, { answered: false, toClient }),
    };
  },
};

export interface JavaScriptRelayOptions {
  /** The `200` was already written to the client (and `pipelined` to the upstream). */
  answered: boolean;
  /** The relay whose `onread` the upstream was dialled with, if any. */
  toClient?: ReadBufferRelay;
}

export function relayInJavaScript(tunnel: EstablishedTunnel, options: JavaScriptRelayOptions): TunnelByteCounts {
  const { client, upstream, pipelined, idleTimeoutMs } = tunnel;
  const toUpstream = new ReadBufferRelay();
  const adopted = adoptClientSocket(client, toUpstream.onread);
  /** The client's end of the relay: `client`, or the socket that took over its TCP handle. */
  const clientEnd: Duplex = adopted?.socket ?? client;
  if (!options.answered) {
    clientEnd.write(CONNECT_ESTABLISHED);
    if (pipelined.length > 0) upstream.write(pipelined);
  }
  for (const chunk of adopted?.buffered ?? []) upstream.write(chunk);
  // Each direction ends its destination when its source ends: that is the half-close. Each socket destroys itself
  // once both of its directions are done.
  if (adopted) toUpstream.start(adopted.socket, upstream);
  else client.pipe(upstream);
  if (options.toClient) options.toClient.start(upstream, clientEnd);
  else upstream.pipe(clientEnd);

  // A failure on one side is passed on as a reset of the other (issue 9): a client whose download is cut must not
  // see the clean FIN of a complete one, and an origin must not take a cut upload for a whole one.
  upstream.once('error', () => resetSocket(clientEnd));
  clientEnd.once('error', () => resetSocket(upstream));
  // A hard close of either side (idle timeout, drain, an error) takes the other down with it.
  const closeOther = (other: Duplex) => (): void => {
    if (!other.destroyed && !other.writableEnded) other.destroy();
  };
  upstream.once('close', closeOther(clientEnd));
  clientEnd.once('close', closeOther(upstream));
  watchIdle(upstream, idleTimeoutMs, () => {
    upstream.destroy();
    client.destroy();
  });
  return { fromClient: () => upstream.bytesWritten, toClient: () => upstream.bytesRead };
}

/** Closes with a TCP RST where the socket has a TCP handle, else as cleanly as it can. */
export function resetSocket(socket: Duplex): void {
  if (socket.destroyed) return;
  if (socket instanceof net.Socket) {
    try {
      socket.resetAndDestroy();
      return;
    } catch {
      // Not a TCP handle (or none): a plain destroy below.
    }
  }
  socket.destroy();
}

/**
 * Calls `onIdle` once no byte has moved either way for `idleMs` (to within a quarter of it), until the socket closes.
 * Not `socket.setTimeout()`: that re-arms a timer on every read and write, which showed in the relay's profile;
 * this looks at the byte counters four times per period.
 */
function watchIdle(upstream: Socket, idleMs: number, onIdle: () => void): void {
  const quarter = Math.max(1, Math.floor(idleMs / 4));
  let seen = -1;
  let quietChecks = 0;
  const check = (): void => {
    const moved = upstream.bytesRead + upstream.bytesWritten;
    quietChecks = moved === seen ? quietChecks + 1 : 0;
    seen = moved;
    if (quietChecks >= 4) onIdle();
    else timer.refresh();
  };
  const timer = setTimeout(check, quarter).unref();
  upstream.once('close', () => clearTimeout(timer));
}
