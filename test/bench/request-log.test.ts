// Tests the bench client's per-request bookkeeping and its progress line.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startProgressReporter } from '../../src/bench/progress-reporter.js';
import { RequestLog, describeError } from '../../src/bench/request-log.js';
import { captureIo } from './bench-test-helpers.js';

describe('RequestLog', () => {
  it('groups requests by status label in order of first appearance, latencies in whole nanoseconds', () => {
    const log = new RequestLog(5);
    log.recordResponse(0, 200, 1.2345678);
    log.recordError(1, Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }), 0.5);
    log.recordResponse(2, 200, 2);
    log.recordResponse(3, 404, 3);
    log.recordResponse(4, 299, 4);
    const groups = log.groups();
    assert.deepEqual(groups.map((g) => [g.status, g.ok, [...g.latenciesSeconds]]), [
      ['200 OK', true, [0.001234568, 0.002]],
      ['connect ECONNREFUSED 127.0.0.1:9', false, [0.0005]],
      ['404 Not Found', false, [0.003]],
      ['299', true, [0.004]],
    ]);
  });
});

describe('describeError', () => {
  it('uses the first cause of an AggregateError without a message (failed happy eyeballs)', () => {
    const err = new AggregateError([new Error('connect ECONNREFUSED ::1:54321'), new Error('connect ECONNREFUSED 127.0.0.1:54321')], '');
    assert.equal(describeError(err), 'connect ECONNREFUSED ::1:54321');
  });
  it('falls back to the code, and keeps labels on one line', () => {
    assert.equal(describeError(Object.assign(new Error(''), { code: 'ECONNRESET' })), 'ECONNRESET');
    assert.equal(describeError(new Error('line one\n  line two')), 'line one line two');
    assert.equal(describeError('plain'), 'plain');
  });
});

describe('startProgressReporter', () => {
  it('reports done/total and the rate after the first delay, rewrites one line on a terminal, and clears it', async () => {
    const io = captureIo();
    const progress = { completed: 0 };
    const stop = startProgressReporter({ progress, total: 10, stream: io.stderr, inPlace: true, firstAfterMs: 30, everyMs: 30 });
    progress.completed = 4;
    // Until a second report has come (30 ms apart; a loaded machine may need longer), at most 5 s.
    const reports = (): number => io.err().split('\r\x1b[K').filter((w) => w !== '').length;
    for (const deadline = Date.now() + 5_000; reports() < 2 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    stop();
    const writes = io.err().split('\r\x1b[K').filter((w) => w !== '');
    assert.ok(writes.length >= 2, io.err());
    assert.match(writes[0] as string, /^4\/10 requests, \d+ req\/s$/);
    assert.ok(io.err().endsWith('\r\x1b[K'), 'the line is cleared at the end');
  });

  it('stays silent for runs shorter than the first delay', () => {
    const io = captureIo();
    const stop = startProgressReporter({ progress: { completed: 0 }, total: 1, stream: io.stderr, inPlace: false });
    stop();
    assert.equal(io.err(), '');
  });
});
