/**
 * The performance targets behind `npm run bench` (issue 9 "Speed targets", issue 13's CPU target), checked against
 * a workload's results and printed as one line under its table, met or not:
 *
 *   targets: tunnel 1.04 x best peer >= 1.00 ok (squid-tunnel); forward 1.71 x best peer >= 1.00 ok
 *   (squid-forward; tinyproxy-forward not counted: 800 errors); mitm 0.52 >= 0.60 MISSED (floor 0.55);
 *   tunnel cpu/req 35.1 µs <= squid-tunnel 29.0 µs MISSED
 *
 * The targets are relative to what ran in the same rounds: on a 2-core machine client, proxy and server share the
 * CPU, so an absolute ratio to direct is bounded by the machine (the floors showed it), while "at least as fast as
 * squid and tinyproxy here, now" is not. A target whose scenarios have no result (skipped, failed, not selected)
 * says `n/a` and why, never `ok`.
 */
import { median, type RatedRound, type ScenarioSummary } from './rounds.js';

export type Target =
  /**
   * The scenario's median ratio to its baseline is at least `atLeast`. `floor` names the floor scenario (the least
   * that kind of proxy can cost here), whose ratio is printed alongside when it ran: the most the target allows.
   */
  | { kind: 'ratio'; label: string; scenario: string; atLeast: number; floor?: string }
  /**
   * The scenario's throughput is at least the best of `peers` in the same run: in each round, its req/s divided by
   * the highest req/s any counted peer reached in that round; the median of those is at least 1. A peer with
   * request errors is not counted (tinyproxy's plain forwarding fails every other request, and fast failures are
   * not throughput), and the line says so.
   */
  | { kind: 'peers'; label: string; scenario: string; peers: readonly string[] }
  /** The scenario's proxy CPU per request (see rounds.ts) is at most the reference scenario's. */
  | { kind: 'cpu'; label: string; scenario: string; reference: string };

export interface TargetResult {
  /** `undefined` when there was nothing to check. */
  met: boolean | undefined;
  text: string;
}

type OkSummary = Extract<ScenarioSummary, { state: 'ok' }>;
type OkRound = Extract<RatedRound, { state: 'ok' }>;

export function evaluateTargets(targets: readonly Target[], summaries: readonly ScenarioSummary[]): TargetResult[] {
  const find = (name: string): ScenarioSummary | undefined => summaries.find((s) => s.name === name);
  return targets.map((target): TargetResult => {
    switch (target.kind) {
      case 'ratio':
        return ratioTarget(target, find);
      case 'peers':
        return peersTarget(target, find);
      case 'cpu':
        return cpuTarget(target, find);
    }
  });
}

/** Why a scenario gave no usable result. */
function whyNot(name: string, s: ScenarioSummary | undefined): string {
  if (s === undefined) return `${name} not run`;
  if (s.state === 'skipped') return `${name} skipped`;
  if (s.state === 'error') return `${name} failed`;
  return `${name} has no result`;
}

function ratioTarget(target: Extract<Target, { kind: 'ratio' }>, find: (name: string) => ScenarioSummary | undefined): TargetResult {
  const s = find(target.scenario);
  const bound = target.atLeast.toFixed(2);
  if (s?.state !== 'ok' || s.stats.ratio === undefined) {
    const why = s?.state === 'ok' ? `${target.scenario} has no ratio: its baseline did not run` : whyNot(target.scenario, s);
    return { met: undefined, text: `${target.label} n/a (${why}) >= ${bound}` };
  }
  const ratio = s.stats.ratio;
  const met = ratio >= target.atLeast;
  const digits = decimalsThatAgree(2, met, (d) => round(ratio, d) >= target.atLeast);
  const floor = target.floor === undefined ? undefined : find(target.floor);
  const floorText = floor?.state === 'ok' && floor.stats.ratio !== undefined ? ` (floor ${floor.stats.ratio.toFixed(2)})` : '';
  return { met, text: `${target.label} ${ratio.toFixed(digits)} >= ${bound} ${verdict(met)}${floorText}` };
}

function peersTarget(target: Extract<Target, { kind: 'peers' }>, find: (name: string) => ScenarioSummary | undefined): TargetResult {
  const bound = 'x best peer >= 1.00';
  const s = find(target.scenario);
  const counted: OkSummary[] = [];
  const notes: string[] = [];
  for (const name of target.peers) {
    const peer = find(name);
    if (peer?.state !== 'ok') notes.push(whyNot(name, peer));
    else if (peer.stats.errors > 0) notes.push(`${name} not counted: ${peer.stats.errors} errors`);
    else counted.push(peer);
  }
  if (s?.state !== 'ok') return { met: undefined, text: `${target.label} n/a (${whyNot(target.scenario, s)}) ${bound}` };
  if (counted.length === 0) return { met: undefined, text: `${target.label} n/a (${notes.join(', ')}) ${bound}` };

  const okRounds = (summary: OkSummary): OkRound[] => summary.rounds.filter((r): r is OkRound => r.state === 'ok');
  const bestWins = new Map<string, number>();
  const ratios: number[] = [];
  for (const ours of okRounds(s)) {
    let best: { name: string; rps: number } | undefined;
    for (const peer of counted) {
      const rps = okRounds(peer).find((r) => r.round === ours.round)?.result.requestsPerSecond;
      if (rps !== undefined && rps > 0 && (best === undefined || rps > best.rps)) best = { name: peer.name, rps };
    }
    if (best === undefined) continue;
    ratios.push(ours.result.requestsPerSecond / best.rps);
    bestWins.set(best.name, (bestWins.get(best.name) ?? 0) + 1);
  }
  if (ratios.length === 0) return { met: undefined, text: `${target.label} n/a (no round with both it and a peer) ${bound}` };
  const ratio = median(ratios);
  const met = ratio >= 1;
  const digits = decimalsThatAgree(2, met, (d) => round(ratio, d) >= 1);
  // The peer that was best in most rounds, and which peers did not count.
  const best = [...bestWins.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] as string;
  return { met, text: `${target.label} ${ratio.toFixed(digits)} ${bound} ${verdict(met)} (${[best, ...notes].join('; ')})` };
}

function cpuTarget(target: Extract<Target, { kind: 'cpu' }>, find: (name: string) => ScenarioSummary | undefined): TargetResult {
  const bound = `<= ${target.reference}`;
  const s = find(target.scenario);
  const ref = find(target.reference);
  const cpu = (name: string, summary: ScenarioSummary | undefined): number | string => {
    if (summary?.state !== 'ok') return whyNot(name, summary);
    return summary.stats.proxyCpuMicrosPerRequest ?? `${name} has no CPU measurement`;
  };
  const ours = cpu(target.scenario, s);
  const theirs = cpu(target.reference, ref);
  if (typeof ours === 'string' || typeof theirs === 'string') {
    return { met: undefined, text: `${target.label} n/a (${typeof ours === 'string' ? ours : theirs}) ${bound}` };
  }
  const met = ours <= theirs;
  const digits = decimalsThatAgree(1, met, (d) => round(ours, d) <= round(theirs, d));
  return { met, text: `${target.label} ${ours.toFixed(digits)} µs ${bound} ${theirs.toFixed(digits)} µs ${verdict(met)}` };
}

/** The one line printed under a workload's table. */
export function formatTargetsLine(results: readonly TargetResult[]): string {
  return results.length === 0 ? 'targets: none for this workload' : `targets: ${results.map((r) => r.text).join('; ')}`;
}

function verdict(met: boolean): string {
  return met ? 'ok' : 'MISSED';
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

/** Enough decimals that the printed numbers agree with the verdict (0.9496 is not shown as "0.95 >= 0.95 MISSED"). */
function decimalsThatAgree(start: number, met: boolean, displayedMeets: (digits: number) => boolean): number {
  let digits = start;
  while (digits < 6 && displayedMeets(digits) !== met) digits++;
  return digits;
}
