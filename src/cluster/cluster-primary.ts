/**
 * The primary of `workers = N`: it forks N worker processes that each run the whole proxy on the one proxy port
 * (node:cluster shares the listening socket; the primary accepts and hands connections round-robin, which spreads
 * them evenly where the kernel's own accept queue would favour a few workers), restarts a crashed worker after a
 * backoff, drains every worker on stop, and serves the admin listener with the workers' metrics added up.
 *
 * Each worker is a complete proxy with its own limits (client connections, upstream slots), pools and leaf
 * certificate cache; the primary holds no proxy state. That keeps a crash to one worker's connections, and it is
 * what a reload needs: the primary re-reads the config and sends it to each worker (worker-messages.ts).
 */
import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Counter, Gauge, Registry } from 'prom-client';
import type { ProxyConfig } from '../config/proxy-config.js';
import type { Logger } from '../logging/logger.js';
import { StartupFailedError } from '../errors.js';
import { registryMetricsSource, type MetricsSource } from '../admin/metrics-source.js';
import { aggregateRegistries } from './cluster-metrics.js';
import { RestartBackoff } from './restart-backoff.js';
import { isWorkerMessage, type PrimaryMessage, type RegistryJson, type WorkerMessage } from './worker-messages.js';

export interface ClusterPrimaryOptions {
  config: ProxyConfig;
  logger: Logger;
  workers: number;
  backoff?: RestartBackoff;
}

type SlotState = 'starting' | 'listening' | 'stopped';

/** One of the N places a worker runs in; a restarted worker takes its predecessor's slot. */
interface WorkerSlot {
  readonly index: number;
  worker: Worker | undefined;
  state: SlotState;
  /** The worker has said hello and been sent its config: from then on, a new config must be sent as a reload. */
  configSent: boolean;
  startedAt: number;
  restartTimer: NodeJS.Timeout | undefined;
  /** Metrics requests waiting for this worker's answer, by request id. */
  readonly pendingMetrics: Map<number, (metrics: RegistryJson | undefined) => void>;
  /** Reloads waiting for this worker's answer, by request id: the error, or undefined once applied (or moot). */
  readonly pendingReloads: Map<number, (error: string | undefined) => void>;
}

/** How long a scrape waits for a worker: a worker whose event loop is stuck this long fails the scrape (500). */
const METRICS_TIMEOUT_MS = 3000;
/** How long a reload waits for a worker to apply it: past this, the worker is reported as not having applied it. */
const RELOAD_TIMEOUT_MS = 5000;
/** After the drain timeout, how long workers get to close and exit before they are killed. */
const EXIT_GRACE_MS = 5000;

export class ClusterPrimary {
  readonly #options: ClusterPrimaryOptions;
  readonly #slots: WorkerSlot[];
  readonly #backoff: RestartBackoff;
  /** The primary's own series (workers, restarts, reloads), added to the workers' sums at each scrape. */
  readonly registry = new Registry();
  readonly #restarts: Counter<'reason'>;
  /** The config workers are started with (the admin listener off: the primary serves it); a reload replaces it. */
  #workerConfig: ProxyConfig;
  #address: AddressInfo | undefined;
  /** Crashed workers are restarted only while serving: during the start a crash fails the start. */
  #phase: 'starting' | 'serving' | 'stopping' = 'starting';
  #stopping: Promise<{ forced: boolean }> | undefined;
  #nextMetricsRequest = 0;
  #nextReload = 0;
  /** The admin listener the primary serves, if any: workers refuse requests aimed at it as loops. */
  #adminListener: { bind: string; port: number } | undefined;

  constructor(options: ClusterPrimaryOptions) {
    this.#options = options;
    this.#backoff = options.backoff ?? new RestartBackoff();
    this.#workerConfig = workerConfigOf(options.config);
    this.#slots = Array.from({ length: options.workers }, (_unused, index): WorkerSlot => ({
      index,
      worker: undefined,
      state: 'stopped',
      configSent: false,
      startedAt: 0,
      restartTimer: undefined,
      pendingMetrics: new Map(),
      pendingReloads: new Map(),
    }));
    const registers = [this.registry];
    const slots = this.#slots;
    new Gauge({
      name: 'egress_proxy_workers',
      help: 'Worker processes serving the proxy port, by state (configured, listening).',
      labelNames: ['state'],
      registers,
      collect() {
        this.set({ state: 'configured' }, slots.length);
        this.set({ state: 'listening' }, slots.filter((slot) => slot.state === 'listening').length);
      },
    });
    this.#restarts = new Counter({
      name: 'egress_proxy_worker_restarts_total',
      help: 'Worker processes restarted after they exited unexpectedly.',
      labelNames: ['reason'],
      registers,
    });
    cluster.setupPrimary({ exec: workerEntryPath() });
  }

  /** Workers listening now. */
  get listeningWorkers(): number {
    return this.#slots.filter((slot) => slot.state === 'listening').length;
  }

  get workers(): number {
    return this.#slots.length;
  }

  /** Ready while not stopping and at least one worker accepts: the port is served. */
  get accepting(): boolean {
    return this.#stopping === undefined && this.listeningWorkers > 0;
  }

  /**
   * Forks every worker and resolves with the proxy address once all of them listen. If any worker fails to start,
   * the others are stopped and the first failure is thrown (a StartupFailedError with its one line when understood).
   */
  async start(adminListener: { bind: string; port: number } | undefined): Promise<AddressInfo> {
    this.#adminListener = adminListener;
    const started = this.#slots.map((slot) => this.#fork(slot));
    try {
      await Promise.all(started);
    } catch (err) {
      this.kill();
      throw err;
    }
    this.#phase = 'serving';
    return this.#address!;
  }

  #fork(slot: WorkerSlot): Promise<void> {
    const worker = cluster.fork();
    slot.worker = worker;
    slot.state = 'starting';
    slot.configSent = false;
    slot.startedAt = performance.now();
    return new Promise<void>((resolve, reject) => {
      const onMessage = (message: unknown): void => {
        if (isWorkerMessage(message)) this.#onWorkerMessage(slot, message, resolve, reject);
      };
      worker.on('message', onMessage);
      worker.once('exit', (code, signal) => {
        slot.state = 'stopped';
        for (const answer of slot.pendingMetrics.values()) answer(undefined);
        slot.pendingMetrics.clear();
        // Its replacement starts with the reloaded config: the reload is not lost with it.
        for (const answer of slot.pendingReloads.values()) answer(undefined);
        slot.pendingReloads.clear();
        if (slot.worker === worker) slot.worker = undefined;
        // Before it listened: a failed start (a start-failed message has normally rejected already).
        reject(new Error(`worker ${slot.index} exited before it listened (${signal ?? `exit code ${code}`})`));
        if (this.#phase === 'serving') this.#restartLater(slot, code, signal as NodeJS.Signals | null);
      });
    });
  }

  #onWorkerMessage(slot: WorkerSlot, message: WorkerMessage, listening: () => void, failed: (err: Error) => void): void {
    switch (message.type) {
      case 'egress-proxy:hello':
        if (slot.worker) this.#send(slot.worker, { type: 'egress-proxy:start', config: this.#workerConfig, adminListener: this.#adminListener });
        slot.configSent = true;
        return;
      case 'egress-proxy:listening':
        slot.state = 'listening';
        // With port 0, every worker's first listen(0) maps to the one socket the primary holds for it (node:cluster
        // keys shared sockets by address, port and listen count), so a restarted worker joins the same free port.
        // Only if every worker died at once is the socket gone, and the port a new one: said loudly.
        this.#options.logger.info({ worker: slot.index, pid: slot.worker?.process.pid }, 'worker listening');
        if (this.#address === undefined) this.#address = message.address;
        else if (message.address.port !== this.#address.port) {
          this.#options.logger.error(
            { worker: slot.index, port: message.address.port, announced_port: this.#address.port },
            'a restarted worker listens on another port than the one announced (every worker had died with port 0)',
          );
        }
        listening();
        return;
      case 'egress-proxy:start-failed':
        failed(message.line !== undefined ? new StartupFailedError(message.line) : new Error(`a worker failed to start: ${message.detail}`));
        if (this.#phase === 'serving') {
          this.#options.logger.error({ worker: slot.index, err: message.line ?? message.detail }, 'worker failed to start');
        }
        return;
      case 'egress-proxy:metrics':
        slot.pendingMetrics.get(message.id)?.(message.metrics);
        slot.pendingMetrics.delete(message.id);
        return;
      case 'egress-proxy:reloaded':
        slot.pendingReloads.get(message.id)?.(message.error);
        slot.pendingReloads.delete(message.id);
        return;
      case 'egress-proxy:stopped':
        return;
    }
  }

  #restartLater(slot: WorkerSlot, code: number | null, signal: NodeJS.Signals | null): void {
    const delayMs = this.#backoff.delayAfterCrash(performance.now() - slot.startedAt);
    const reason = signal ?? `exit_${code}`;
    this.#restarts.inc({ reason: signal ?? 'exit' });
    this.#options.logger.error({ worker: slot.index, reason, restart_in_ms: delayMs }, 'worker exited unexpectedly; restarting it');
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.#phase !== 'serving') return;
      this.#fork(slot).then(
        () => this.#options.logger.info({ worker: slot.index, pid: slot.worker?.process.pid }, 'worker restarted'),
        () => undefined, // its exit schedules the next attempt
      );
    }, delayMs);
  }

  #send(worker: Worker, message: PrimaryMessage): void {
    if (worker.isConnected()) worker.send(message);
  }

  /**
   * Sends a validated config (src/reload/config-reloader.ts) to every worker, and makes it the one a restarted worker
   * starts with. Resolves with one line per worker that could not apply it or did not answer in time; a worker that
   * exits meanwhile is not one of them (its replacement starts on this config).
   */
  async reload(config: ProxyConfig): Promise<string[]> {
    this.#workerConfig = workerConfigOf(config);
    const answers = this.#slots.map(async (slot) => {
      const worker = slot.worker;
      // Not started, between a crash and its restart, or not yet sent its start: that start carries the new config.
      if (worker === undefined || !worker.isConnected() || !slot.configSent) return undefined;
      const id = this.#nextReload++;
      const error = await new Promise<string | undefined>((resolve) => {
        const timer = setTimeout(() => {
          slot.pendingReloads.delete(id);
          resolve(`no answer within ${RELOAD_TIMEOUT_MS} ms`);
        }, RELOAD_TIMEOUT_MS);
        slot.pendingReloads.set(id, (answer) => {
          clearTimeout(timer);
          resolve(answer);
        });
        this.#send(worker, { type: 'egress-proxy:reload', id, config: this.#workerConfig });
      });
      if (error === undefined) return undefined;
      this.#options.logger.error({ worker: slot.index, pid: worker.process.pid, err: error }, 'a worker did not apply the reload; it keeps the previous configuration until it restarts');
      return `worker ${slot.index} (pid ${worker.process.pid}): ${error}`;
    });
    return (await Promise.all(answers)).filter((line): line is string => line !== undefined);
  }

  /**
   * Drains every worker: each stops accepting and finishes what is in flight within `drainMs`. Resolves when all
   * have exited; those still running `EXIT_GRACE_MS` after the drain timeout are killed.
   */
  stop(drainMs = this.#options.config.timeouts.drainMs): Promise<{ forced: boolean }> {
    this.#phase = 'stopping';
    this.#stopping ??= (async () => {
      let forced = false;
      const exits = this.#slots.map(async (slot) => {
        clearTimeout(slot.restartTimer);
        const worker = slot.worker;
        if (worker === undefined || worker.isDead()) return;
        const stopped = new Promise<void>((resolve) => {
          worker.on('message', (message: unknown) => {
            if (isWorkerMessage(message) && message.type === 'egress-proxy:stopped' && message.forced) forced = true;
          });
          worker.once('exit', () => resolve());
        });
        this.#send(worker, { type: 'egress-proxy:drain', drainMs });
        const killTimer = setTimeout(() => {
          forced = true;
          worker.process.kill('SIGKILL');
        }, drainMs + EXIT_GRACE_MS);
        await stopped;
        clearTimeout(killTimer);
      });
      await Promise.all(exits);
      return { forced };
    })();
    return this.#stopping;
  }

  /** Kills every worker at once: for an exit that cannot wait (a second signal, a failed start). */
  kill(): void {
    this.#phase = 'stopping';
    for (const slot of this.#slots) {
      clearTimeout(slot.restartTimer);
      if (slot.worker !== undefined && !slot.worker.isDead()) slot.worker.process.kill('SIGKILL');
    }
  }

  /** The metrics source for the admin listener (/metrics and the dashboard): every listening worker's registry, added up. */
  readonly metricsSource: MetricsSource = {
    contentType: Registry.PROMETHEUS_CONTENT_TYPE,
    metricsText: async () => (await this.#aggregate(undefined)).metrics(),
    metricsAsJson: async (names) => registryMetricsSource(await this.#aggregate(names)).metricsAsJson(names),
  };

  /** The workers' registries (only `names`, when given) added up with the primary's own series. */
  async #aggregate(names: readonly string[] | undefined): Promise<Registry> {
    const workers = await Promise.all(this.#slots.map((slot) => this.#workerMetrics(slot, names)));
    return aggregateRegistries(
      workers.filter((metrics): metrics is RegistryJson => metrics !== undefined),
      await this.registry.getMetricsAsJSON(),
    );
  }

  /** One worker's registry; undefined for a worker that is not serving (or exits while asked). */
  #workerMetrics(slot: WorkerSlot, names: readonly string[] | undefined): Promise<RegistryJson | undefined> {
    const worker = slot.worker;
    if (slot.state !== 'listening' || worker === undefined || !worker.isConnected()) return Promise.resolve(undefined);
    const id = this.#nextMetricsRequest++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        slot.pendingMetrics.delete(id);
        reject(new Error(`worker ${slot.index} (pid ${worker.process.pid}) did not answer within ${METRICS_TIMEOUT_MS} ms`));
      }, METRICS_TIMEOUT_MS);
      slot.pendingMetrics.set(id, (metrics) => {
        clearTimeout(timer);
        resolve(metrics);
      });
      this.#send(worker, { type: 'egress-proxy:metrics-request', id, names });
    });
  }
}

/** What a worker runs: the whole config but the admin listener, which the primary serves. */
function workerConfigOf(config: ProxyConfig): ProxyConfig {
  return { ...config, admin: { ...config.admin, enabled: false } };
}

/** The worker entry point next to this file: worker-main.js when built, worker-main.ts when run through tsx. */
function workerEntryPath(): string {
  const here = fileURLToPath(import.meta.url);
  return path.join(path.dirname(here), `worker-main${path.extname(here)}`);
}
