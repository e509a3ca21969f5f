/** When the idle memory reclaimer runs (src/memory/reclaim-decision.ts), driven with a fake clock and fake counts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RECLAIM_POLICY, ReclaimDecision, type ReclaimPolicy } from '../../src/memory/reclaim-decision.js';

/** Feeds one sample a second; `cpuMsPerSecond` of CPU is spent in each. Returns the seconds at which a reclaim was due. */
class Feed {
  readonly decision: ReclaimDecision;
  now = 0;
  cpuMicros = 0;
  due: number[] = [];

  constructor(policy: ReclaimPolicy = DEFAULT_RECLAIM_POLICY) {
    this.decision = new ReclaimDecision(policy);
  }

  /** `seconds` samples with `open` connections; a due reclaim is carried out (`reclaimed`) as the reclaimer does. */
  run(seconds: number, open: number, cpuMsPerSecond = 0): this {
    for (let i = 0; i < seconds; i++) {
      this.now += 1000;
      this.cpuMicros += cpuMsPerSecond * 1000;
      if (this.decision.observe({ now: this.now, openConnections: open, cpuMicros: this.cpuMicros })) {
        this.due.push(this.now / 1000);
        this.decision.reclaimed(this.now, open);
      }
    }
    return this;
  }
}

test('a burst of 10,000 that closes is reclaimed once, 3 s after the process went quiet', () => {
  const feed = new Feed().run(5, 20).run(10, 10_000, 200).run(1, 0, 300);
  assert.deepEqual(feed.due, []);
  feed.run(30, 0);
  // Busy at 16 s (the close); quiet from there: due at 19 s, and only then.
  assert.deepEqual(feed.due, [19]);
});

test('no reclaim without a large drop: steady, growing, or a small dip of a large count', () => {
  assert.deepEqual(new Feed().run(120, 50).due, []);
  assert.deepEqual(new Feed().run(10, 100).run(10, 500).run(10, 5000).run(60, 5000).due, []);
  // 3,000 -> 2,500: 500 closed, under 1,000 and under half.
  assert.deepEqual(new Feed().run(10, 3000).run(60, 2500).due, []);
  // 150 -> 60: half, but fewer than 100 closed.
  assert.deepEqual(new Feed().run(10, 150).run(60, 60).due, []);
});

test('half of a few hundred counts: 300 -> 100 is reclaimed', () => {
  // The close takes 100 ms of CPU at 6 s: quiet from there.
  assert.deepEqual(new Feed().run(5, 300).run(1, 100, 100).run(10, 100).due, [9]);
});

test('never under load: CPU above 5 % of a core, or connections arriving, keeps postponing it', () => {
  // 100 ms of CPU a second (10 %) after the drop: never quiet.
  assert.deepEqual(new Feed().run(5, 5000).run(60, 1000, 100).due, []);
  // 40 ms a second (4 %) is quiet.
  assert.deepEqual(new Feed().run(5, 5000).run(1, 1000, 200).run(10, 1000, 40).due, [9]);
  // A new connection every other second after the drop: the count rises each time, so never 3 s of quiet.
  const feed = new Feed().run(5, 5000).run(1, 1000, 200);
  for (let i = 1; i <= 20; i++) feed.run(1, 1000 + i).run(1, 1000 + i);
  assert.deepEqual(feed.due, []);
  feed.run(10, 1020);
  assert.deepEqual(feed.due, [48]);
});

test('at most once per 30 s, and the next needs a new drop from what was open at the last', () => {
  const feed = new Feed().run(5, 5000).run(1, 3000, 200).run(9, 3000);
  assert.deepEqual(feed.due, [9]);
  // Down to 1,500 at 16 s: 1,500 below the new peak (3,000), but the last reclaim was 7 s before.
  feed.run(1, 1500, 200).run(30, 1500);
  assert.deepEqual(feed.due, [9, 39]);
  // Nothing more closes: nothing more to do.
  feed.run(120, 1500);
  assert.deepEqual(feed.due, [9, 39]);
});

test('the first sample only sets the baseline', () => {
  const decision = new ReclaimDecision({ ...DEFAULT_RECLAIM_POLICY, quietMs: 0, minIntervalMs: 0 });
  assert.equal(decision.observe({ now: 0, openConnections: 5000, cpuMicros: 0 }), false);
  assert.equal(decision.observe({ now: 1000, openConnections: 0, cpuMicros: 0 }), true);
});
