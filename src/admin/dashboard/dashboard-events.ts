/**
 * The dashboard's live feed, as Server-Sent Events: one `history` event with the recent points, the newest detail
 * and the static facts (version, config summary), then one `sample` event per new sample. SSE rather than a
 * WebSocket: one direction is all the page needs, it is plain HTTP (so Basic auth, proxies and curl just work),
 * and the browser reconnects by itself.
 *
 * Bounded: at most `maxViewers` streams at once (more get 503), and a viewer that does not read its stream is cut
 * off once a few samples are queued for it, instead of buffering for it without end.
 */
import type http from 'node:http';
import type { DashboardHistory, DashboardUpdate } from './dashboard-history.js';

export interface DashboardEventsOptions {
  history: DashboardHistory;
  /** Static facts sent once per stream (config summary, listener addresses). */
  info: () => Record<string, unknown>;
  /** Default 16. */
  maxViewers?: number;
}

/** Bytes queued for one viewer beyond which it is disconnected: several samples' worth. */
const MAX_QUEUED_BYTES = 256 * 1024;

export class DashboardEvents {
  readonly #options: DashboardEventsOptions;
  readonly #maxViewers: number;
  readonly #viewers = new Set<http.ServerResponse>();

  constructor(options: DashboardEventsOptions) {
    this.#options = options;
    this.#maxViewers = options.maxViewers ?? 16;
  }

  get viewerCount(): number {
    return this.#viewers.size;
  }

  serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.#viewers.size >= this.#maxViewers) {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '5' });
      res.end(`Too many dashboard viewers (at most ${this.#maxViewers} at once)\n`);
      return;
    }
    const { history } = this.#options;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      // A reverse proxy in front of the admin listener must pass events on as they come.
      'X-Accel-Buffering': 'no',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    this.#viewers.add(res);
    res.socket?.setNoDelay(true);
    const opening = { info: this.#options.info(), intervalMs: history.intervalMs, historyMs: history.historyMs, points: history.points, detail: history.latestDetail ?? null };
    res.write(`retry: ${history.intervalMs}\nevent: history\ndata: ${JSON.stringify(opening)}\n\n`);
    const unsubscribe = history.subscribe((update: DashboardUpdate) => {
      if (res.writableLength > MAX_QUEUED_BYTES) {
        res.destroy();
        return;
      }
      res.write(`event: sample\ndata: ${JSON.stringify(update)}\n\n`);
    });
    res.once('close', () => {
      unsubscribe();
      this.#viewers.delete(res);
    });
  }
}
