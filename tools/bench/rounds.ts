/**
 * The arithmetic of `npm run bench`'s interleaved rounds, kept free of I/O so it can be tested on its own: the order
 * the runs happen in (round 1 runs every scenario once, then round 2, ...), and how a scenario's per-round results
 * become one row: medians over rounds, the req/s range, total errors, and the median of its per-round ratios to the
 * baseline (each round's req/s divided by the same round's baseline req/s).
 *
 * Why rounds, and why interleaved: on a shared 2-core machine one run of a scenario varies by tens of percent from
 * minute to minute. Interleaving spreads the machine's slow and fast phases over every scenario alike, and a ratio
 * taken within a round compares two runs made close together in time.
 */
import type { BenchResult } from '../../src/bench/bench-client.js';

/** One run of the schedule; rounds are numbered from 1. */
export interface ScheduledRun {
  round: number;
  scenario: string;
}

/** Every scenario once per round, in the given order, round after round. */
export function interleavedSchedule(scenarios: readonly string[], rounds: number): ScheduledRun[] {
  if (!Number.isSafeInteger(rounds) || rounds < 1) throw new RangeError('rounds must be an integer >= 1');
  const runs: ScheduledRun[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const scenario of scenarios) runs.push({ round, scenario });
  }
  return runs;
}

/** The middle value, or the mean of the two middle values for an even count. Throws on an empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(values: readonly number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/**
 * What one run of a scenario gave: its result and the CPU its proxy's process tree used during the timed requests
 * (absent for direct runs and where /proc cannot be read), or why it could not run (a process that did not start).
 */
export type RoundOutcome =
  | { round: number; state: 'ok'; result: BenchResult; proxyCpuSeconds?: number; clientServerCpuSeconds?: number }
  | { round: number; state: 'error'; message: string };

/** A round as reported: with its ratio to the same round's baseline when both ran. */
export type RatedRound =
  | { round: number; state: 'ok'; result: BenchResult; proxyCpuSeconds?: number; clientServerCpuSeconds?: number; ratio?: number }
  | { round: number; state: 'error'; message: string };

/** A scenario's record over the whole comparison, as `runComparison` collects it. */
export interface ScenarioRecord {
  name: string;
  /** The scenario whose same-round req/s this one's is divided by. */
  baseline?: string;
  /** Why it did not run at all (e.g. the binary is missing). */
  skipped?: string;
  rounds: RoundOutcome[];
}

export interface ScenarioStats {
  /** Rounds that produced a result. */
  okRounds: number;
  /** Over the rounds that produced a result. */
  requestsPerSecond: Spread;
  /** Median over rounds of each round's p50 / p99 latency, in seconds. */
  p50Seconds: number;
  p99Seconds: number;
  /** Median over rounds of request-body MB/s (10^6 bytes). */
  megabytesPerSecond: number;
  /** Timed requests and requests without a 2xx answer, summed over rounds. */
  requests: number;
  errors: number;
  /** Median of the per-round ratios; absent when no round had both this scenario and its baseline. */
  ratio?: number;
  /** How many rounds gave a ratio. */
  ratioRounds: number;
  /**
   * The proxy's CPU time (user+sys of its process tree) per timed request, in µs: the CPU summed over the rounds
   * that measured it, divided by their requests. Pooled rather than a median of rounds because /proc counts in
   * 10 ms ticks, a few µs per request in one run; and CPU per request, unlike req/s, hardly depends on what else
   * the machine is doing, which is what the medians guard against. Absent for direct runs and without /proc.
   */
  proxyCpuMicrosPerRequest?: number;
  /**
   * The bench client's and the null server's CPU per timed request, in µs, pooled the same way. With the proxy's,
   * it is what one request costs the whole machine: on a machine whose cores all three saturate, a scenario's
   * ratio to direct cannot exceed direct's machine CPU per request divided by its own (docs/benchmarks.md).
   */
  clientServerCpuMicrosPerRequest?: number;
}

export type ScenarioSummary =
  | { name: string; state: 'ok'; baseline?: string; stats: ScenarioStats; rounds: RatedRound[] }
  | { name: string; state: 'skipped'; reason: string }
  | { name: string; state: 'error'; baseline?: string; message: string; rounds: RatedRound[] };

const MB = 1e6;

export function megabytesPerSecond(result: BenchResult): number {
  return result.elapsedSeconds > 0 ? result.bytesPosted / result.elapsedSeconds / MB : 0;
}

/**
 * One summary per record, in order. A scenario that failed in every round is an `error` with the first failure's
 * message; one that failed in some rounds is `ok` with the statistics of the others (its failed rounds stay listed).
 */
export function summariseRounds(records: readonly ScenarioRecord[]): ScenarioSummary[] {
  const byName = new Map(records.map((r) => [r.name, r]));
  return records.map((record): ScenarioSummary => {
    if (record.skipped !== undefined) return { name: record.name, state: 'skipped', reason: record.skipped };
    const baseline = record.baseline === undefined ? undefined : byName.get(record.baseline);
    const rounds = record.rounds.map((outcome): RatedRound => {
      if (outcome.state !== 'ok' || baseline === undefined) return outcome;
      const base = baseline.rounds.find((b) => b.round === outcome.round);
      if (base?.state !== 'ok' || !(base.result.requestsPerSecond > 0)) return outcome;
      return { ...outcome, ratio: outcome.result.requestsPerSecond / base.result.requestsPerSecond };
    });
    const baselineField = record.baseline === undefined ? {} : { baseline: record.baseline };
    const ok = rounds.filter((r): r is Extract<RatedRound, { state: 'ok' }> => r.state === 'ok');
    if (ok.length === 0) {
      const firstError = rounds.find((r) => r.state === 'error');
      const message = firstError?.state === 'error' ? firstError.message : 'no round ran';
      return { name: record.name, state: 'error', ...baselineField, message, rounds };
    }
    const ratios = ok.flatMap((r) => (r.ratio === undefined ? [] : [r.ratio]));
    const proxyCpu = pooledCpuMicrosPerRequest(ok, (r) => r.proxyCpuSeconds);
    const clientServerCpu = pooledCpuMicrosPerRequest(ok, (r) => r.clientServerCpuSeconds);
    const stats: ScenarioStats = {
      okRounds: ok.length,
      requestsPerSecond: spread(ok.map((r) => r.result.requestsPerSecond)),
      p50Seconds: median(ok.map((r) => r.result.latency.p50)),
      p99Seconds: median(ok.map((r) => r.result.latency.p99)),
      megabytesPerSecond: median(ok.map((r) => megabytesPerSecond(r.result))),
      requests: ok.reduce((n, r) => n + r.result.requests, 0),
      errors: ok.reduce((n, r) => n + r.result.errors, 0),
      ...(ratios.length > 0 ? { ratio: median(ratios) } : {}),
      ratioRounds: ratios.length,
      ...(proxyCpu !== undefined ? { proxyCpuMicrosPerRequest: proxyCpu } : {}),
      ...(clientServerCpu !== undefined ? { clientServerCpuMicrosPerRequest: clientServerCpu } : {}),
    };
    return { name: record.name, state: 'ok', ...baselineField, stats, rounds };
  });
}

/** CPU seconds summed over the rounds that measured it, in µs per request of those rounds; undefined if none did. */
function pooledCpuMicrosPerRequest(
  rounds: ReadonlyArray<Extract<RatedRound, { state: 'ok' }>>,
  cpuSeconds: (round: Extract<RatedRound, { state: 'ok' }>) => number | undefined,
): number | undefined {
  let seconds = 0;
  let requests = 0;
  for (const round of rounds) {
    const value = cpuSeconds(round);
    if (value === undefined || round.result.requests === 0) continue;
    seconds += value;
    requests += round.result.requests;
  }
  return requests > 0 ? (seconds * 1e6) / requests : undefined;
}
