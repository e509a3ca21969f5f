/**
 * The admin listener, separate from the proxy port so that monitoring never shares a port with client traffic
 * and can be bound to a different interface: GET /metrics (Prometheus text), /healthz (the process is up),
 * /readyz (the proxy listener accepts; 503 while draining).
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/**
 * Where /metrics comes from: a prom-client Registry, or anything that renders Prometheus text the same way (the
 * cluster primary's aggregation of its workers' registries, src/cluster/cluster-metrics.ts).
 */
export type MetricsSource = Pick<Registry, 'metrics' | 'contentType'>;

export interface AdminServerOptions {
  bind: string;
  port: number;
  registry: MetricsSource;
  isReady(): boolean;
  /** The /readyz body when ready; default "ready". */
  readyText?(): string;
}

export class AdminServer {
  readonly #options: AdminServerOptions;
  readonly #server: http.Server;

  constructor(options: AdminServerOptions) {
    this.#options = options;
    this.#server = http.createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
      void this.#handle(req, res);
    });
    this.#server.keepAliveTimeout = 30_000;
  }

  async listen(): Promise<AddressInfo> {
    this.#server.listen({ host: this.#options.bind, port: this.#options.port });
    await once(this.#server, 'listening');
    return this.#server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return text(res, 405, 'Method not allowed', { Allow: 'GET, HEAD' });
    }
    switch (path) {
      case '/metrics':
        try {
          const body = await this.#options.registry.metrics();
          res.writeHead(200, { 'Content-Type': this.#options.registry.contentType });
          res.end(req.method === 'HEAD' ? undefined : body);
        } catch (err) {
          text(res, 500, `metrics collection failed: ${(err as Error).message}`);
        }
        return;
      case '/healthz':
        return text(res, 200, 'ok');
      case '/readyz':
        return this.#options.isReady()
          ? text(res, 200, this.#options.readyText?.() ?? 'ready')
          : text(res, 503, 'not ready: draining or not listening');
      default:
        return text(res, 404, 'Not found: try /metrics, /healthz or /readyz');
    }
  }
}

function text(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  res.end(`${body}\n`);
}
