/**
 * `egress-proxy run`: resolve the config, start the proxy (in this process, or as a cluster primary with
 * `workers` > 1), stop gracefully on SIGTERM/SIGINT. The start is bounded by `timeouts.startup` and by the stop
 * signals, and every failure an operator can fix ends as one line naming the setting and where it was written.
 */
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { resolveConfig, type ConfigOverrides } from '../config/resolve-config.js';
import type { ProxyConfig } from '../config/proxy-config.js';
import { startEgressProxy, packageVersion } from '../egress-proxy.js';
import { createLogger, flushLogger, type Logger } from '../logging/logger.js';
import { ConfigError, StartupFailedError, UsageError } from '../errors.js';
import { RUN_USAGE } from './usage.js';
import { extractBooleanFlags } from './boolean-flags.js';
import { boundedStart } from './bounded-start.js';
import { startupFailureLine } from './startup-failure.js';
import { workerCount } from '../cluster/worker-count.js';

/** The boolean flags of `run`: each may also be written `--flag=true|false` (see boolean-flags.ts). */
const BOOLEAN_FLAGS = ['verbose', 'mitm', 'no-admin', 'upstream-insecure', 'no-block-special-destinations', 'log-full-paths'] as const;

/** What `run` needs of a started proxy, single process or cluster primary alike. */
interface ServingProxy {
  proxyAddress: AddressInfo;
  adminAddress: AddressInfo | undefined;
  /** Extra fields for the "proxy listening" line. */
  details: Record<string, unknown>;
  stop(): Promise<{ forced: boolean }>;
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
  };
  // Listen for SIGTERM/SIGINT before starting anything: a supervisor may signal at any time, during the start
  // too, and a signal with no handler kills the process without draining.
  const stopRequested = waitForStopSignal();
  const { config, warnings } = await resolveConfig(overrides, process.env);
  const logger = createLogger();
  for (const warning of warnings) logger.warn(warning);

  const workers = workerCount(config.workers);
  let outcome;
  try {
    outcome = await boundedStart(workers > 1 ? startCluster(config, logger, workers) : startSingle(config, logger), stopRequested, config.timeouts.startupMs);
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
      ...proxy.details,
    },
    'proxy listening',
  );
  if (proxy.adminAddress) {
    announce.info({ address: proxy.adminAddress.address, port: proxy.adminAddress.port }, 'admin listening');
  }

  // What squid, nginx and systemd's ExecReload send. The reload itself is not built yet; until it is, SIGHUP must
  // not do what it does by default (end the process at once, cutting every transfer in flight).
  process.on('SIGHUP', () => logger.warn('SIGHUP: configuration reload is not supported yet; the running configuration stays (restart to change it)'));

  const signal = await stopRequested;
  // A second signal means "now": an operator who has waited long enough.
  process.once('SIGTERM', () => process.exit(1));
  process.once('SIGINT', () => process.exit(1));
  logger.info({ signal, drain_timeout_ms: config.timeouts.drainMs }, 'draining');
  const { forced } = await proxy.stop();
  logger.info({ forced }, forced ? 'stopped: drain timeout reached, remaining connections closed' : 'stopped');
  await flushLogger(logger);
  return 0;
}

async function startSingle(config: ProxyConfig, logger: Logger): Promise<ServingProxy> {
  const proxy = await startEgressProxy(config, logger);
  return { proxyAddress: proxy.proxyAddress, adminAddress: proxy.adminAddress, details: {}, stop: () => proxy.stop() };
}

/** The cluster primary: the admin listener here, the proxy in `workers` worker processes. */
async function startCluster(config: ProxyConfig, logger: Logger, workers: number): Promise<ServingProxy> {
  // Loaded only with workers: node:cluster and the aggregation are no cost to a single process.
  const { startClusterPrimary } = await import('../cluster/start-cluster.js');
  return startClusterPrimary(config, logger, workers);
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
  try {
    return parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
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
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
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
