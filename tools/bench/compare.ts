/**
 * `npm run bench`: the lab benchmark that runs egress-proxy side by side with squid, tinyproxy and floor relays on
 * this machine. It is a tool, not part of the product: it lives in tools/bench, is compiled by its own
 * tsconfig.json into dist-tools/ (never the product's dist/), and starts the product only as processes (the built
 * dist/cli.js for the proxy, its `bench server` for the null server); the bench client runs in this process.
 *
 * This file is the entry point: it runs workload after workload (workloads.ts), each scenario (scenarios.ts)
 * several times in interleaved rounds (comparison.ts, rounds.ts), reads each proxy's CPU time from /proc over its
 * process tree (process-tree-cpu.ts), and prints per workload a table of medians and a targets line
 * (comparison-report.ts, targets.ts), or JSON with --json. The floor relays are in floor/, the tests in test/.
 *
 * To add a scenario, see the top of scenarios.ts: one entry in SCENARIOS, with a `startProxy` that returns the
 * process's pid; it then runs in every workload and gets a CPU column for free. A target that uses it goes into
 * workloads.ts.
 *
 * Flags: --workload 170KB|1KiB|all (default all), --rounds N (default 5), --c N, --r N, --f FILE (any of the three
 * makes one custom workload), --warmup N (default 10), --only a,b (scenario names), --fresh (new processes for
 * every run instead of one warmed pair per scenario), --json, --tunnels N (idle tunnels for the memory block that
 * follows the workloads, tunnel-memory.ts; 0 skips it), --tunnels-only (that block alone).
 * Exit code: 0 when every run finished without request errors, 1 otherwise, 2 for bad usage.
 */
import { isAbsolute, relative } from 'node:path';
import { UsageError } from '../../src/errors.js';
import {
  comparisonJson,
  describeRun,
  machineInfo,
  renderWorkloadReport,
  type WorkloadReport,
} from './comparison-report.js';
import { COMPARE_USAGE, parseCompareArgs } from './compare-options.js';
import { runComparison } from './comparison.js';
import { readFlagFile } from '../../src/bench/read-flag-file.js';
import { evaluateTargets } from './targets.js';
import { measureTunnelMemory, renderTunnelMemory, type TunnelMemoryResult } from './tunnel-memory.js';

async function main(argv: readonly string[]): Promise<number> {
  const started = Date.now();
  const options = parseCompareArgs(argv);
  if (options.help) {
    process.stdout.write(COMPARE_USAGE);
    return 0;
  }
  const planned = options.workloads;
  const bodies = await Promise.all(planned.map((w) => readFlagFile('-f', w.file)));

  const machine = machineInfo();
  if (!options.json) process.stdout.write(`${describeRun(machine, options.rounds, options.freshProcesses)}\n`);
  const reports: WorkloadReport[] = [];
  for (const [index, plan] of planned.entries()) {
    const body = bodies[index] as Buffer;
    const summaries = await runComparison({
      connections: plan.connections,
      requestsPerConnection: plan.requestsPerConnection,
      warmupRequests: options.warmupRequests,
      freshProcesses: options.freshProcesses,
      rounds: options.rounds,
      body,
      only: plan.scenarios,
      onScenarioStart: (scenario, round, rounds) =>
        process.stderr.write(`[${plan.name} round ${round}/${rounds}] ${scenario.name}: ${scenario.description}\n`),
    });
    const report: WorkloadReport = {
      workload: {
        name: plan.name,
        connections: plan.connections,
        requestsPerConnection: plan.requestsPerConnection,
        warmupRequests: options.warmupRequests,
        file: displayPath(plan.file),
        bodyBytes: body.length,
        rounds: options.rounds,
      },
      summaries,
      targets: evaluateTargets(plan.targets, summaries),
    };
    reports.push(report);
    if (!options.json) process.stdout.write(`\n${renderWorkloadReport(report)}`);
  }
  let tunnelMemory: TunnelMemoryResult | undefined;
  if (options.idleTunnels > 0) {
    process.stderr.write(`[tunnel memory] ${options.idleTunnels} idle tunnels\n`);
    tunnelMemory = await measureTunnelMemory({ tunnels: options.idleTunnels });
    if (!options.json) process.stdout.write(`\n${renderTunnelMemory(tunnelMemory)}`);
  }
  const seconds = Math.round((Date.now() - started) / 1000);
  if (options.json) {
    const json = { ...comparisonJson(machine, options.rounds, reports), tunnelMemory, freshProcesses: options.freshProcesses, seconds };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else process.stdout.write(`\nfinished in ${Math.floor(seconds / 60)} min ${seconds % 60} s\n`);

  const failed = reports.some((r) =>
    r.summaries.some(
      (s) => s.state === 'error' || (s.state === 'ok' && (s.stats.errors > 0 || s.rounds.some((round) => round.state === 'error'))),
    ),
  );
  return failed ? 1 : 0;
}

/** The payload's path as printed: relative to the working directory when it is below it. */
function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`bench: ${err.message}\n\n${COMPARE_USAGE}`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
