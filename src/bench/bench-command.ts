/**
 * `egress-proxy bench <client|server> ...`: routes to the load client or the null server and turns usage errors
 * into the Go-tool convention the reference's users know: a one-line error and the usage on stderr, exit code 2.
 */
import { UsageError } from '../errors.js';
import { processIo, type CommandIo } from './command-io.js';

export const BENCH_USAGE = `Usage: egress-proxy bench <command> [flags]

Commands:
  client   load client: POSTs a file over keep-alive connections, directly or through a proxy,
           and prints latency and throughput (the reference's 'cli')
  server   null server: answers POST /v1/write/:category with an empty 200 (the reference's 'null-server')

Run 'egress-proxy bench <command> -help' for a command's flags. 'npm run bench' compares proxies side by side.
`;

/**
 * Runs `egress-proxy bench` with `argv` (the arguments after "bench") and resolves with the process exit code.
 * `io` defaults to the process's stdout/stderr and SIGINT/SIGTERM.
 */
export async function runBenchCommand(argv: readonly string[], io: CommandIo = processIo()): Promise<number> {
  const [command, ...rest] = argv;
  // Loaded on demand: the client does not need the X.509 library, the server does not need undici.
  let run: ((argv: readonly string[], io: CommandIo) => Promise<number>) | undefined;
  let usage = BENCH_USAGE;
  switch (command) {
    case 'client': {
      const module = await import('./client-command.js');
      run = module.runClientCommand;
      usage = module.CLIENT_USAGE;
      break;
    }
    case 'server': {
      const module = await import('./server-command.js');
      run = module.runServerCommand;
      usage = module.SERVER_USAGE;
      break;
    }
    case '-h':
    case '-help':
    case '--help':
    case 'help':
      io.stdout.write(BENCH_USAGE);
      return 0;
    case undefined:
      io.stderr.write(`bench: a command is required\n\n${BENCH_USAGE}`);
      return 2;
    default:
      io.stderr.write(`bench: unknown command "${command}"\n\n${BENCH_USAGE}`);
      return 2;
  }

  try {
    return await run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`bench ${command}: ${err.message}\n\n${usage}`);
      return 2;
    }
    io.stderr.write(`bench ${command}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
