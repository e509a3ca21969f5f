/**
 * An open tunnel's bytes as the metrics have been told of them: each metrics read is handed what the tunnel relayed
 * since the last one (a DataKit agent keeps one tunnel for hours, and counted only at its close its traffic would
 * show nothing until then), and the close's record says what was handed over already, so the metrics add only the
 * rest. Shared by plain tunnels (proxy/connect-tunnel.ts) and intercepted ones (mitm/intercepted-tunnel.ts).
 */

/** Receives an open tunnel's bytes since the last read; `intercepted` for a MITM connection (`kind="mitm-tunnel"`). */
export type TunnelBytesCount = (fromClient: number, toClient: number, intercepted?: boolean) => void;

export class LiveTunnelBytes {
  #fromClient = 0;
  #toClient = 0;

  /** Hands `count` the difference between the tunnel's totals now and what was handed over before. */
  countSince(fromClient: number, toClient: number, intercepted: boolean, count: TunnelBytesCount): void {
    if (fromClient === this.#fromClient && toClient === this.#toClient) return;
    count(fromClient - this.#fromClient, toClient - this.#toClient, intercepted);
    this.#fromClient = fromClient;
    this.#toClient = toClient;
  }

  /** What was handed over while the tunnel was open (TunnelRecord.bytesCountedLive), undefined if nothing. */
  get counted(): { fromClient: number; toClient: number } | undefined {
    return this.#fromClient + this.#toClient === 0 ? undefined : { fromClient: this.#fromClient, toClient: this.#toClient };
  }
}
