/**
 * The performance targets of the issues behind `npm run bench`, checked against a workload's medians and printed
 * as one line under its table, met or not:
 *
 *   targets: tunnel 0.97 >= 0.95 ok (floor 0.99); forward 0.55 >= 0.60 MISSED; mitm p50 12.1 ms <= 2 x tunnel p50 (9.8 ms) ok
 *
 * A target whose scenarios have no result (skipped, failed, not selected) says `n/a` and why, never `ok`.
 */
import type { ScenarioSummary } from './rounds.js';

export type Target =
  /**
   * The scenario's median ratio to its baseline is at least `atLeast`. `floor` names the floor scenario (the least
   * that kind of proxy can cost here), whose ratio is printed alongside when it ran: the most the target allows.
   */
  | { kind: 'ratio'; label: string; scenario: string; atLeast: number; floor?: string }
  /** The scenario's median p50 is at most `atMostTimes` the reference scenario's median p50. */
  | { kind: 'p50'; label: string; scenario: string; reference: string; referenceLabel: string; atMostTimes: number };

export interface TargetResult {
  /** `undefined` when there was nothing to check. */
  met: boolean | undefined;
  text: string;
}

export function evaluateTargets(targets: readonly Target[], summaries: readonly ScenarioSummary[]): TargetResult[] {
  const find = (name: string): ScenarioSummary | undefined => summaries.find((s) => s.name === name);
  const why = (name: string): string => {
    const s = find(name);
    if (s === undefined) return `${name} not run`;
    if (s.state === 'skipped') return `${name} skipped`;
    if (s.state === 'error') return `${name} failed`;
    return `${name} has no ratio: its baseline did not run`;
  };
  return targets.map((target): TargetResult => {
    const s = find(target.scenario);
    if (target.kind === 'ratio') {
      if (s?.state !== 'ok' || s.stats.ratio === undefined) {
        return { met: undefined, text: `${target.label} n/a (${why(target.scenario)}) >= ${target.atLeast.toFixed(2)}` };
      }
      const ratio = s.stats.ratio;
      const met = ratio >= target.atLeast;
      // Enough decimals that the printed numbers agree with the verdict (0.948 is not shown as "0.95 >= 0.95 MISSED").
      const digits = decimalsThatAgree(2, met, (d) => round(ratio, d) >= target.atLeast);
      const floor = target.floor === undefined ? undefined : find(target.floor);
      const floorText = floor?.state === 'ok' && floor.stats.ratio !== undefined ? ` (floor ${floor.stats.ratio.toFixed(2)})` : '';
      return { met, text: `${target.label} ${ratio.toFixed(digits)} >= ${target.atLeast.toFixed(2)} ${verdict(met)}${floorText}` };
    }
    const ref = find(target.reference);
    const bound = `${target.atMostTimes} x ${target.referenceLabel} p50`;
    if (s?.state !== 'ok' || ref?.state !== 'ok') {
      const missing = s?.state !== 'ok' ? target.scenario : target.reference;
      return { met: undefined, text: `${target.label} n/a (${why(missing)}) <= ${bound}` };
    }
    const ms = s.stats.p50Seconds * 1000;
    const refMs = ref.stats.p50Seconds * 1000;
    const met = ms <= target.atMostTimes * refMs;
    const digits = decimalsThatAgree(1, met, (d) => round(ms, d) <= target.atMostTimes * round(refMs, d));
    return {
      met,
      text: `${target.label} ${ms.toFixed(digits)} ms <= ${bound} (${refMs.toFixed(digits)} ms) ${verdict(met)}`,
    };
  });
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

function decimalsThatAgree(start: number, met: boolean, displayedMeets: (digits: number) => boolean): number {
  let digits = start;
  while (digits < 6 && displayedMeets(digits) !== met) digits++;
  return digits;
}
