/**
 * How `npm run bench` shows its results: an aligned text table (scenario, req/s, ratio to the direct baseline,
 * p50 and p99 latency, errors, MB/s) for people, or one JSON document for scripts and the docs.
 */
import { availableParallelism, cpus } from 'node:os';
import type { ScenarioOutcome } from './comparison.js';

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
  connections: number;
  requestsPerConnection: number;
  warmupRequests: number;
  file: string;
  bodyBytes: number;
}

const MB = 1e6;

/** The table, one row per scenario; skipped and failed scenarios say why in place of numbers. */
export function renderComparisonTable(outcomes: readonly ScenarioOutcome[]): string {
  const header = ['scenario', 'req/s', 'ratio', 'p50 ms', 'p99 ms', 'errors', 'MB/s'];
  const rows: string[][] = [];
  const notes: Array<[number, string]> = [];
  for (const outcome of outcomes) {
    if (outcome.state === 'ok') {
      const r = outcome.result;
      rows.push([
        outcome.name,
        r.requestsPerSecond.toFixed(0),
        outcome.ratio === undefined ? (outcome.baseline === undefined ? 'baseline' : '-') : outcome.ratio.toFixed(2),
        (r.latency.p50 * 1000).toFixed(2),
        (r.latency.p99 * 1000).toFixed(2),
        String(r.errors),
        (r.bytesPosted / r.elapsedSeconds / MB).toFixed(0),
      ]);
    } else {
      notes.push([rows.length, outcome.state === 'skipped' ? `skipped (${outcome.reason})` : `error: ${outcome.message}`]);
      rows.push([outcome.name]);
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
  return lines.join('\n') + '\n';
}

/** The header printed above the table: what ran, on what. */
export function describeRun(workload: Workload, machine: MachineInfo): string {
  return [
    `workload: ${workload.connections} workers x ${workload.requestsPerConnection} POSTs of ${workload.file} (${workload.bodyBytes} bytes), after ${workload.warmupRequests} untimed POSTs per worker`,
    `machine:  ${machine.cpus} CPUs, ${machine.cpuModel}, node ${machine.node}, ${machine.platform}`,
    'ratio:    req/s divided by the direct run of the same protocol (direct-https or direct-http); MB = 10^6 bytes',
  ].join('\n');
}

/** Machine-readable results: the workload, the machine, and per scenario its numbers or why it has none. */
export function comparisonJson(workload: Workload, machine: MachineInfo, outcomes: readonly ScenarioOutcome[]): object {
  return {
    workload,
    machine,
    scenarios: outcomes.map((o) => {
      if (o.state !== 'ok') return o.state === 'skipped' ? { name: o.name, state: o.state, reason: o.reason } : o;
      const r = o.result;
      return {
        name: o.name,
        state: o.state,
        baseline: o.baseline ?? null,
        ratio: o.ratio ?? null,
        requestsPerSecond: r.requestsPerSecond,
        elapsedSeconds: r.elapsedSeconds,
        requests: r.requests,
        errors: r.errors,
        latency: r.latency,
        megabytesPerSecond: r.bytesPosted / r.elapsedSeconds / MB,
        statuses: r.statuses,
      };
    }),
  };
}
