/**
 * How `npm run bench` shows its results: per workload, an aligned text table (scenario, median req/s and its range
 * over rounds, median ratio to the direct baseline, median p50 and p99 latency, the proxy's CPU per request,
 * errors, MB/s) and a targets line, for people; or one JSON document with every round's numbers, for scripts and
 * the docs.
 */
import { availableParallelism, cpus } from 'node:os';
import { megabytesPerSecond, type ScenarioSummary } from './rounds.js';
import { formatTargetsLine, type TargetResult } from './targets.js';
import { STEADY_STATE_WARMUP_REQUESTS } from './comparison.js';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  node: string;
  platform: string;
}

export function machineInfo(): MachineInfo {
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

export interface Workload {
  name: string;
  connections: number;
  requestsPerConnection: number;
  warmupRequests: number;
  file: string;
  bodyBytes: number;
  rounds: number;
}

/** One workload's part of the report. */
export interface WorkloadReport {
  workload: Workload;
  summaries: readonly ScenarioSummary[];
  targets: readonly TargetResult[];
}

/**
 * The table, one row per scenario, with medians over the rounds; skipped and failed scenarios say why in place of
 * numbers. Two footer lines say what the numbers are, then one line per failed round, if any.
 */
export function renderComparisonTable(summaries: readonly ScenarioSummary[], rounds: number): string {
  const header = ['scenario', 'req/s', 'min-max', 'ratio', 'p50 ms', 'p99 ms', 'cpu µs/req', 'c+s µs/req', 'errors', 'MB/s'];
  const rows: string[][] = [];
  const notes: Array<[number, string]> = [];
  const failedRounds: string[] = [];
  for (const summary of summaries) {
    if (summary.state === 'ok') {
      const st = summary.stats;
      rows.push([
        summary.name,
        st.requestsPerSecond.median.toFixed(0),
        `${st.requestsPerSecond.min.toFixed(0)}-${st.requestsPerSecond.max.toFixed(0)}`,
        st.ratio === undefined ? (summary.baseline === undefined ? 'baseline' : '-') : st.ratio.toFixed(2),
        (st.p50Seconds * 1000).toFixed(2),
        (st.p99Seconds * 1000).toFixed(2),
        st.proxyCpuMicrosPerRequest === undefined ? '-' : st.proxyCpuMicrosPerRequest.toFixed(1),
        st.clientServerCpuMicrosPerRequest === undefined ? '-' : st.clientServerCpuMicrosPerRequest.toFixed(1),
        String(st.errors),
        st.megabytesPerSecond.toFixed(0),
      ]);
    } else {
      const note =
        summary.state === 'skipped'
          ? `skipped (${summary.reason})`
          : `error: ${summary.message}${summary.rounds.length > 1 ? ` (every round failed)` : ''}`;
      notes.push([rows.length, note]);
      rows.push([summary.name]);
    }
    if (summary.state !== 'skipped') {
      for (const r of summary.rounds) {
        if (r.state === 'error' && summary.state === 'ok') failedRounds.push(`${summary.name}: round ${r.round} failed: ${r.message}`);
      }
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.filter((r) => r.length > 1).map((r) => (r[i] as string).length)));
  const format = (cells: string[]): string =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[0] as number) : cell.padStart(widths[i] as number))).join('  ');
  const lines = [format(header), widths.map((w) => '-'.repeat(w)).join('  ')];
  rows.forEach((row, index) => {
    const note = notes.find(([i]) => i === index)?.[1];
    lines.push(note === undefined ? format(row) : `${(row[0] as string).padEnd(widths[0] as number)}  ${note}`);
  });
  const over = rounds === 1 ? 'one round' : `${rounds} interleaved rounds`;
  lines.push(
    `req/s, p50, p99, MB/s: medians over ${over}; min-max: the req/s range over rounds; errors: summed over rounds`,
    "ratio: median over rounds of (the round's req/s / the same round's req/s of direct-https or direct-http)",
    "cpu µs/req: the proxy's CPU (user+sys of its whole process tree, from /proc) over the timed requests of all rounds / their number",
    'c+s µs/req: the same for the bench client and the null server together: with cpu µs/req, what a request costs the machine',
    ...failedRounds,
  );
  return lines.join('\n') + '\n';
}

/** The header printed once, above every workload: on what, and how the numbers are taken. */
export function describeRun(machine: MachineInfo, rounds: number, freshProcesses = false): string {
  return [
    `machine:  ${machine.cpus} CPUs, ${machine.cpuModel}, node ${machine.node}, ${machine.platform}`,
    rounds === 1
      ? 'rounds:   1 (each scenario runs once)'
      : `rounds:   ${rounds} per workload, interleaved: round 1 runs every scenario once, in order, then round 2, ...`,
    freshProcesses
      ? 'processes: a new null server and proxy for every run (-fresh): cold starts are part of every number'
      : `processes: one null server and proxy per scenario, warmed with ${STEADY_STATE_WARMUP_REQUESTS} untimed POSTs per worker, kept for all its rounds`,
    'ratio:    req/s divided by the direct run of the same protocol (direct-https or direct-http); MB = 10^6 bytes',
    "cpu:      the proxy's user+sys CPU time over its whole process tree (/proc, 10 ms ticks), during the timed requests;",
    '          c+s: the bench client (this process) and the null server together, over the same requests',
  ].join('\n');
}

/** The line above a workload's table. */
export function describeWorkload(workload: Workload): string {
  return (
    `workload ${workload.name}: ${workload.connections} workers x ${workload.requestsPerConnection} POSTs of ` +
    `${workload.file} (${workload.bodyBytes.toLocaleString('en-US')} bytes), after ${workload.warmupRequests} untimed ` +
    'POSTs per worker'
  );
}

/** A workload's whole block: its line, its table, its targets line. */
export function renderWorkloadReport(report: WorkloadReport): string {
  return `${describeWorkload(report.workload)}\n\n${renderComparisonTable(report.summaries, report.workload.rounds)}${formatTargetsLine(report.targets)}\n`;
}

/** Machine-readable results: the machine, and per workload its settings, targets, and per scenario its medians and every round. */
export function comparisonJson(machine: MachineInfo, rounds: number, reports: readonly WorkloadReport[]): object {
  return {
    machine,
    rounds,
    workloads: reports.map((report) => ({
      workload: report.workload,
      targets: report.targets.map((t) => ({ met: t.met ?? null, text: t.text })),
      scenarios: report.summaries.map(scenarioJson),
    })),
  };
}

function scenarioJson(s: ScenarioSummary): object {
  if (s.state === 'skipped') return { name: s.name, state: s.state, reason: s.reason };
  const rounds = s.rounds.map((r) => {
    if (r.state !== 'ok') return r;
    const b = r.result;
    return {
      round: r.round,
      state: r.state,
      ratio: r.ratio ?? null,
      proxyCpuSeconds: r.proxyCpuSeconds ?? null,
      clientServerCpuSeconds: r.clientServerCpuSeconds ?? null,
      requestsPerSecond: b.requestsPerSecond,
      elapsedSeconds: b.elapsedSeconds,
      requests: b.requests,
      errors: b.errors,
      latency: b.latency,
      megabytesPerSecond: megabytesPerSecond(b),
      statuses: b.statuses,
    };
  });
  if (s.state === 'error') return { name: s.name, state: s.state, baseline: s.baseline ?? null, message: s.message, rounds };
  return {
    name: s.name,
    state: s.state,
    baseline: s.baseline ?? null,
    ...s.stats,
    ratio: s.stats.ratio ?? null,
    proxyCpuMicrosPerRequest: s.stats.proxyCpuMicrosPerRequest ?? null,
    clientServerCpuMicrosPerRequest: s.stats.clientServerCpuMicrosPerRequest ?? null,
    rounds,
  };
}
