#!/usr/bin/env node
/**
 * The `egress-proxy` command: dispatches to run, check-config, ca and bench. Every failure ends here as one
 * line on stderr and a non-zero exit: 1 for a bad config or a failed command, 2 for bad usage.
 */
import { ConfigError, UsageError } from './errors.js';
import { CA_USAGE, CHECK_CONFIG_USAGE, MAIN_USAGE, RUN_USAGE } from './cli/usage.js';
import { packageVersion } from './egress-proxy.js';

const USAGE_BY_COMMAND: Record<string, string> = {
  run: RUN_USAGE,
  'check-config': CHECK_CONFIG_USAGE,
  ca: CA_USAGE,
};

// Errors a broken client connection can raise outside any request handler. One bad connection must not take
// down the process serving everyone else; anything else is a bug, and a crash with a stack trace is the honest
// answer to a bug.
const CONNECTION_ERROR_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED']);
process.on('uncaughtException', (err: NodeJS.ErrnoException) => {
  if (err.code && CONNECTION_ERROR_CODES.has(err.code)) {
    process.stderr.write(`${JSON.stringify({ level: 'error', msg: 'connection error outside a handler', code: err.code, err: err.message })}\n`);
    return;
  }
  process.stderr.write(`egress-proxy: fatal: ${err.stack ?? err.message}\n`);
  process.exit(70);
});

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    // Each command loads only its own modules: `check-config` and `--help` should not pay for TLS and metrics.
    case 'run':
      return (await import('./cli/run-command.js')).runCommand(rest);
    case 'check-config':
      return (await import('./cli/check-config-command.js')).checkConfigCommand(rest);
    case 'ca':
      return (await import('./cli/ca-command.js')).caCommand(rest);
    case 'bench':
      return (await import('./bench/bench-command.js')).runBenchCommand(rest);
    case '--version':
    case '-v':
      process.stdout.write(`${await packageVersion()}\n`);
      return 0;
    case undefined:
      process.stderr.write(MAIN_USAGE);
      return 2;
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(MAIN_USAGE);
      return 0;
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`egress-proxy: config error: ${err.message}\n`);
      process.exitCode = 1;
    } else if (err instanceof UsageError) {
      const usage = USAGE_BY_COMMAND[process.argv[2] ?? ''] ?? MAIN_USAGE;
      process.stderr.write(`egress-proxy: ${err.message}\n\n${usage}`);
      process.exitCode = 2;
    } else if (isListenError(err)) {
      process.stderr.write(`egress-proxy: cannot listen on ${formatAddress(err.address, err.port)}: ${err.code}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`egress-proxy: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);

interface ListenError extends NodeJS.ErrnoException {
  address?: string;
  port?: number;
}

/** EADDRINUSE, EADDRNOTAVAIL, EACCES from binding a listener: an operator's problem, not a bug. */
function isListenError(err: unknown): err is ListenError {
  return err instanceof Error && (err as ListenError).syscall === 'listen';
}

function formatAddress(address: string | undefined, port: number | undefined): string {
  const host = address ?? '?';
  return `${host.includes(':') ? `[${host}]` : host}:${port ?? '?'}`;
}
