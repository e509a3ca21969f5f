/** Warnings traffic can cause: one line per reason per interval, then one saying how many were left out. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { RateLimitedLog } from '../../src/logging/rate-limited-log.js';

test('10,000 warnings of one reason write one line per interval; other reasons are not held back', () => {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  let now = 0;
  const suppressed: string[] = [];
  const log = new RateLimitedLog(pino({ level: 'info' }, sink), { intervalMs: 60_000, now: () => now, onSuppressed: (r) => suppressed.push(r) });
  for (let i = 0; i < 10_000; i++) log.warn('destination_refused', { client: `10.0.${i >> 8}.${i & 255}` }, 'destination refused');
  log.error('fd_exhausted', { operation: 'accept' }, 'out of file descriptors');
  now += 60_000;
  log.warn('destination_refused', { client: '10.9.9.9' }, 'destination refused');
  assert.equal(lines.length, 3);
  assert.deepEqual(lines.map((l) => [l.reason, l.level, l.suppressed]), [
    ['destination_refused', 40, undefined],
    ['fd_exhausted', 50, undefined],
    ['destination_refused', 40, 9_999],
  ]);
  assert.equal(suppressed.length, 9_999);
});
