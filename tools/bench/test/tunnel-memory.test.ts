/** The arithmetic and parsing of the bench's tunnel-memory block (tunnel-memory.ts); the measurement itself needs the built proxy. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCompareArgs, type CompareOptions } from '../compare-options.js';
import {
  DEFAULT_IDLE_TUNNELS,
  parseOpenFilesLimit,
  parseReclaimLine,
  parseVmRssKiB,
  keptMB,
  perTunnelKB,
  renderTunnelMemory,
  tunnelsWithin,
  type TunnelMemoryResult,
} from '../tunnel-memory.js';

test('VmRSS and the open-files limit are read from /proc text', () => {
  assert.equal(parseVmRssKiB('Name:\tnode\nVmPeak:\t  900 kB\nVmRSS:\t  70656 kB\nRssAnon:\t 1 kB\n'), 70656);
  assert.throws(() => parseVmRssKiB('Name:\tnode\n'), /no VmRSS/);
  const limits = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                20000                files\n';
  assert.equal(parseOpenFilesLimit(limits), 20000);
  assert.equal(parseOpenFilesLimit('Max open files            unlimited            unlimited            files\n'), Number.POSITIVE_INFINITY);
  assert.equal(parseOpenFilesLimit(''), undefined);
});

test('the tunnel count is capped by the descriptor limit: two per tunnel in the proxy, 500 spare', () => {
  assert.equal(tunnelsWithin(20000, 10000), 9750);
  assert.equal(tunnelsWithin(20000, 5000), 5000);
  assert.equal(tunnelsWithin(undefined, 10000), 10000);
  assert.equal(tunnelsWithin(Number.POSITIVE_INFINITY, 10000), 10000);
  assert.equal(tunnelsWithin(100, 10), 0);
});

test('per-tunnel KB: the RSS growth in 1000-byte units per tunnel', () => {
  // 10,000 tunnels adding 78,125 KiB (80 MB) is exactly the target of 8 KB each.
  assert.equal(perTunnelKB(70_000, 148_125, 10_000), 8);
  assert.equal(perTunnelKB(70_000, 70_000, 0), 0);
});

test('the block prints the numbers and a targets line that says ok or MISSED', () => {
  const figures = { heapUsed: 13.1, heapTotal: 20.2, external: 3 };
  const result: TunnelMemoryResult = {
    tunnels: 9000,
    requested: 10000,
    relay: 'splice',
    exchangeBytes: 512,
    rssKiB: { before: 71_987, open: 156_570, afterClose: 172_646, settled: 80_000, afterGc: 75_000 },
    heapMiB: { before: figures, open: figures, afterClose: figures, settled: figures, afterGc: figures },
    perTunnelKB: 9.6,
    keptAfterCloseMB: 103,
    keptSettledMB: keptMB(71_987, 80_000),
    keptAfterGcMB: keptMB(71_987, 75_000),
    reclaims: [{ secondsAfterClose: 3.4, rssBeforeMiB: 140.2, rssAfterMiB: 70.1, gcMs: 12.34, trimMs: 20, mallocTrim: true }],
    targetMet: false,
  };
  const text = renderTunnelMemory(result);
  assert.match(text, /^tunnel memory: 9000 idle tunnels \(of 10000 asked: the descriptor limit\), 512 bytes each way on each, relay "splice"$/m);
  assert.match(text, /^proxy RSS: {2}70\.3 MiB before, 152\.9 MiB with the tunnels open, 168\.6 MiB 5 s after they closed$/m);
  assert.match(text, /^ {12}78\.1 MiB 30 s after, 73\.2 MiB after a full GC forced by the bench \(for comparison\)$/m);
  assert.match(text, /^reclaimer: {2}ran 3\.4 s after the close: RSS 140\.2 -> 70\.1 MiB; paused for GC 12\.3 ms, malloc_trim 20\.0 ms$/m);
  assert.match(renderTunnelMemory({ ...result, reclaims: [] }), /^reclaimer: {2}the proxy did not reclaim within 30 s$/m);
  assert.match(
    text,
    /^targets: tunnel memory 9\.6 KB per idle tunnel <= 8 KB MISSED; kept 5 s after close: 103\.0 MB, 30 s after: 8\.2 MB, after a forced GC: 3\.1 MB$/m,
  );
  assert.match(renderTunnelMemory({ ...result, perTunnelKB: 7.5, targetMet: true }), /<= 8 KB ok;/);
});

test("the proxy's reclaim line is read with its time after the close; other lines are not", () => {
  const line =
    '{"level":"debug","time":"2026-12-06T15:00:03.500Z","pid":1,"connections_peak":9750,"connections_open":0,"rss_before_mib":140.2,' +
    '"rss_after_mib":70.1,"gc_ms":12.3,"trim_ms":4.5,"malloc_trim":true,"msg":"memory reclaimed after connections closed"}';
  assert.deepEqual(parseReclaimLine(line, Date.parse('2026-12-06T15:00:00.000Z')), {
    secondsAfterClose: 3.5,
    rssBeforeMiB: 140.2,
    rssAfterMiB: 70.1,
    gcMs: 12.3,
    trimMs: 4.5,
    mallocTrim: true,
  });
  assert.equal(parseReclaimLine('{"level":"info","msg":"proxy listening"}', 0), undefined);
});

test('-tunnels sets the block (0 skips it), -tunnels-only drops the workloads', () => {
  const parse = (argv: string[]): CompareOptions => {
    const options = parseCompareArgs(argv, (file) => `/data/${file}`);
    if (options.help) throw new Error('unexpected help');
    return options;
  };
  assert.equal(parse([]).idleTunnels, DEFAULT_IDLE_TUNNELS);
  assert.equal(parse(['--tunnels', '0']).idleTunnels, 0);
  assert.equal(parse(['--tunnels', '9000']).idleTunnels, 9000);
  assert.ok(parse([]).workloads.length > 0);
  assert.deepEqual(parse(['--tunnels-only']).workloads, []);
});
