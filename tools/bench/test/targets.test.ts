// Tests the targets line under each workload's table: verdicts from the rounds' results, relative to what ran in
// the same rounds, honest either way.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BenchResult } from '../../../src/bench/bench-client.js';
import { summariseRounds, type RoundOutcome, type ScenarioRecord, type ScenarioSummary } from '../rounds.js';
import { evaluateTargets, formatTargetsLine, type Target } from '../targets.js';
import { WORKLOADS } from '../workloads.js';

/** A run of 1,000 requests at `rps`, `errors` of them failed. */
function result(rps: number, errors = 0): BenchResult {
  return {
    api: '/v1/write/metric',
    bodyBytes: 1024,
    elapsedSeconds: 1000 / rps,
    requests: 1000,
    errors,
    requestsPerSecond: rps,
    latency: { p50: 0.005, p90: 0.008, p99: 0.02, mean: 0.006 },
    bytesPosted: 1024 * 1000,
    statuses: { '200 OK': 1000 - errors },
    groups: [],
  };
}

/** A scenario's record: req/s per round (round 1, 2, ...), and the proxy's CPU µs per request in every round. */
function record(name: string, rpsPerRound: readonly number[], options: { cpuMicros?: number; errors?: number } = {}): ScenarioRecord {
  const rounds = rpsPerRound.map((rps, i): RoundOutcome => ({
    round: i + 1,
    state: 'ok',
    result: result(rps, options.errors),
    ...(options.cpuMicros !== undefined ? { proxyCpuSeconds: (options.cpuMicros * 1000) / 1e6 } : {}),
  }));
  return { name, ...(name.startsWith('direct-') ? {} : { baseline: name.endsWith('forward') ? 'direct-http' : 'direct-https' }), rounds };
}

const TARGETS = WORKLOADS[0]?.targets as readonly Target[];
const texts = (summaries: ScenarioSummary[]): string[] => evaluateTargets(TARGETS, summaries).map((r) => r.text);

describe('targets', () => {
  it("are issue 9's re-baselined targets and issue 13's CPU comparison, the same on both workloads", () => {
    assert.deepEqual(WORKLOADS.map((w) => w.name), ['170KB', '1KiB']);
    for (const workload of WORKLOADS) assert.equal(workload.targets, TARGETS, workload.name);
    assert.deepEqual(TARGETS, [
      { kind: 'peers', label: 'tunnel', scenario: 'egress-tunnel', peers: ['squid-tunnel', 'tinyproxy-tunnel'] },
      { kind: 'peers', label: 'forward', scenario: 'egress-forward', peers: ['squid-forward', 'tinyproxy-forward'] },
      { kind: 'ratio', label: 'mitm', scenario: 'egress-mitm', atLeast: 0.6, floor: 'floor-mitm' },
      { kind: 'cpu', label: 'tunnel cpu/req', scenario: 'egress-tunnel', reference: 'squid-tunnel' },
    ]);
  });

  it('prints every verdict in one line', () => {
    const summaries = summariseRounds([
      record('direct-https', [2000, 2000, 2000]),
      record('direct-http', [3000, 3000, 3000]),
      record('egress-tunnel', [1500, 1500, 1500], { cpuMicros: 35.1 }),
      record('egress-forward', [1500, 1500, 1500], { cpuMicros: 60 }),
      record('squid-tunnel', [1400, 1400, 1400], { cpuMicros: 29 }),
      record('squid-forward', [900, 900, 900], { cpuMicros: 80 }),
      record('tinyproxy-tunnel', [1200, 1200, 1200], { cpuMicros: 40 }),
      record('tinyproxy-forward', [2500, 2500, 2500], { cpuMicros: 50, errors: 500 }),
      record('egress-mitm', [1100, 1100, 1100], { cpuMicros: 200 }),
      record('floor-mitm', [1300, 1300, 1300], { cpuMicros: 150 }),
    ]);
    const results = evaluateTargets(TARGETS, summaries);
    assert.deepEqual(results.map((r) => r.met), [true, true, false, false]);
    assert.equal(
      formatTargetsLine(results),
      'targets: tunnel 1.07 x best peer >= 1.00 ok (squid-tunnel); ' +
        'forward 1.67 x best peer >= 1.00 ok (squid-forward; tinyproxy-forward not counted: 1500 errors); ' +
        'mitm 0.55 >= 0.60 MISSED (floor 0.65); tunnel cpu/req 35.1 µs <= squid-tunnel 29.0 µs MISSED',
    );
  });

  it("compares throughput with the best peer of each round, then takes the median, naming the peer best most often", () => {
    // Medians alone would say 1000 vs squid's 1000, "ok"; round by round ours was 0.98, 0.90 and 1.10 of the best.
    const summaries = summariseRounds([
      record('egress-tunnel', [1000, 900, 1100]),
      record('squid-tunnel', [950, 1000, 1000]),
      record('tinyproxy-tunnel', [1020, 800, 900]),
    ]);
    assert.deepEqual(evaluateTargets(TARGETS, summaries)[0], { met: false, text: 'tunnel 0.98 x best peer >= 1.00 MISSED (squid-tunnel)' });
  });

  it('meets a target exactly on its bound', () => {
    const summaries = summariseRounds([
      record('direct-https', [1000]),
      record('egress-tunnel', [1000], { cpuMicros: 30 }),
      record('squid-tunnel', [1000], { cpuMicros: 30 }),
      record('egress-mitm', [600]),
    ]);
    assert.deepEqual(evaluateTargets(TARGETS, summaries).map((r) => [r.met, r.text]), [
      [true, 'tunnel 1.00 x best peer >= 1.00 ok (squid-tunnel; tinyproxy-tunnel not run)'],
      [undefined, 'forward n/a (egress-forward not run) x best peer >= 1.00'],
      [true, 'mitm 0.60 >= 0.60 ok'],
      [true, 'tunnel cpu/req 30.0 µs <= squid-tunnel 30.0 µs ok'],
    ]);
  });

  it('shows more decimals rather than a printed value that contradicts the verdict', () => {
    const summaries = summariseRounds([
      record('direct-https', [10_000]),
      record('egress-tunnel', [9996], { cpuMicros: 29.04 }),
      record('squid-tunnel', [10_000], { cpuMicros: 29 }),
      record('egress-mitm', [5996]),
    ]);
    const [tunnel, , mitm, cpu] = texts(summaries);
    assert.equal(tunnel, 'tunnel 0.9996 x best peer >= 1.00 MISSED (squid-tunnel; tinyproxy-tunnel not run)');
    assert.equal(mitm, 'mitm 0.5996 >= 0.60 MISSED');
    assert.equal(cpu, 'tunnel cpu/req 29.04 µs <= squid-tunnel 29.00 µs MISSED');
  });

  it('says n/a, never ok, when a scenario or every peer has no result', () => {
    const summaries: ScenarioSummary[] = [
      ...summariseRounds([record('egress-tunnel', [1000], { cpuMicros: 30 }), record('egress-mitm', [600])]),
      { name: 'squid-tunnel', state: 'skipped', reason: 'not installed' },
      { name: 'tinyproxy-tunnel', state: 'skipped', reason: 'not installed' },
      { name: 'egress-forward', state: 'error', message: 'exited', rounds: [] },
    ];
    const results = evaluateTargets(TARGETS, summaries);
    assert.deepEqual(results.map((r) => r.met), [undefined, undefined, undefined, undefined]);
    assert.deepEqual(results.map((r) => r.text), [
      'tunnel n/a (squid-tunnel skipped, tinyproxy-tunnel skipped) x best peer >= 1.00',
      'forward n/a (egress-forward failed) x best peer >= 1.00',
      'mitm n/a (egress-mitm has no ratio: its baseline did not run) >= 0.60',
      'tunnel cpu/req n/a (squid-tunnel skipped) <= squid-tunnel',
    ]);
    const unmetered = summariseRounds([record('egress-tunnel', [1000]), record('squid-tunnel', [1000], { cpuMicros: 30 })]);
    assert.equal(texts(unmetered)[3], 'tunnel cpu/req n/a (egress-tunnel has no CPU measurement) <= squid-tunnel');
  });

  it('says so when a workload has no targets', () => {
    assert.equal(formatTargetsLine([]), 'targets: none for this workload');
  });
});
