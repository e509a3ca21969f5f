/**
 * The reload series, kept by the one process that reloads: a single proxy, or a cluster's primary (whose registry
 * the admin listener adds to the workers' sums, so these are never summed across workers). The names follow
 * Prometheus's own `prometheus_config_last_reload_*` convention so that the usual "reload failed" alerts carry over.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export class ReloadMetrics {
  readonly #reloads: Counter<'result'>;
  readonly #lastSuccess: Gauge;
  readonly #lastSucceeded: Gauge;
  readonly #info: Gauge<'hash'>;

  /** `hash` is the config the process started with, which counts as its first successful load. */
  constructor(registry: Registry, hash: string, now = Date.now()) {
    const registers = [registry];
    this.#reloads = new Counter({
      name: 'egress_proxy_config_reloads_total',
      help: 'Configuration reloads (SIGHUP, POST /-/reload) by result: success (applied) or failure (refused; the running configuration stays).',
      labelNames: ['result'],
      registers,
    });
    // Both results exist from the start: rate() and increase() need a series before its first increment.
    this.#reloads.inc({ result: 'success' }, 0);
    this.#reloads.inc({ result: 'failure' }, 0);
    this.#lastSuccess = new Gauge({
      name: 'egress_proxy_config_last_reload_success_timestamp_seconds',
      help: 'When the running configuration was loaded (Unix time): the start, or the last successful reload.',
      registers,
    });
    // Prometheus's own `prometheus_config_last_reload_successful`: 0 from a refused reload until one succeeds, so an
    // alert fires for as long as the file on disk is not the one running (a counter's increase would fire for a
    // fixed window, and on after the fix).
    this.#lastSucceeded = new Gauge({
      name: 'egress_proxy_config_last_reload_successful',
      help: 'Whether the last reload was applied (1; also at start) or refused (0: the file on disk is not the configuration running).',
      registers,
    });
    this.#info = new Gauge({
      name: 'egress_proxy_config_info',
      help: 'Always 1; the hash label fingerprints the running configuration (resolved values), to compare replicas and rollouts.',
      labelNames: ['hash'],
      registers,
    });
    this.#applied(hash, now);
  }

  succeeded(hash: string, now = Date.now()): void {
    this.#reloads.inc({ result: 'success' });
    this.#applied(hash, now);
  }

  failed(): void {
    this.#reloads.inc({ result: 'failure' });
    this.#lastSucceeded.set(0);
  }

  #applied(hash: string, now: number): void {
    this.#lastSuccess.set(now / 1000);
    this.#lastSucceeded.set(1);
    this.#info.reset();
    this.#info.set({ hash }, 1);
  }
}
