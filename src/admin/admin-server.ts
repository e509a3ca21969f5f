/**
 * The admin listener, separate from the proxy port so that monitoring never shares a port with client traffic
 * and can be bound to a different interface: GET /metrics (Prometheus text), /healthz (the process is up),
 * /readyz (the proxy listener accepts; 503 while draining), the live dashboard (`/`, its two files, and the
 * /events stream), and POST /-/reload (the config reload of SIGHUP, for `egress-proxy reload` and for Windows, which
 * has no SIGHUP). Read-only otherwise: every other method is refused. With users configured, everything but
 * /healthz and /readyz needs Basic credentials.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { AuthFailure } from '../auth/client-authenticator.js';
import type { UserCredentials } from '../auth/credential-verifier.js';
import { AdminAuth } from './admin-auth.js';
import { AdminListenerMetrics } from './admin-listener-metrics.js';
import { DashboardAssets, DASHBOARD_SECURITY_HEADERS } from './dashboard/dashboard-assets.js';
import { DashboardEvents } from './dashboard/dashboard-events.js';
import { DashboardHistory } from './dashboard/dashboard-history.js';
import { withRegistry, type MetricsSource } from './metrics-source.js';
import type { ReloadOutcome } from '../reload/config-reloader.js';

export interface AdminDashboardOptions {
  /** Facts shown once per page (version, config summary); must hold no secret. */
  info: () => Record<string, unknown>;
  /** Sample interval. Default 2000 ms. */
  intervalMs?: number;
}

export interface AdminServerOptions {
  bind: string;
  port: number;
  /** One process's registry, or a cluster primary's aggregate of its workers' (src/cluster/cluster-metrics.ts). */
  metrics: MetricsSource;
  isReady(): boolean;
  /** The /readyz body when ready; default "ready". */
  readyText?(): string;
  /** Basic-auth users; empty or absent: no authentication. */
  users?: readonly UserCredentials[];
  /** Failed logins one client address may make per minute before it is answered 429 unchecked. Default 10. */
  maxAuthFailuresPerMinute?: number;
  /** A request failed authentication (logged rate-limited by the caller); counted here in any case. */
  onAuthFailure?: (reason: AuthFailure, clientIp: string) => void;
  /** Clock of the login failure budget, in ms (tests). */
  now?: () => number;
  /** Absent: no dashboard (and no sampling). */
  dashboard?: AdminDashboardOptions;
  /** A dashboard sample failed. */
  onError?: (err: unknown) => void;
  /** An error of the listener once it listens (accept() failing: EMFILE, ENFILE); it must not end the process. */
  onListenerError?: (err: Error) => void;
  /** Reloads the config (POST /-/reload); absent: no such endpoint. */
  reload?: () => Promise<ReloadOutcome>;
}

/** The reload endpoint's path: under `/-/`, as Prometheus spells its own lifecycle endpoints. */
export const RELOAD_PATH = '/-/reload';

const NOT_FOUND = 'Not found: try /metrics, /healthz or /readyz';

export class AdminServer {
  readonly #options: AdminServerOptions;
  /** The proxy's series and the listener's own (admin-listener-metrics.ts). */
  readonly #metrics: MetricsSource;
  readonly #server: http.Server;
  readonly #auth: AdminAuth | undefined;
  readonly #history: DashboardHistory | undefined;
  readonly #events: DashboardEvents | undefined;
  #assets: DashboardAssets | undefined;

  constructor(options: AdminServerOptions) {
    this.#options = options;
    const listenerMetrics = new AdminListenerMetrics();
    this.#metrics = withRegistry(options.metrics, listenerMetrics.registry);
    this.#auth = options.users && options.users.length > 0 ? this.#authFor(options.users, listenerMetrics) : undefined;
    if (options.dashboard) {
      this.#history = new DashboardHistory({ source: options.metrics, intervalMs: options.dashboard.intervalMs, onError: options.onError });
      this.#events = new DashboardEvents({ history: this.#history, info: options.dashboard.info });
    }
    this.#server = http.createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
      void this.#handle(req, res);
    });
    this.#server.keepAliveTimeout = 30_000;
  }

  #authFor(users: readonly UserCredentials[], metrics: AdminListenerMetrics): AdminAuth {
    metrics.authEnabled();
    const onAuthFailure = this.#options.onAuthFailure;
    return new AdminAuth({
      users,
      maxFailuresPerMinute: this.#options.maxAuthFailuresPerMinute ?? 10,
      onFailure: (reason, clientIp) => {
        metrics.onAuthFailure(reason);
        onAuthFailure?.(reason, clientIp);
      },
      ...(this.#options.now ? { now: this.#options.now } : {}),
    });
  }

  /** The sampler behind the dashboard, when there is one. */
  get dashboardHistory(): DashboardHistory | undefined {
    return this.#history;
  }

  async listen(): Promise<AddressInfo> {
    if (this.#history) {
      this.#assets = await DashboardAssets.load();
    }
    this.#server.listen({ host: this.#options.bind, port: this.#options.port });
    await once(this.#server, 'listening');
    this.#server.on('error', (err) => this.#options.onListenerError?.(err));
    this.#history?.start();
    return this.#server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    this.#history?.stop();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === RELOAD_PATH && this.#options.reload) return this.#reload(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return text(res, 405, 'Method not allowed', { Allow: 'GET, HEAD' });
    }
    switch (path) {
      case '/healthz':
        return text(res, 200, 'ok');
      case '/readyz':
        return this.#options.isReady()
          ? text(res, 200, this.#options.readyText?.() ?? 'ready')
          : text(res, 503, 'not ready: draining or not listening');
    }
    if (this.#auth && !(await this.#auth.admit(req, res))) return;
    if (path === '/metrics') {
      try {
        const body = await this.#metrics.metricsText();
        res.writeHead(200, { 'Content-Type': this.#metrics.contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
      } catch (err) {
        text(res, 500, `metrics collection failed: ${(err as Error).message}`);
      }
      return;
    }
    if (this.#assets?.has(path)) return this.#assets.serve(path, req, res);
    if (path === '/events' && this.#events) return this.#events.serve(req, res);
    if (path === '/dashboard.json' && this.#history) {
      const body = JSON.stringify({ info: this.#options.dashboard!.info(), points: this.#history.points, detail: this.#history.latestDetail ?? null });
      res.writeHead(200, { ...DASHBOARD_SECURITY_HEADERS, 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    return text(res, 404, this.#history ? `${NOT_FOUND}, or / for the dashboard` : NOT_FOUND);
  }

  /**
   * POST /-/reload: 200 with `{ result: "success", hash, restart_needed }`, or 422 with `{ result: "failure",
   * message }` (the config was refused; the running one stays). Guarded like /metrics (admin.users), and refused
   * when the request carries an Origin: browsers add one to every cross-site POST, so a web page a user on this
   * host opens cannot make the proxy reload (a plain form POST needs no CORS preflight). curl and the `reload`
   * command send none.
   */
  async #reload(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'POST') return text(res, 405, 'Method not allowed: POST to reload the configuration', { Allow: 'POST' });
    if (this.#auth && !(await this.#auth.admit(req, res))) return;
    if (req.headers.origin !== undefined) return text(res, 403, 'Forbidden: a reload is not accepted from a web page (Origin header present)');
    req.resume();
    let outcome: ReloadOutcome;
    try {
      outcome = await this.#options.reload!();
    } catch (err) {
      return text(res, 500, `reload failed: ${(err as Error).message}`);
    }
    const body =
      outcome.result === 'success'
        ? { result: outcome.result, hash: outcome.hash, restart_needed: outcome.restartNeeded }
        : { result: outcome.result, message: outcome.message };
    res.writeHead(outcome.result === 'success' ? 200 : 422, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(`${JSON.stringify(body)}\n`);
  }
}

function text(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  res.end(`${body}\n`);
}
