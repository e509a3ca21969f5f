/**
 * The native tunnel relay: once the `200` and the pipelined bytes are out, both sockets' descriptors go to
 * native/tunnel_splice.c, which moves the bytes with splice(2) on Node's event loop and reports only the end of
 * the tunnel. The client's `net.Socket` stays behind without a handle, as the record of the connection: the server
 * counts it against `max_client_connections` until it is destroyed, the tracker destroys it at a drain's deadline,
 * and destroying it ends the native relay. The upstream's `net.Socket` is let go of at once.
 *
 * Why (docs/benchmarks.md, "Tunnels at or under C's cost"): per chunk the JavaScript relay crosses into JavaScript
 * for every read and runs a stream write; the proxy's CPU per request was above squid's by about that. Here a chunk
 * costs two splice calls and no JavaScript, and the bytes are never copied through user space.
 */
import net, { type Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { loadNativeAddon } from '../system/native-addon.js';
import { canTakeHandle, readBuffered, takeHandle } from './adopt-client-socket.js';
import { relayInJavaScript, resetSocket } from './js-tunnel-relay.js';
import {
  CONNECT_ESTABLISHED,
  type EstablishedTunnel,
  type PreparedRelay,
  type TunnelByteCounts,
  type TunnelOwner,
  type TunnelRelay,
} from './tunnel-relay.js';

/** The addon's functions (see the contract at the top of native/tunnel_splice.c). */
interface SpliceAddon {
  setEventHandler(onEvent: (id: number, kind: number, side: number, errno: number) => void): void;
  open(clientFd: number, upstreamFd: number, idleMs: number, id: number): NativeTunnel;
  close(tunnel: NativeTunnel, resetSide: number): void;
  bytes(tunnel: NativeTunnel): [number, number];
}
declare const nativeTunnel: unique symbol;
type NativeTunnel = { readonly [nativeTunnel]: true };

const CLIENT = 0;
const UPSTREAM = 1;
/** The addon's final events: 1 = both directions ended cleanly, 2 = a socket failed, 3 = idle. */
const EVENT_ERROR = 2;

/** The native relay, or why it cannot be used here. */
export function loadSpliceTunnelRelay(): TunnelRelay | Error {
  if (process.platform !== 'linux') return new Error('splice(2) is Linux-only');
  const loaded = loadNativeAddon();
  if (loaded instanceof Error) return new Error(`native relay unavailable: ${loaded.message}`);
  const addon = loaded as unknown as SpliceAddon;
  // A build left over from an older checkout (the build is not redone until the next `npm ci` / `npm rebuild`).
  if (typeof addon.setEventHandler !== 'function') return new Error('native relay unavailable: built by an older version (run npm rebuild)');
  // One handler for every tunnel's final event, each tunnel found by its id: no closure and no native reference
  // per tunnel (an idle tunnel's memory is a target of issue 13).
  addon.setEventHandler((id, kind, side, errno) => openTunnels.get(id)?.onEvent(kind, side, errno));
  return {
    name: 'splice',
    detail: 'native splice(2) relay',
    prepare: (): PreparedRelay => ({ start: (tunnel) => startSplicing(addon, tunnel) }),
  };
}

/** The tunnels the addon relays now, by the id their events carry. */
const openTunnels = new Map<number, SplicedTunnel>();
let lastId = 0;

/** An id no open tunnel has (int32, as the addon keeps it). */
function nextTunnelId(): number {
  do lastId = lastId === 0x7fffffff ? 1 : lastId + 1;
  while (openTunnels.has(lastId));
  return lastId;
}

function startSplicing(addon: SpliceAddon, tunnel: EstablishedTunnel): TunnelByteCounts {
  const { client, upstream, pipelined } = tunnel;
  if (!(client instanceof net.Socket)) return relayInJavaScript(tunnel, { answered: false });
  // Called from the upstream's `connect` event: paused now, Node does not start reading it after the event.
  upstream.pause();
  // What the client sent after its CONNECT head goes upstream first, through the sockets as they are; the
  // descriptors change hands once nothing is left in either socket's queue.
  const buffered = readBuffered(client);
  client.write(CONNECT_ESTABLISHED);
  const first = buffered.length === 0 ? pipelined : Buffer.concat([pipelined, ...buffered]);
  if (first.length > 0) upstream.write(first);
  return new SplicedTunnel(addon, client, tunnel);
}

/**
 * One tunnel from the moment its `200` is written. Holds no more than it needs while open (an idle tunnel's
 * memory is a target of issue 13): the client's record, the native tunnel, and the byte counts.
 */
class SplicedTunnel implements TunnelByteCounts {
  readonly #addon: SpliceAddon;
  readonly #client: Socket;
  /** Until the descriptor changes hands. */
  #upstream: Socket | undefined;
  readonly #idleMs: number;
  readonly #owner: TunnelOwner;
  #native: NativeTunnel | undefined;
  #id = 0;
  /** The native counts once the relay has stopped (the addon's tunnel is closed by then). */
  #final: [number, number] | undefined;
  /** What the sockets carried before the descriptors changed hands: the pipelined bytes. */
  #sentBefore = 0;
  #receivedBefore = 0;
  /** Set when this tunnel is relayed in JavaScript after all. */
  #fallback: TunnelByteCounts | undefined;

  /** `tunnel`'s pipelined bytes have been sent; it is not kept (they would be, for the tunnel's life). */
  constructor(addon: SpliceAddon, client: Socket, tunnel: EstablishedTunnel) {
    this.#addon = addon;
    this.#client = client;
    this.#upstream = tunnel.upstream;
    this.#idleMs = tunnel.idleTimeoutMs;
    this.#owner = tunnel.owner;
    if (client.writableLength === 0 && tunnel.upstream.writableLength === 0) this.#handOver();
    else this.#handOverWhenFlushed();
  }

  fromClient(): number {
    if (this.#fallback) return this.#fallback.fromClient();
    return this.#native === undefined ? (this.#upstream?.bytesWritten ?? 0) : this.#sentBefore + this.#nativeBytes()[CLIENT];
  }

  toClient(): number {
    if (this.#fallback) return this.#fallback.toClient();
    return this.#native === undefined ? (this.#upstream?.bytesRead ?? 0) : this.#receivedBefore + this.#nativeBytes()[UPSTREAM];
  }

  /** The rare case: the `200` or the pipelined bytes did not fit in a socket buffer at once. */
  #handOverWhenFlushed(): void {
    const client = this.#client;
    const upstream = this.#upstream!;
    const abandon = (): void => {
      client.destroy();
      upstream.destroy();
    };
    const resetClient = (): void => resetSocket(client);
    const onDrain = (): void => {
      if (client.writableLength > 0 || upstream.writableLength > 0) return;
      client.off('drain', onDrain).off('close', abandon);
      upstream.off('drain', onDrain).off('close', abandon).off('error', resetClient);
      if (client.destroyed || upstream.destroyed) abandon();
      else this.#handOver();
    };
    client.on('drain', onDrain).once('close', abandon);
    upstream.on('drain', onDrain).once('close', abandon).once('error', resetClient);
  }

  #handOver(): void {
    const client = this.#client;
    const upstream = this.#upstream!;
    if (!canTakeHandle(client) || !canTakeHandle(upstream)) {
      // E.g. the client's FIN was read with its early bytes: relay this one tunnel in JavaScript.
      const tunnel = {
        client,
        upstream,
        pipelined: Buffer.alloc(0),
        idleTimeoutMs: this.#idleMs,
        owner: this.#owner,
      };
      this.#fallback = relayInJavaScript(tunnel, { answered: true });
      return;
    }
    this.#sentBefore = upstream.bytesWritten;
    this.#receivedBefore = upstream.bytesRead;
    const clientHandle = takeHandle(client);
    const upstreamHandle = takeHandle(upstream);
    const id = nextTunnelId();
    try {
      this.#native = this.#addon.open(clientHandle.fd ?? -1, upstreamHandle.fd ?? -1, this.#idleMs, id);
      this.#id = id;
      openTunnels.set(id, this);
    } catch (err) {
      // Out of descriptors for the duplicates, say: this tunnel cannot go on, the proxy can.
      upstream.destroy(err as Error);
      client.destroy();
      return;
    } finally {
      // The addon holds duplicates of both descriptors (or failed and holds none): these are closed either way.
      clientHandle.close();
      upstreamHandle.close();
    }
    // The upstream object has nothing left to do: let it go. The client's record stays, as the server's count of
    // the connection; destroying it (a drain, the tracker, the client leaving) ends the tunnel.
    upstream.destroy();
    this.#upstream = undefined;
    this.#owner.upstreamReleased();
    // `on`, not `once` (close comes once): `once` would add a wrapper and a record to every open tunnel.
    client.on('close', this.#onClientRecordClosed);
  }

  /** The addon's final event for this tunnel. */
  onEvent(kind: number, side: number, errno: number): void {
    // An end (each FIN was passed on) or the idle timeout closes both cleanly. A failed socket has the other reset
    // (issue 9: a cut transfer must not look like a complete one), and an upstream failure goes to the tunnel's
    // record for its log and metrics.
    const failed = kind === EVENT_ERROR;
    this.#stop(failed ? 1 - side : -1);
    if (failed && side === UPSTREAM) this.#owner.upstreamFailed(systemError(errno));
    this.#client.destroy();
  }

  readonly #onClientRecordClosed = (): void => {
    this.#stop(-1);
  };

  /** Stops the native relay once; `resetSide`: the side to close with a TCP RST, or -1 for neither. */
  #stop(resetSide: number): void {
    if (this.#native === undefined || this.#final !== undefined) return;
    this.#final = this.#addon.bytes(this.#native);
    this.#addon.close(this.#native, resetSide);
    openTunnels.delete(this.#id);
  }

  #nativeBytes(): [number, number] {
    return this.#final ?? this.#addon.bytes(this.#native!);
  }
}

/** An error shaped like Node's own socket errors, so toUpstreamError() classifies it the same way. */
function systemError(errno: number): NodeJS.ErrnoException {
  const code = getSystemErrorName(-errno);
  return Object.assign(new Error(`splice ${code}`), { errno: -errno, code, syscall: 'splice' });
}
