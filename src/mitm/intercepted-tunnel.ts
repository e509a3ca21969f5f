/**
 * An intercepted tunnel as the connection tracker sees it: closed at the end of a drain, and its raw bytes (the TLS
 * records on the client's connection, `kind="mitm-tunnel"`) counted at each metrics read while it is open, as a
 * plain tunnel's are (connect-tunnel.ts): a DataKit agent keeps one intercepted connection for hours, and counted
 * only at its close its traffic would show nothing until then. The close's record then carries what was counted
 * already, so the metrics add only the rest.
 */
import type { Socket } from 'node:net';
import type { TrackedTunnel } from '../relay/connection-tracker.js';

export class InterceptedTunnel implements TrackedTunnel {
  readonly #socket: Socket;
  #countedFromClient = 0;
  #countedToClient = 0;

  /** `socket`: the client's TCP connection, under the TLS that terminates there. */
  constructor(socket: Socket) {
    this.#socket = socket;
  }

  destroy(): void {
    this.#socket.destroy();
  }

  countBytesSoFar(count: (fromClient: number, toClient: number, intercepted?: boolean) => void): void {
    const fromClient = this.#socket.bytesRead;
    const toClient = this.#socket.bytesWritten;
    if (fromClient === this.#countedFromClient && toClient === this.#countedToClient) return;
    count(fromClient - this.#countedFromClient, toClient - this.#countedToClient, true);
    this.#countedFromClient = fromClient;
    this.#countedToClient = toClient;
  }

  /** What countBytesSoFar has handed to the metrics (TunnelRecord.bytesCountedLive). */
  get countedLive(): { fromClient: number; toClient: number } | undefined {
    return this.#countedFromClient + this.#countedToClient === 0 ? undefined : { fromClient: this.#countedFromClient, toClient: this.#countedToClient };
  }
}
