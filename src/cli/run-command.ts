/**
 * `egress-proxy run`: resolve the config, start the proxy (in this process, or as a cluster primary with
 * `workers` > 1), reload the config on SIGHUP (and POST /-/reload), stop gracefully on SIGTERM/SIGINT. The start is
 * bounded by `timeouts.startup` and by the stop signals, and every failure an operator can fix ends as one line
 * naming the setting and where it was written.
 */
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { resolveConfig, type ConfigOverrides } from '../config/resolve-config.js';
import type { ProxyConfig } from '../config/proxy-config.js';
import { startEgressProxy, packageVersion } from '../egress-proxy.js';
import { createLogger, flushLogger, type Logger } from '../logging/logger.js';
import { ConfigError, StartupFailedError } from '../errors.js';
import { parseCommandArgs } from './command-args.js';
import { RUN_USAGE } from './usage.js';
import { extractBooleanFlags } from './boolean-flags.js';
import { boundedStart } from './bounded-start.js';
import { startupFailureLine } from './startup-failure.js';
import { workerCount } from '../cluster/worker-count.js';
import { ConfigReloader, type ReloadOutcome } from '../reload/config-reloader.js';
import type { AdminReload } from '../admin/admin-from-config.js';
import { configHash } from '../reload/config-hash.js';
import { ReloadMetrics } from '../reload/reload-metrics.js';

/** The boolean flags of `run`: each may also be written `--flag=true|false` (see boolean-flags.ts). */
const BOOLEAN_FLAGS = ['verbose', 'mitm', 'no-admin', 'upstream-insecure', 'no-block-special-destinations', 'log-full-paths'] as const;

/** What `run` needs of a started proxy, single process or cluster primary alike. */
interface ServingProxy {
  proxyAddress: AddressInfo;
  adminAddress: AddressInfo | undefined;
  /** Extra fields for the "proxy listening" line. */
  details: Record<string, unknown>;
  /** The registry the admin listener serves as this process's own (the reload series go there). */
  registry: Registry;
  /** Applies a reloaded config; resolves with one line per part (cluster worker) that could not. */
  apply(config: ProxyConfig): Promise<string[]>;
  stop(drainMs: number): Promise<{ forced: boolean }>;
}

export async function runCommand(argv: string[]): Promise<number> {
  const booleans = extractBooleanFlags(argv, BOOLEAN_FLAGS);
  const { values } = parseRunArgs(booleans.argv);
  if (values.help) {
    process.stdout.write(RUN_USAGE);
    return 0;
  }
  const noAdmin = booleans.values.get('no-admin');
  const noBlockSpecial = booleans.values.get('no-block-special-destinations');
  const overrides: ConfigOverrides = {
    configFile: values.config,
    bind: values.bind,
    port: numberFlag(values.port, '--port'),
    allow: values.allow,
    verbose: booleans.values.get('verbose'),
    mitm: booleans.values.get('mitm'),
    workers: workersFlag(values.workers),
    adminEnabled: noAdmin === undefined ? undefined : !noAdmin,
    adminBind: values['admin-bind'],
    adminPort: numberFlag(values['admin-port'], '--admin-port'),
    dataDir: values['data-dir'],
    upstreamCaFile: values['upstream-ca'],
    upstreamInsecure: booleans.values.get('upstream-insecure'),
    drainSeconds: numberFlag(values['drain-timeout'], '--drain-timeout'),
    destinationsAllow: values['dest-allow'],
    blockSpecialDestinations: noBlockSpecial === undefined ? undefined : !noBlockSpecial,
    connectPorts: values['connect-port'],
    httpPorts: values['http-port'],
    maxConnectionsPerClient: numberFlag(values['max-connections-per-client'], '--max-connections-per-client'),
    logFullPaths: booleans.values.get('log-full-paths'),
    upstreamProxy: values['upstream-proxy'],
  };
  // Listen for SIGTERM/SIGINT before starting anything: a supervisor may signal at any time, during the start
  // too, and a signal with no handler kills the process without draining.
  const stopRequested = waitForStopSignal();
  // A reload reads the same layers again: the file and the environment as they are then, and these flags, which
  // keep their precedence (an edit to the file cannot undo what the command line says).
  const resolve = () => resolveConfig(overrides, process.env);
  const { config, warnings } = await resolve();
  const logger = createLogger();
  for (const warning of warnings) logger.warn(warning);

  // What squid, nginx and systemd's ExecReload send. Handled from here on: SIGHUP's default ends the process at
  // once, cutting every transfer. One that comes during the start is done once the proxy serves.
  let reloader: ConfigReloader | undefined = undefined;
  let reloadAfterStart = false;
  const reloadOnSignal = (): void => {
    if (reloader === undefined) reloadAfterStart = true;
    else void reloader.reload('SIGHUP');
  };
  process.on('SIGHUP', reloadOnSignal);
  const reloadFromAdmin: AdminReload = {
    reload: (): Promise<ReloadOutcome> =>
      reloader?.reload('POST /-/reload') ?? Promise.resolve({ result: 'failure', message: 'the proxy is still starting; try again' }),
    running: () => reloader?.running ?? config,
  };

  const workers = workerCount(config.workers);
  let outcome;
  try {
    const starting = workers > 1 ? startCluster(config, logger, workers, reloadFromAdmin) : startSingle(config, logger, reloadFromAdmin);
    outcome = await boundedStart(starting, stopRequested, config.timeouts.startupMs);
  } catch (err) {
    await flushLogger(logger);
    const line = startupFailureLine(err, config);
    throw line === undefined ? err : new StartupFailedError(line);
  }
  if ('stoppedBy' in outcome) {
    // Nothing serves yet, so there is nothing to drain; whatever the start holds goes with the process.
    logger.info({ signal: outcome.stoppedBy }, 'stopped before the start finished');
    await flushLogger(logger);
    process.exit(0);
  }
  const proxy = outcome.started;
  const hash = configHash(config);
  reloader = new ConfigReloader({
    running: config,
    resolve,
    target: { apply: (next) => proxy.apply(next) },
    logger,
    metrics: new ReloadMetrics(proxy.registry, hash),
  });
  // The port chosen for `--port 0` is something a caller must learn: these lines show at every level but silent.
  const announce = logger.levelVal > 30 ? logger.child({}, { level: 'info' }) : logger;
  announce.info(
    {
      address: proxy.proxyAddress.address,
      port: proxy.proxyAddress.port,
      version: await packageVersion(),
      mitm: config.mitm,
      allowed_client_cidrs: config.allowedClientCidrs,
      config_file: config.configFile ?? null,
      config_hash: hash,
      ...proxy.details,
    },
    'proxy listening',
  );
  if (proxy.adminAddress) {
    announce.info({ address: proxy.adminAddress.address, port: proxy.adminAddress.port }, 'admin listening');
  }

  if (reloadAfterStart) reloadOnSignal();

  const signal = await stopRequested;
  // Draining: a reload now would change nothing that matters, and must not race the stop.
  process.removeListener('SIGHUP', reloadOnSignal);
  process.on('SIGHUP', () => logger.warn('SIGHUP while draining: ignored'));
  // A second signal means "now": an operator who has waited long enough.
  process.once('SIGTERM', () => process.exit(1));
  process.once('SIGINT', () => process.exit(1));
  // The drain timeout in force: a reload may have changed it.
  const drainMs = reloader.running.timeouts.drainMs;
  logger.info({ signal, drain_timeout_ms: drainMs }, 'draining');
  const { forced } = await proxy.stop(drainMs);
  logger.info({ forced }, forced ? 'stopped: drain timeout reached, remaining connections closed' : 'stopped');
  await flushLogger(logger);
  return 0;
}

async function startSingle(config: ProxyConfig, logger: Logger, reload: AdminReload): Promise<ServingProxy> {
  const proxy = await startEgressProxy(config, logger, { reload });
  return {
    proxyAddress: proxy.proxyAddress,
    adminAddress: proxy.adminAddress,
    details: {},
    registry: proxy.metrics.registry,
    apply: (next) => {
      proxy.reconfigure(next);
      return Promise.resolve([]);
    },
    stop: (drainMs) => proxy.stop(drainMs),
  };
}

/** The cluster primary: the admin listener here, the proxy in `workers` worker processes. */
async function startCluster(config: ProxyConfig, logger: Logger, workers: number, reload: AdminReload): Promise<ServingProxy> {
  // Loaded only with workers: node:cluster and the aggregation are no cost to a single process.
  const { startClusterPrimary } = await import('../cluster/start-cluster.js');
  return startClusterPrimary(config, logger, workers, reload);
}

function waitForStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('SIGINT', onSignal);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

function parseRunArgs(argv: string[]) {
  return parseCommandArgs(argv, {
    config: { type: 'string' },
    bind: { type: 'string' },
    port: { type: 'string' },
    allow: { type: 'string', multiple: true },
    workers: { type: 'string' },
    'admin-bind': { type: 'string' },
    'admin-port': { type: 'string' },
    'data-dir': { type: 'string' },
    'upstream-ca': { type: 'string' },
    'drain-timeout': { type: 'string' },
    'dest-allow': { type: 'string', multiple: true },
    'connect-port': { type: 'string', multiple: true },
    'http-port': { type: 'string', multiple: true },
    'max-connections-per-client': { type: 'string' },
    'upstream-proxy': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
}

const DECIMAL = /^\d+(\.\d+)?$/;

/** `--workers N` or `--workers auto`; the range is checked with the other layers' rules. */
function workersFlag(value: string | undefined): number | 'auto' | undefined {
  if (value === undefined) return undefined;
  return value.trim() === 'auto' ? 'auto' : numberFlag(value, '--workers');
}

/** Flags arrive as text: only plain decimal numbers (Number() would also take `0x10` or `1e3`). */
function numberFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!DECIMAL.test(value.trim())) throw new ConfigError('command line', flag, `expected a number, got "${value}"`);
  return Number(value);
}
