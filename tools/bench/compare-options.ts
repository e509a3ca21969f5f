/**
 * The command line of `npm run bench` (compare.ts), parsed into what to run, without side effects so it can be
 * tested: which workloads (with their scenarios and targets), how many rounds, the warm-up, the output format.
 */
import { UsageError } from '../../src/errors.js';
import { DEFAULT_WARMUP_REQUESTS } from './comparison.js';
import { SCENARIOS } from './scenarios.js';
import { DEFAULT_IDLE_TUNNELS } from './tunnel-memory.js';
import { formatFlagUsage, parseGoFlags, type FlagSpecs } from '../../src/bench/go-flags.js';
import { benchDataPath } from '../../src/bench/package-root.js';
import { WORKLOAD_CHOICES, planWorkloads, type PlannedWorkload } from './workloads.js';

/** Rounds per workload by default: what keeps the full default run within about 6 minutes on the 2-vCPU test VM. */
export const DEFAULT_ROUNDS = 5;

const COMPARE_FLAGS = {
  workload: { kind: 'string', default: 'all', valueName: 'NAME', usage: `workload to run: ${WORKLOAD_CHOICES.join(', ')}` },
  rounds: { kind: 'int', default: DEFAULT_ROUNDS, min: 1, valueName: 'N', usage: 'times each scenario runs, interleaved; tables show medians' },
  c: { kind: 'int', min: 1, valueName: 'N', usage: "concurrent workers (connections) per scenario (default: the workload's, 16)" },
  r: { kind: 'int', min: 1, valueName: 'N', usage: "sequential POSTs per worker (default: the workload's, 500 for 170KB, 1500 for 1KiB)" },
  f: { kind: 'string', valueName: 'FILE', usage: "file to POST (default: the workload's, bench-data/metric.data or metric-1k.data)" },
  warmup: { kind: 'int', default: DEFAULT_WARMUP_REQUESTS, min: 0, valueName: 'N', usage: 'untimed requests per worker before each run' },
  only: { kind: 'string', valueName: 'NAMES', usage: `comma-separated scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}` },
  fresh: { kind: 'bool', usage: 'new null server and proxy processes for every run (cold starts measured) instead of one per scenario' },
  json: { kind: 'bool', usage: 'print JSON (with every round) instead of tables' },
  tunnels: {
    kind: 'int',
    default: DEFAULT_IDLE_TUNNELS,
    min: 0,
    valueName: 'N',
    usage: 'idle tunnels for the memory block after the workloads (0 skips it)',
  },
  'tunnels-only': { kind: 'bool', usage: 'run only the memory block, no workloads' },
} satisfies FlagSpecs;

export const COMPARE_USAGE = `Usage: npm run bench -- [flags]    (node dist-tools/tools/bench/compare.js [flags])

Runs the same bench client workload against a null server directly and through each proxy, one scenario at a
time, in interleaved rounds (round 1 runs every scenario once, then round 2, ...), and prints medians over the
rounds, with each proxy's CPU time per request. Workloads, one after the other, each with every scenario:
  170KB  16 workers x 500 POSTs of bench-data/metric.data (172,787 bytes)
  1KiB   16 workers x 1500 POSTs of bench-data/metric-1k.data (1,024 bytes)
Any of -c, -r, -f runs one custom workload instead (other values from -workload, 170KB's for "all"), no targets.
Then the memory of -tunnels idle CONNECT tunnels (RSS per tunnel, and after they close).

Flags:
${formatFlagUsage(COMPARE_FLAGS)}
`;

export interface CompareOptions {
  workloads: PlannedWorkload[];
  rounds: number;
  warmupRequests: number;
  /** A new null server and proxy for every run instead of one per scenario kept across rounds. */
  freshProcesses: boolean;
  json: boolean;
  /** Idle tunnels for the memory block; 0 skips it. */
  idleTunnels: number;
}

/** `{ help: true }` for -h/-help; otherwise what to run. Throws `UsageError`. */
export function parseCompareArgs(
  argv: readonly string[],
  dataPath: (file: string) => string = benchDataPath,
): { help: true } | ({ help: false } & CompareOptions) {
  const parsed = parseGoFlags(argv, COMPARE_FLAGS);
  if (parsed.help) return { help: true };
  const flags = parsed.values;
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument: ${parsed.positionals[0]}`);
  const only = flags.only?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const workloads = planWorkloads({
    workload: flags.workload,
    ...(flags.c !== undefined ? { connections: flags.c } : {}),
    ...(flags.r !== undefined ? { requestsPerConnection: flags.r } : {}),
    ...(flags.f !== undefined ? { file: flags.f } : {}),
    ...(only !== undefined ? { only } : {}),
    allScenarios: SCENARIOS.map((s) => s.name),
    dataPath,
  });
  return {
    help: false,
    workloads: flags['tunnels-only'] ? [] : workloads,
    rounds: flags.rounds,
    warmupRequests: flags.warmup,
    freshProcesses: flags.fresh,
    json: flags.json,
    idleTunnels: flags.tunnels,
  };
}
