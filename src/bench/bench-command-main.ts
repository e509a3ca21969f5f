/**
 * Stand-alone entry point for the bench tools (`node dist/bench/bench-command-main.js client -c 16 ...`), the same
 * as `egress-proxy bench ...`; tests spawn it to exercise real argv handling and exit codes.
 */
import { runBenchCommand } from './bench-command.js';

process.exitCode = await runBenchCommand(process.argv.slice(2));
