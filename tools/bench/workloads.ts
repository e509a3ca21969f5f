/**
 * The workloads `npm run bench` runs one after the other, with the scenarios and targets of each, and how the
 * command line picks them (`-workload`, and `-c`/`-r`/`-f`/`-only` for a custom run):
 *
 * - `170KB`: 16 workers x 500 POSTs of bench-data/metric.data (172,787 bytes, the reference's payload; the reference
 *   ran 100 per worker, `cli -c 16 -r 100`, which `egress-proxy bench client` still takes).
 * - `1KiB`: 16 workers x 1500 POSTs of bench-data/metric-1k.data (1,024 bytes), where per-request costs (TLS
 *   records, parsing, the MITM's second TLS session) dominate.
 * Both were 5 times shorter (100 and 300 per worker) until 2026-12-06: a direct run then took 0.11-0.4 s, and its
 * req/s, the denominator of every ratio of its round, swung by a factor of two between rounds (docs/benchmarks.md).
 *
 * Both run every scenario and have the same targets (issue 9 "Speed targets", re-baselined against what runs in
 * the same rounds): tunnel and plain-forwarding throughput at least the best of squid and tinyproxy, MITM at least
 * 0.60 of direct (with its floor printed alongside), and issue 13's tunnel CPU per request at most squid's.
 */
import { UsageError } from '../../src/errors.js';
import type { Target } from './targets.js';

export interface WorkloadDefinition {
  name: string;
  connections: number;
  requestsPerConnection: number;
  /** A file in bench-data/. */
  dataFile: string;
  /** Scenario names; undefined = every scenario. */
  scenarios?: readonly string[];
  targets: readonly Target[];
}

const TARGETS: readonly Target[] = [
  { kind: 'peers', label: 'tunnel', scenario: 'egress-tunnel', peers: ['squid-tunnel', 'tinyproxy-tunnel'] },
  { kind: 'peers', label: 'forward', scenario: 'egress-forward', peers: ['squid-forward', 'tinyproxy-forward'] },
  { kind: 'ratio', label: 'mitm', scenario: 'egress-mitm', atLeast: 0.6, floor: 'floor-mitm' },
  { kind: 'cpu', label: 'tunnel cpu/req', scenario: 'egress-tunnel', reference: 'squid-tunnel' },
];

export const WORKLOADS: readonly WorkloadDefinition[] = [
  { name: '170KB', connections: 16, requestsPerConnection: 500, dataFile: 'metric.data', targets: TARGETS },
  { name: '1KiB', connections: 16, requestsPerConnection: 1500, dataFile: 'metric-1k.data', targets: TARGETS },
];

export const WORKLOAD_CHOICES = [...WORKLOADS.map((w) => w.name), 'all'] as const;

/** A workload ready to run: the file resolved, the scenarios chosen (in the standard order). */
export interface PlannedWorkload {
  name: string;
  connections: number;
  requestsPerConnection: number;
  file: string;
  scenarios: string[];
  targets: readonly Target[];
  /** Made from -c/-r/-f: the targets do not apply to it. */
  custom: boolean;
}

export interface WorkloadChoice {
  /** `-workload`: a workload name or `all` (case-insensitive). */
  workload: string;
  /** `-c`, `-r`, `-f` when given on the command line. */
  connections?: number;
  requestsPerConnection?: number;
  file?: string;
  /** `-only`: scenario names. */
  only?: readonly string[];
  /** Every known scenario name, in the standard order. */
  allScenarios: readonly string[];
  /** Where a bench-data/ file is. */
  dataPath: (file: string) => string;
  /** Default WORKLOADS. */
  definitions?: readonly WorkloadDefinition[];
}

/**
 * The workloads to run. `-workload` picks one or all. Giving `-c`, `-r` or `-f` makes one custom workload instead:
 * those values over the named workload's (170KB's for `all`), its scenarios (or exactly the `-only` ones), and no
 * targets. Otherwise `-only` keeps the named scenarios of each workload, and a workload left with none is not run.
 * Throws `UsageError`.
 */
export function planWorkloads(choice: WorkloadChoice): PlannedWorkload[] {
  const key = choice.workload.toLowerCase();
  const named = (choice.definitions ?? WORKLOADS).filter((w) => key === 'all' || w.name.toLowerCase() === key);
  if (named.length === 0) {
    const known = [...(choice.definitions ?? WORKLOADS).map((w) => w.name), 'all'];
    throw new UsageError(`unknown workload ${choice.workload}; known: ${known.join(', ')}`);
  }
  const only = choice.only !== undefined && choice.only.length > 0 ? choice.only : undefined;
  const unknown = (only ?? []).filter((name) => !choice.allScenarios.includes(name));
  if (unknown.length > 0) {
    throw new UsageError(`unknown scenario ${unknown.join(', ')}; known: ${choice.allScenarios.join(', ')}`);
  }

  const custom = choice.connections !== undefined || choice.requestsPerConnection !== undefined || choice.file !== undefined;
  const base = named[0] as WorkloadDefinition;
  const definitions = custom ? [base] : named;
  const planned = definitions.map((w): PlannedWorkload => {
    // A custom workload runs exactly the -only scenarios, if given; a named one only those of its own list.
    const pool = custom && only !== undefined ? choice.allScenarios : (w.scenarios ?? choice.allScenarios);
    const scenarios = choice.allScenarios.filter((s) => pool.includes(s) && (only === undefined || only.includes(s)));
    return {
      name: custom ? 'custom' : w.name,
      connections: choice.connections ?? w.connections,
      requestsPerConnection: choice.requestsPerConnection ?? w.requestsPerConnection,
      file: choice.file ?? choice.dataPath(w.dataFile),
      scenarios,
      targets: custom ? [] : w.targets,
      custom,
    };
  });
  const runnable = planned.filter((w) => w.scenarios.length > 0);
  if (runnable.length === 0) {
    throw new UsageError(`none of the scenarios ${(only ?? []).join(', ')} is part of workload ${choice.workload}`);
  }
  return runnable;
}
