#!/usr/bin/env node
/**
 * The `egress-proxy` command: dispatches to run, reload, check-config, ca, bench and passwd. Every failure ends here as one
 * line on stderr and a non-zero exit: 1 for a bad config or a failed command, 2 for bad usage.
 */
import { ConfigError, StartupFailedError, UsageError } from './errors.js';
import { survivePerConnectionErrors } from './cli/uncaught-errors.js';
import { CA_USAGE, CHECK_CONFIG_USAGE, MAIN_USAGE, PASSWD_USAGE, RELOAD_USAGE, RUN_USAGE } from './cli/usage.js';
import { packageVersion } from './egress-proxy.js';

const USAGE_BY_COMMAND: Record<string, string> = {
  run: RUN_USAGE,
  reload: RELOAD_USAGE,
  'check-config': CHECK_CONFIG_USAGE,
  ca: CA_USAGE,
  passwd: PASSWD_USAGE,
};

survivePerConnectionErrors();

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    // Each command loads only its own modules: `check-config` and `--help` should not pay for TLS and metrics.
    case 'run':
      return (await import('./cli/run-command.js')).runCommand(rest);
    case 'reload':
      return (await import('./cli/reload-command.js')).reloadCommand(rest);
    case 'check-config':
      return (await import('./cli/check-config-command.js')).checkConfigCommand(rest);
    case 'ca':
      return (await import('./cli/ca-command.js')).caCommand(rest);
    case 'bench':
      return (await import('./bench/bench-command.js')).runBenchCommand(rest);
    case 'passwd':
      return (await import('./cli/passwd-command.js')).passwdCommand(rest);
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
    if (err instanceof StartupFailedError) {
      process.stderr.write(`egress-proxy: ${err.message}\n`);
      // At once: a start that failed or timed out may leave work pending (a lock wait, a DNS lookup) that would
      // keep the process alive with nothing served.
      process.exit(1);
    } else if (err instanceof ConfigError) {
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
