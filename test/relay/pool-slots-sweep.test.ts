/**
 * The shared pieces of the engine on their own: the upstream pool (most recent first, dropped when an idle
 * connection says anything, expired by the sweep's clock), the origin slots (per-origin cap, per-client share,
 * first come first served among those who fit), and the sweep's interval.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { OriginSlots, type SlotHolder } from '../../src/relay/origin-slots.js';
import { sweepIntervalFor, TimeoutSweep } from '../../src/relay/timeout-sweep.js';
import { UpstreamConnection, type UpstreamHolder } from '../../src/relay/upstream-connection.js';
import { UpstreamPool } from '../../src/relay/upstream-pool.js';
import { startTcpServer } from '../helpers/origin-servers.js';

const nobody: UpstreamHolder = { upstreamData() {}, upstreamEnd() {}, upstreamClosed() {}, upstreamDrained() {} };

test('the pool: most recently parked first, at most its limit per origin, expired by the sweep, dropped when an idle connection speaks', async () => {
  const accepted: net.Socket[] = [];
  const server = await startTcpServer((socket) => accepted.push(socket));
  try {
    const limits = { maxIdlePerOrigin: 2, idleTimeoutMs: 1000 };
    const pool = new UpstreamPool(limits);
    const connect = async (): Promise<UpstreamConnection> => {
      const socket = net.connect(server.port, '127.0.0.1');
      await once(socket, 'connect');
      return new UpstreamConnection(socket, nobody);
    };
    const [a, b, c] = [await connect(), await connect(), await connect()];
    assert.equal(pool.park('o', a, 0), true);
    assert.equal(pool.park('o', b, 10), true);
    assert.equal(pool.park('o', c, 20), false, 'full: the caller closes it');
    c.close();
    assert.equal(pool.take('o'), b, 'the most recently parked first');
    assert.equal(pool.take('o'), a);
    assert.equal(pool.take('o'), undefined);

    pool.park('o', a, 0);
    pool.park('o', b, 500);
    pool.expire(999);
    assert.equal(pool.idleCount('o'), 2);
    pool.expire(1000);
    assert.equal(pool.idleCount('o'), 1, 'idle for upstream_keepalive: closed');
    await once(a.socket, 'close');
    // Between requests an upstream has nothing to say: a byte from it ends its stay.
    accepted.at(-2)?.write('unsolicited');
    await once(b.socket, 'close');
    assert.equal(pool.idleCount('o'), 0);
    assert.equal(pool.take('o'), undefined);
  } finally {
    await server.close();
  }
});

test('slots: a per-origin cap, a per-client share, and no waiter blocks one that fits', () => {
  const slots = new OriginSlots({ perOrigin: 3, perClient: 2 });
  const granted: string[] = [];
  const holder = (name: string): SlotHolder => ({ slotGranted: () => granted.push(name) });
  const [a1, a2, a3, b1, c1] = ['a1', 'a2', 'a3', 'b1', 'c1'].map(holder);
  assert.equal(slots.acquire('o', 'A', a1!), true);
  assert.equal(slots.acquire('o', 'A', a2!), true);
  assert.equal(slots.acquire('o', 'A', a3!), false, 'A is at its share');
  assert.equal(slots.acquire('o', 'B', b1!), true, 'B is not held up by A\'s waiter');
  assert.equal(slots.acquire('o', 'C', c1!), false, 'the origin is at its cap');
  slots.release('o', 'B');
  assert.deepEqual(granted, ['c1'], 'the slot B gave back goes to C, who fits; A\'s waiter does not');
  slots.release('o', 'A');
  assert.deepEqual(granted, ['c1', 'a3']);
  assert.equal(slots.inUse('o'), 3);
  assert.equal(slots.inUse('o', 'A'), 2);
  // Withdrawn waiters are never granted.
  const d = holder('d');
  assert.equal(slots.acquire('o', 'D', d), false);
  slots.withdraw('o', d);
  slots.release('o', 'C');
  assert.deepEqual(granted, ['c1', 'a3']);
  // Idle bookkeeping is dropped by the sweep.
  slots.release('o', 'A');
  slots.release('o', 'A');
  slots.expire();
  assert.equal(slots.inUse('o'), 0);
});

test('the sweep: one timer for every member, an interval a tenth of the shortest timeout within 10 ms and 1 s', () => {
  assert.equal(sweepIntervalFor([10_000, 60_000, 30_000]), 1000);
  assert.equal(sweepIntervalFor([4000, 60_000]), 400);
  assert.equal(sweepIntervalFor([300, 1500]), 30);
  assert.equal(sweepIntervalFor([50]), 10);
  const seen: number[] = [];
  const sweep = new TimeoutSweep(1000, () => 42);
  const member = { expire: (now: number) => seen.push(now) };
  sweep.add(member);
  sweep.sweep();
  sweep.sweep(7);
  sweep.delete(member);
  sweep.sweep();
  assert.deepEqual(seen, [42, 7]);
});
