// Tests the arithmetic of interleaved rounds: the run order, medians, per-round ratios to the baseline, pooled CPU.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BenchResult } from '../../../src/bench/bench-client.js';
import { interleavedSchedule, median, spread, summariseRounds, type RoundOutcome } from '../rounds.js';

function result(rps: number, p50Ms = 1, p99Ms = 10, errors = 0): BenchResult {
  return {
    api: '/v1/write/metric',
    bodyBytes: 1000,
    elapsedSeconds: 1,
    requests: rps,
    errors,
    requestsPerSecond: rps,
    latency: { p50: p50Ms / 1000, p90: p99Ms / 2000, p99: p99Ms / 1000, mean: p50Ms / 1000 },
    bytesPosted: rps * 1000,
    statuses: { '200 OK': rps - errors },
    groups: [],
  };
}

const ok = (round: number, rps: number, p50Ms?: number, p99Ms?: number, errors?: number): RoundOutcome => ({
  round,
  state: 'ok',
  result: result(rps, p50Ms, p99Ms, errors),
});

describe('interleavedSchedule', () => {
  it('runs every scenario once per round, in order, before the next round', () => {
    assert.deepEqual(
      interleavedSchedule(['a', 'b', 'c'], 2).map((r) => `${r.round}:${r.scenario}`),
      ['1:a', '1:b', '1:c', '2:a', '2:b', '2:c'],
    );
    assert.deepEqual(interleavedSchedule(['a'], 3).map((r) => r.round), [1, 2, 3]);
    assert.deepEqual(interleavedSchedule([], 5), []);
  });

  it('rejects a round count below 1', () => {
    assert.throws(() => interleavedSchedule(['a'], 0), RangeError);
    assert.throws(() => interleavedSchedule(['a'], 1.5), RangeError);
  });
});

describe('median and spread', () => {
  it('takes the middle value, or the mean of the two middle values, whatever the input order', () => {
    assert.equal(median([5]), 5);
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([875, 1754, 1200, 990, 1500]), 1200);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([10, 2, 33]), 10, 'numerically, not as strings');
    assert.throws(() => median([]), RangeError);
  });

  it('gives the median with the range', () => {
    assert.deepEqual(spread([875, 1754, 1200]), { median: 1200, min: 875, max: 1754 });
  });

  it('does not reorder its input', () => {
    const values = [3, 1, 2];
    median(values);
    assert.deepEqual(values, [3, 1, 2]);
  });
});

describe('summariseRounds', () => {
  it("takes each ratio within a round, and reports the median of those ratios, not the ratio of medians", () => {
    // The machine is fast in round 1 and slow in round 2 for both; the ratio is steady though req/s are not.
    const [direct, tunnel] = summariseRounds([
      { name: 'direct-https', rounds: [ok(1, 2000), ok(2, 1000), ok(3, 1600)] },
      { name: 'egress-tunnel', baseline: 'direct-https', rounds: [ok(1, 1800), ok(2, 950), ok(3, 1200)] },
    ]);
    assert.ok(direct?.state === 'ok' && tunnel?.state === 'ok');
    assert.equal(direct.stats.ratio, undefined);
    assert.equal(direct.baseline, undefined);
    assert.deepEqual(tunnel.rounds.map((r) => (r.state === 'ok' ? r.ratio : undefined)), [0.9, 0.95, 0.75]);
    assert.equal(tunnel.stats.ratio, 0.9);
    assert.equal(tunnel.stats.ratioRounds, 3);
    assert.deepEqual(tunnel.stats.requestsPerSecond, { median: 1200, min: 950, max: 1800 });
    // The ratio of the medians would be 1200 / 1600 = 0.75.
    assert.notEqual(tunnel.stats.ratio, tunnel.stats.requestsPerSecond.median / direct.stats.requestsPerSecond.median);
  });

  it('takes medians of p50, p99 and MB/s over rounds and sums requests and errors', () => {
    const [s] = summariseRounds([{ name: 'direct-http', rounds: [ok(1, 1000, 5, 50, 1), ok(2, 3000, 1, 90), ok(3, 2000, 3, 20, 2)] }]);
    assert.ok(s?.state === 'ok');
    assert.equal(s.stats.p50Seconds, 0.003);
    assert.equal(s.stats.p99Seconds, 0.05);
    assert.equal(s.stats.megabytesPerSecond, 2);
    assert.equal(s.stats.requests, 6000);
    assert.equal(s.stats.errors, 3);
    assert.equal(s.stats.okRounds, 3);
  });

  it("pools the proxy's CPU over the rounds that measured it: total CPU / their requests, in µs", () => {
    const metered = (round: number, rps: number, cpuSeconds: number): RoundOutcome => ({ round, state: 'ok', result: result(rps), proxyCpuSeconds: cpuSeconds });
    // 0.03 s for 1000 requests, 0.05 s for 1000, 0.02 s for 500: 0.10 s / 2500 requests = 40 µs. A round without
    // a measurement (the proxy's /proc entry was gone) counts neither its CPU nor its requests.
    const [tunnel, direct] = summariseRounds([
      { name: 'egress-tunnel', rounds: [metered(1, 1000, 0.03), metered(2, 1000, 0.05), ok(3, 4000), metered(4, 500, 0.02)] },
      { name: 'direct-https', rounds: [ok(1, 2000)] },
    ]);
    assert.ok(tunnel?.state === 'ok' && direct?.state === 'ok');
    assert.ok(Math.abs((tunnel.stats.proxyCpuMicrosPerRequest as number) - 40) < 1e-9, String(tunnel.stats.proxyCpuMicrosPerRequest));
    assert.equal(direct.stats.proxyCpuMicrosPerRequest, undefined);
  });

  it('leaves out rounds where either side failed, and reports a scenario failing every round as an error', () => {
    const summaries = summariseRounds([
      { name: 'direct-https', rounds: [ok(1, 1000), { round: 2, state: 'error', message: 'no port' }, ok(3, 1000)] },
      { name: 'egress-tunnel', baseline: 'direct-https', rounds: [ok(1, 500), ok(2, 900), { round: 3, state: 'error', message: 'exited' }] },
      { name: 'egress-mitm', baseline: 'direct-https', rounds: [{ round: 1, state: 'error', message: 'first' }, { round: 2, state: 'error', message: 'second' }] },
      { name: 'squid-tunnel', baseline: 'direct-https', skipped: 'not installed', rounds: [] },
      { name: 'egress-forward', baseline: 'direct-http', rounds: [ok(1, 700)] },
    ]);
    const [direct, tunnel, mitm, squid, forward] = summaries;
    assert.ok(direct?.state === 'ok' && direct.stats.okRounds === 2);
    assert.ok(tunnel?.state === 'ok');
    assert.equal(tunnel.stats.ratio, 0.5, 'only round 1 has both');
    assert.equal(tunnel.stats.ratioRounds, 1);
    assert.deepEqual(tunnel.stats.requestsPerSecond, { median: 700, min: 500, max: 900 });
    assert.deepEqual(mitm, {
      name: 'egress-mitm',
      state: 'error',
      baseline: 'direct-https',
      message: 'first',
      rounds: [{ round: 1, state: 'error', message: 'first' }, { round: 2, state: 'error', message: 'second' }],
    });
    assert.deepEqual(squid, { name: 'squid-tunnel', state: 'skipped', reason: 'not installed' });
    assert.ok(forward?.state === 'ok');
    assert.equal(forward.stats.ratio, undefined, 'its baseline was not run');
    assert.equal(forward.baseline, 'direct-http');
  });
});
