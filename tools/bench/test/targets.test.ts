// Tests the targets line under each workload's table: verdicts from the medians, honest either way.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ScenarioStats, ScenarioSummary } from '../rounds.js';
import { evaluateTargets, formatTargetsLine, type Target } from '../targets.js';
import { WORKLOADS } from '../workloads.js';

function ok(name: string, ratio: number | undefined, p50Ms: number): ScenarioSummary {
  const stats: ScenarioStats = {
    okRounds: 3,
    requestsPerSecond: { median: 1000, min: 900, max: 1100 },
    p50Seconds: p50Ms / 1000,
    p99Seconds: 0.05,
    megabytesPerSecond: 100,
    requests: 4800,
    errors: 0,
    ...(ratio !== undefined ? { ratio } : {}),
    ratioRounds: ratio === undefined ? 0 : 3,
  };
  return { name, state: 'ok', ...(name.startsWith('direct') ? {} : { baseline: 'direct-https' }), stats, rounds: [] };
}

const TARGETS_170KB = WORKLOADS.find((w) => w.name === '170KB')?.targets as readonly Target[];
const TARGETS_1KIB = WORKLOADS.find((w) => w.name === '1KiB')?.targets as readonly Target[];

describe('targets', () => {
  it("are the issues' numbers: 170KB tunnel 0.95, forward 0.60, mitm 0.50; 1KiB mitm 0.35; mitm p50 <= 2 x tunnel's", () => {
    assert.deepEqual(
      TARGETS_170KB.map((t) => (t.kind === 'ratio' ? [t.scenario, t.atLeast] : [t.scenario, t.reference, t.atMostTimes])),
      [['egress-tunnel', 0.95], ['egress-forward', 0.6], ['egress-mitm', 0.5], ['egress-mitm', 'egress-tunnel', 2]],
    );
    assert.deepEqual(
      TARGETS_1KIB.map((t) => (t.kind === 'ratio' ? [t.scenario, t.atLeast] : [t.scenario, t.reference, t.atMostTimes])),
      [['egress-mitm', 0.35], ['egress-mitm', 'egress-tunnel', 2]],
    );
  });

  it('prints met and missed targets in one line', () => {
    const summaries = [ok('direct-https', undefined, 5), ok('egress-tunnel', 0.97, 9.8), ok('egress-forward', 0.55, 7), ok('egress-mitm', 0.48, 12.1)];
    const results = evaluateTargets(TARGETS_170KB, summaries);
    assert.deepEqual(results.map((r) => r.met), [true, false, false, true]);
    assert.equal(
      formatTargetsLine(results),
      'targets: tunnel 0.97 >= 0.95 ok; forward 0.55 >= 0.60 MISSED; mitm 0.48 >= 0.50 MISSED; mitm p50 12.1 ms <= 2 x tunnel p50 (9.8 ms) ok',
    );
  });

  it("prints each ratio target's floor when the floor scenario ran, and nothing when it did not", () => {
    const summaries = [ok('egress-tunnel', 0.83, 7), ok('floor-tunnel', 0.861, 6), ok('egress-forward', 0.3, 8), ok('egress-mitm', 0.33, 20), ok('floor-mitm', 0.49, 14)];
    assert.deepEqual(evaluateTargets(TARGETS_170KB, summaries).slice(0, 3).map((r) => r.text), [
      'tunnel 0.83 >= 0.95 MISSED (floor 0.86)',
      'forward 0.30 >= 0.60 MISSED',
      'mitm 0.33 >= 0.50 MISSED (floor 0.49)',
    ]);
    assert.deepEqual(
      TARGETS_170KB.map((t) => t.kind === 'ratio' && t.floor),
      ['floor-tunnel', 'floor-forward', 'floor-mitm', false],
    );
  });

  it('misses the p50 target when the MITM p50 is over twice the tunnel p50', () => {
    const [, p50] = evaluateTargets(TARGETS_1KIB, [ok('egress-tunnel', 0.3, 4.78), ok('egress-mitm', 0.4, 13.76)]);
    assert.deepEqual(p50, { met: false, text: 'mitm p50 13.8 ms <= 2 x tunnel p50 (4.8 ms) MISSED' });
  });

  it('meets a target exactly on the bound', () => {
    const [tunnel] = evaluateTargets(TARGETS_170KB, [ok('egress-tunnel', 0.95, 5)]);
    assert.deepEqual(tunnel, { met: true, text: 'tunnel 0.95 >= 0.95 ok' });
  });

  it('shows more decimals rather than a printed value that contradicts the verdict', () => {
    const [tunnel] = evaluateTargets(TARGETS_170KB, [ok('egress-tunnel', 0.9496, 5)]);
    assert.deepEqual(tunnel, { met: false, text: 'tunnel 0.9496 >= 0.95 MISSED' });
    const [, p50] = evaluateTargets(TARGETS_1KIB, [ok('egress-tunnel', 1, 5.0), ok('egress-mitm', 0.5, 10.04)]);
    assert.deepEqual(p50, { met: false, text: 'mitm p50 10.04 ms <= 2 x tunnel p50 (5.00 ms) MISSED' });
  });

  it('says n/a, never ok, when a scenario has no result', () => {
    const summaries: ScenarioSummary[] = [
      { name: 'egress-tunnel', state: 'skipped', reason: 'x' },
      { name: 'egress-forward', state: 'error', message: 'exited', rounds: [] },
      ok('egress-mitm', undefined, 12),
    ];
    const results = evaluateTargets(TARGETS_170KB, summaries);
    assert.deepEqual(results.map((r) => r.met), [undefined, undefined, undefined, undefined]);
    assert.deepEqual(results.map((r) => r.text), [
      'tunnel n/a (egress-tunnel skipped) >= 0.95',
      'forward n/a (egress-forward failed) >= 0.60',
      'mitm n/a (egress-mitm has no ratio: its baseline did not run) >= 0.50',
      'mitm p50 n/a (egress-tunnel skipped) <= 2 x tunnel p50',
    ]);
    assert.equal(evaluateTargets(TARGETS_1KIB, [])[0]?.text, 'mitm n/a (egress-mitm not run) >= 0.35');
  });

  it('says so when a workload has no targets', () => {
    assert.equal(formatTargetsLine([]), 'targets: none for this workload');
  });
});
