/**
 * The idle memory reclaimer in a running proxy (src/memory/): a burst of real tunnels through the proxy, held, then
 * closed. With them open nothing runs; once they have closed and the process is quiet, one reclaim runs, is
 * counted in /metrics and logged with what it gave back. Shorter timings than production (the decision itself is
 * tested with a fake clock in reclaim-decision.test.ts), on each relay this machine can select.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';
import { startTcpServer } from '../helpers/origin-servers.js';
import { openTunnel, readUntil } from '../helpers/raw-client.js';
import { availableTunnelRelays, useTunnelRelay } from '../../src/proxy/tunnel-relay-selection.js';
import { loadNativeMemory } from '../../src/memory/native-memory.js';

const TUNNELS = 300;
const RECLAIMED = 'memory reclaimed after connections closed';
const native = loadNativeMemory();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function reclaimCount(text: string): number {
  return Number(/^egress_proxy_memory_reclaims_total (\d+)$/m.exec(text)?.[1] ?? NaN);
}

for (const relay of availableTunnelRelays()) {
  describe(`idle memory reclaimer (${relay} relay)`, { skip: native instanceof Error ? native.message : false }, () => {
    let target: Awaited<ReturnType<typeof startTcpServer>>;
    let proxy: TestProxy;

    before(async () => {
      useTunnelRelay(relay);
      target = await startTcpServer();
      proxy = await startTestProxy({}, undefined, { memoryReclaim: { sampleMs: 100, quietMs: 500, minIntervalMs: 60_000 } });
    });

    after(async () => {
      await proxy.stop(1000);
      await target.close();
    });

    test(`${TUNNELS} tunnels: nothing while they are open, one reclaim once they have closed`, async () => {
      const tunnels: net.Socket[] = [];
      for (let opened = 0; opened < TUNNELS; opened += 50) {
        const batch = await Promise.all(Array.from({ length: 50 }, () => openTunnel(proxy.port, `127.0.0.1:${target.port}`)));
        // One exchange each way on each: the relay has read from both sides.
        await Promise.all(batch.map((socket) => (socket.write('x'.repeat(512)), readUntil(socket, (text) => text.length >= 512))));
        tunnels.push(...batch);
      }
      // Open and quiet for more than the quiet time: no drop, no reclaim.
      await sleep(1000);
      assert.equal(reclaimCount(await proxy.metricsText()), 0);
      assert.equal(proxy.logs.filter((line) => line.msg === RECLAIMED).length, 0);

      for (const socket of tunnels) socket.destroy();
      const deadline = Date.now() + 10_000;
      while (!proxy.logs.some((line) => line.msg === RECLAIMED) && Date.now() < deadline) await sleep(50);
      const lines = proxy.logs.filter((line) => line.msg === RECLAIMED);
      assert.equal(lines.length, 1, 'one reclaim within 10 s of the close');
      const line = lines[0]!;
      assert.ok((line.connections_peak as number) >= TUNNELS, `peak ${String(line.connections_peak)}`);
      assert.equal(line.connections_open, 0);
      // glibc's trim ran where the C library is glibc (the report names its version there).
      const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
      assert.equal(line.malloc_trim, report.header?.glibcVersionRuntime !== undefined);
      assert.ok((line.rss_after_mib as number) < (line.rss_before_mib as number), `RSS ${String(line.rss_before_mib)} -> ${String(line.rss_after_mib)} MiB`);
      assert.equal(reclaimCount(await proxy.metricsText()), 1);
      // Nothing more closes: no second one.
      await sleep(1000);
      assert.equal(proxy.logs.filter((l) => l.msg === RECLAIMED).length, 1);
    });
  });
}
