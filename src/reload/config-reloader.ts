/**
 * A configuration reload (SIGHUP, `egress-proxy reload`, POST /-/reload): re-resolve the config from the same
 * places the start did (the file, the environment, the original command-line flags, which keep winning), and
 * either apply it or refuse it whole.
 *
 * - Invalid (a ConfigError from any layer, an unreadable file): refused with one log line naming the file and key
 *   (the start's formatter, src/cli/startup-failure.ts); nothing is applied, the running config stays.
 * - Valid: applied at once to new connections and new requests (RunningProxy.reconfigure, in this process or in
 *   every cluster worker); what is in flight keeps what it began with. Settings that only a restart can change
 *   keep their running values and are named in the log line (restart-scope.ts).
 *
 * One reload runs at a time: a second trigger waits for the first and then reads the files again, so the last
 * signal always wins with the latest files.
 */
import type { ProxyConfig } from '../config/proxy-config.js';
import type { ResolvedConfig } from '../config/resolve-config.js';
import type { Logger } from '../logging/logger.js';
import { startupFailureLine } from '../cli/startup-failure.js';
import { configHash } from './config-hash.js';
import type { ReloadMetrics } from './reload-metrics.js';
import { reloadableConfig, restartNeededKeys } from './restart-scope.js';

/** What applies a reloaded config: one proxy, or a cluster primary sending it to its workers. */
export interface ReloadTarget {
  /** Resolves with one line per part that failed to apply it (a cluster worker), empty when all did. */
  apply(config: ProxyConfig): Promise<string[]>;
}

export type ReloadOutcome =
  | { result: 'success'; hash: string; restartNeeded: string[] }
  | { result: 'failure'; message: string };

export interface ConfigReloaderOptions {
  /** The config the process started with. */
  running: ProxyConfig;
  /** Reads the config again, layer by layer, as the start did. */
  resolve: () => Promise<ResolvedConfig>;
  target: ReloadTarget;
  logger: Logger;
  metrics: ReloadMetrics;
}

export class ConfigReloader {
  readonly #options: ConfigReloaderOptions;
  #running: ProxyConfig;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: ConfigReloaderOptions) {
    this.#options = options;
    this.#running = options.running;
  }

  /** The config in force: the start's, with every successful reload's reloadable values. */
  get running(): ProxyConfig {
    return this.#running;
  }

  /** Reloads once the reload in progress, if any, is done. `trigger` says what asked (for the log line). */
  reload(trigger: string): Promise<ReloadOutcome> {
    const outcome = this.#queue.then(() => this.#reload(trigger));
    this.#queue = outcome.catch(() => undefined);
    return outcome;
  }

  async #reload(trigger: string): Promise<ReloadOutcome> {
    const { logger, metrics } = this.#options;
    const configFile = this.#running.configFile ?? null;
    let resolved: ResolvedConfig;
    try {
      resolved = await this.#options.resolve();
    } catch (err) {
      const line = startupFailureLine(err, undefined) ?? (err instanceof Error ? err.message : String(err));
      metrics.failed();
      logger.error({ trigger, config_file: configFile }, `reload refused, the running configuration stays: ${line}`);
      return { result: 'failure', message: line };
    }
    for (const warning of resolved.warnings) logger.warn(warning);
    const restartNeeded = restartNeededKeys(this.#running, resolved.config);
    const next = reloadableConfig(this.#running, resolved.config);
    const hash = configHash(next);
    const failures = await this.#options.target.apply(next);
    this.#running = next;
    if (failures.length > 0) {
      metrics.failed();
      const message = `reload applied only in part: ${failures.join('; ')}`;
      logger.error({ trigger, config_file: configFile, hash }, message);
      return { result: 'failure', message };
    }
    metrics.succeeded(hash);
    if (restartNeeded.length === 0) {
      logger.info({ trigger, config_file: configFile, hash }, 'configuration reloaded');
    } else {
      logger.warn(
        { trigger, config_file: configFile, hash, restart_needed: restartNeeded },
        `configuration reloaded; changed but not applied until a restart: ${restartNeeded.join(', ')}`,
      );
    }
    return { result: 'success', hash, restartNeeded };
  }
}
