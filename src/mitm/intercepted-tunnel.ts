/**
 * An intercepted tunnel as the connection tracker sees it: closed at the end of a drain, and its raw bytes (the TLS
 * records on the client's connection, `kind="mitm-tunnel"`) counted at each metrics read while it is open, as a
 * plain tunnel's are (relay/live-tunnel-bytes.ts).
 */
import type { Socket } from 'node:net';
import type { TrackedTunnel } from '../relay/connection-tracker.js';
import { LiveTunnelBytes, type TunnelBytesCount } from '../relay/live-tunnel-bytes.js';

export class InterceptedTunnel implements TrackedTunnel {
  readonly #socket: Socket;
  readonly #live = new LiveTunnelBytes();

  /** `socket`: the client's TCP connection, under the TLS that terminates there. */
  constructor(socket: Socket) {
    this.#socket = socket;
  }

  destroy(): void {
    this.#socket.destroy();
  }

  countBytesSoFar(count: TunnelBytesCount): void {
    this.#live.countSince(this.#socket.bytesRead, this.#socket.bytesWritten, true, count);
  }

  /** What countBytesSoFar has handed to the metrics (TunnelRecord.bytesCountedLive). */
  get countedLive(): { fromClient: number; toClient: number } | undefined {
    return this.#live.counted;
  }
}
