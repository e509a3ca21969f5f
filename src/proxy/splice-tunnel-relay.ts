/**
 * The native tunnel relay: once the `200` and the pipelined bytes are out, both sockets' descriptors go to
 * native/tunnel_splice.c, which moves the bytes with splice(2) on Node's event loop and reports only the end of
 * the tunnel. The two `net.Socket`s stay behind without handles, as records: the server counts the client's until
 * it is destroyed, the tracker destroys both at a drain's deadline, and destroying either ends the native relay.
 *
 * Why (docs/benchmarks.md, "Tunnels at or under C's cost"): per chunk the JavaScript relay crosses into JavaScript
 * for every read and runs a stream write; the proxy's CPU per request was above squid's by about that. Here a chunk
 * costs two splice calls and no JavaScript, and the bytes are never copied through user space.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { canTakeHandle, readBuffered, takeHandle } from './adopt-client-socket.js';
import { relayInJavaScript, resetSocket } from './js-tunnel-relay.js';
import {
  CONNECT_ESTABLISHED,
  type EstablishedTunnel,
  type PreparedRelay,
  type TunnelByteCounts,
  type TunnelRelay,
} from './tunnel-relay.js';

/** The addon's functions (see the contract at the top of native/tunnel_splice.c). */
interface SpliceAddon {
  open(clientFd: number, upstreamFd: number, idleMs: number, onEvent: (kind: number, side: number, errno: number) => void): NativeTunnel;
  close(tunnel: NativeTunnel, resetSide: number): void;
  bytes(tunnel: NativeTunnel): [number, number];
}
declare const nativeTunnel: unique symbol;
type NativeTunnel = { readonly [nativeTunnel]: true };

const CLIENT = 0;
const UPSTREAM = 1;
/** The addon's final events: 1 = both directions ended cleanly, 2 = a socket failed, 3 = idle. */
const EVENT_ERROR = 2;
/** This file sits in src/proxy or dist/proxy: the addon is built into native/ at the package root. */
const ADDON_PATH = '../../native/build/Release/tunnel_splice.node';

/** The native relay, or why it cannot be used here. */
export function loadSpliceTunnelRelay(): TunnelRelay | Error {
  if (process.platform !== 'linux') return new Error('splice(2) is Linux-only');
  let addon: SpliceAddon;
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as SpliceAddon;
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' ? 'not built at install' : (err as Error).message;
    return new Error(`native relay unavailable: ${reason}`);
  }
  return {
    name: 'splice',
    detail: 'native splice(2) relay',
    prepare: (): PreparedRelay => ({ start: (tunnel) => startSplicing(addon, tunnel) }),
  };
}

function startSplicing(addon: SpliceAddon, tunnel: EstablishedTunnel): TunnelByteCounts {
  const { client, upstream, pipelined } = tunnel;
  // Called from the upstream's `connect` event: paused now, Node does not start reading it after the event.
  upstream.pause();
  // What the client sent after its CONNECT head goes upstream first, through the sockets as they are; the
  // descriptors change hands once nothing is left in either socket's queue.
  const buffered = readBuffered(client);
  client.write(CONNECT_ESTABLISHED);
  const first = buffered.length === 0 ? pipelined : Buffer.concat([pipelined, ...buffered]);
  if (first.length > 0) upstream.write(first);

  let counts: TunnelByteCounts = { fromClient: () => upstream.bytesWritten, toClient: () => upstream.bytesRead };
  const abandon = (): void => {
    client.destroy();
    upstream.destroy();
  };
  const resetClient = (): void => resetSocket(client);
  client.once('close', abandon);
  upstream.once('close', abandon);
  upstream.once('error', resetClient);
  const handOver = (): void => {
    if (client.writableLength > 0 || upstream.writableLength > 0) return;
    client.off('drain', handOver);
    upstream.off('drain', handOver);
    client.off('close', abandon);
    upstream.off('close', abandon);
    upstream.off('error', resetClient);
    if (client.destroyed || upstream.destroyed) return abandon();
    if (!canTakeHandle(client) || !canTakeHandle(upstream)) {
      // E.g. the client's FIN was read with its early bytes: relay this one tunnel in JavaScript.
      counts = relayInJavaScript(tunnel, { answered: true });
      return;
    }
    counts = spliceSockets(addon, tunnel, client, upstream);
  };
  client.on('drain', handOver);
  upstream.on('drain', handOver);
  handOver();
  return { fromClient: () => counts.fromClient(), toClient: () => counts.toClient() };
}

function spliceSockets(addon: SpliceAddon, tunnel: EstablishedTunnel, client: Socket, upstream: Socket): TunnelByteCounts {
  const sentBefore = upstream.bytesWritten;
  const receivedBefore = upstream.bytesRead;
  const clientHandle = takeHandle(client);
  const upstreamHandle = takeHandle(upstream);
  let native: NativeTunnel | undefined;
  let final: [number, number] | undefined;
  try {
    native = addon.open(clientHandle.fd ?? -1, upstreamHandle.fd ?? -1, tunnel.idleTimeoutMs, (kind, side, errno) => {
      // An end (each FIN was passed on) or the idle timeout closes both cleanly. A failed socket has the other
      // reset (issue 9: a cut transfer must not look like a complete one), and an upstream failure is emitted on
      // the upstream record for the tunnel's log and metrics.
      const failed = kind === EVENT_ERROR;
      finish(failed ? 1 - side : -1);
      if (failed && side === UPSTREAM) upstream.destroy(systemError(errno));
      else upstream.destroy();
      client.destroy();
    });
  } finally {
    // The addon holds duplicates of both descriptors (or failed and holds none): these are closed either way.
    clientHandle.close();
    upstreamHandle.close();
  }
  /** Stops the native relay once; resetSide = the side to close with a TCP RST, or -1. */
  const finish = (resetSide: number): void => {
    if (native === undefined || final !== undefined) return;
    final = addon.bytes(native);
    addon.close(native, resetSide);
  };
  // Destroying either record (a drain, the tracker, the client leaving) ends the tunnel.
  client.once('close', () => {
    finish(-1);
    upstream.destroy();
  });
  upstream.once('close', () => {
    finish(-1);
    client.destroy();
  });
  const bytes = (direction: number): number => (final ?? addon.bytes(native))[direction]!;
  return { fromClient: () => sentBefore + bytes(CLIENT), toClient: () => receivedBefore + bytes(UPSTREAM) };
}

/** An error shaped like Node's own socket errors, so toUpstreamError() classifies it the same way. */
function systemError(errno: number): NodeJS.ErrnoException {
  const code = getSystemErrorName(-errno);
  return Object.assign(new Error(`splice ${code}`), { errno: -errno, code, syscall: 'splice' });
}
