/**
 * Entry point of `npm run bench` (`node dist/bench/compare.js` after a build): runs the side-by-side proxy
 * benchmark and prints a table, or JSON with --json. Flags: --c N (workers, default 16), --r N (POSTs per worker,
 * default 100), --f FILE (default bench-data/metric.data), --warmup N (default 10), --only a,b (scenario names), --json.
 * Exit code: 0 when every scenario that ran finished without request errors, 1 otherwise, 2 for bad usage.
 */
import { UsageError } from '../errors.js';
import { comparisonJson, describeRun, machineInfo, renderComparisonTable } from './comparison-report.js';
import { DEFAULT_WARMUP_REQUESTS, SCENARIOS, runComparison, selectScenarios } from './comparison.js';
import { formatFlagUsage, parseGoFlags, type FlagSpecs } from './go-flags.js';
import { defaultSampleDataPath } from './package-root.js';
import { readFlagFile } from './read-flag-file.js';

const COMPARE_FLAGS = {
  c: { kind: 'int', default: 16, min: 1, valueName: 'N', usage: 'concurrent workers (connections) per scenario' },
  r: { kind: 'int', default: 100, min: 1, valueName: 'N', usage: 'sequential POSTs per worker' },
  f: { kind: 'string', valueName: 'FILE', usage: 'file to POST (default: bench-data/metric.data)' },
  warmup: { kind: 'int', default: DEFAULT_WARMUP_REQUESTS, min: 0, valueName: 'N', usage: 'untimed requests per worker before each scenario' },
  only: { kind: 'string', valueName: 'NAMES', usage: `comma-separated scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}` },
  json: { kind: 'bool', usage: 'print JSON instead of a table' },
} satisfies FlagSpecs;

const USAGE = `Usage: npm run bench -- [flags]    (node dist/bench/compare.js [flags])

Runs the same bench client workload against a null server directly and through each proxy, one scenario at a time.

Flags:
${formatFlagUsage(COMPARE_FLAGS)}
`;

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseGoFlags(argv, COMPARE_FLAGS);
  if (parsed.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const flags = parsed.values;
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument: ${parsed.positionals[0]}`);
  const only = flags.only?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  try {
    selectScenarios(only);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const file = flags.f ?? defaultSampleDataPath();
  const body = await readFlagFile('-f', file);

  const workload = { connections: flags.c, requestsPerConnection: flags.r, warmupRequests: flags.warmup, file, bodyBytes: body.length };
  const machine = machineInfo();
  if (!flags.json) process.stdout.write(`${describeRun(workload, machine)}\n\n`);
  const outcomes = await runComparison({
    connections: flags.c,
    requestsPerConnection: flags.r,
    warmupRequests: flags.warmup,
    body,
    ...(only !== undefined ? { only } : {}),
    onScenarioStart: (scenario) => process.stderr.write(`running ${scenario.name}: ${scenario.description}\n`),
  });
  process.stdout.write(
    flags.json ? `${JSON.stringify(comparisonJson(workload, machine, outcomes), null, 2)}\n` : renderComparisonTable(outcomes),
  );
  const failed = outcomes.some((o) => o.state === 'error' || (o.state === 'ok' && o.result.errors > 0));
  return failed ? 1 : 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`bench: ${err.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
