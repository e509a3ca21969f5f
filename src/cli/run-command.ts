/** `egress-proxy run`: resolve the config, start the proxy, stop gracefully on SIGTERM/SIGINT. */
import { parseArgs } from 'node:util';
import { resolveConfig, type ConfigOverrides } from '../config/resolve-config.js';
import { startEgressProxy, packageVersion } from '../egress-proxy.js';
import { createLogger, flushLogger } from '../logging/logger.js';
import { ConfigError, UsageError } from '../errors.js';
import { RUN_USAGE } from './usage.js';
import { extractBooleanFlags } from './boolean-flags.js';

/** The boolean flags of `run`: each may also be written `--flag=true|false` (see boolean-flags.ts). */
const BOOLEAN_FLAGS = ['verbose', 'mitm', 'no-admin', 'upstream-insecure'] as const;

export async function runCommand(argv: string[]): Promise<number> {
  const booleans = extractBooleanFlags(argv, BOOLEAN_FLAGS);
  const { values } = parseRunArgs(booleans.argv);
  if (values.help) {
    process.stdout.write(RUN_USAGE);
    return 0;
  }
  const noAdmin = booleans.values.get('no-admin');
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
  };
  // Listen for SIGTERM/SIGINT before starting anything: a supervisor may signal as soon as it reads the
  // "proxy listening" line, and a signal with no handler kills the process without draining.
  const stopRequested = waitForStopSignal();
  const { config, warnings } = await resolveConfig(overrides, process.env);
  const logger = createLogger();
  for (const warning of warnings) logger.warn(warning);

  const proxy = await startEgressProxy(config, logger);
  logger.info(
    {
      address: proxy.proxyAddress.address,
      port: proxy.proxyAddress.port,
      version: await packageVersion(),
      mitm: config.mitm,
      allowed_client_cidrs: config.allowedClientCidrs,
      config_file: config.configFile ?? null,
    },
    'proxy listening',
  );
  if (proxy.adminAddress) {
    logger.info({ address: proxy.adminAddress.address, port: proxy.adminAddress.port }, 'admin listening');
  }

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
  if (value === undefined || value.trim() === 'auto') return value === undefined ? undefined : 'auto';
  return numberFlag(value, '--workers');
}

/** Flags arrive as text: only plain decimal numbers (Number() would also take `0x10` or `1e3`). */
function numberFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!DECIMAL.test(value.trim())) throw new ConfigError('command line', flag, `expected a number, got "${value}"`);
  return Number(value);
}
