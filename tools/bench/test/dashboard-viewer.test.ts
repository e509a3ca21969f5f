// Tests the open-page stand-in of the egress-forward-dashboard scenario (dashboard-viewer.ts) against a real admin
// listener: it resolves once the page's history arrived, counts the samples pushed after it, holds one of the
// listener's viewer places until closed, and refuses what is not an event stream.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, it } from 'node:test';
import { AdminServer } from '../../../src/admin/admin-server.js';
import { registryMetricsSource } from '../../../src/admin/metrics-source.js';
import { ProxyMetrics } from '../../../src/metrics/proxy-metrics.js';
import { openDashboardViewer } from '../dashboard-viewer.js';

describe('openDashboardViewer', () => {
  const metrics = new ProxyMetrics({ maxApiLabels: 5, maxClientIpLabels: 5, version: '0.0.0', gauges: { activeTunnels: () => 0, requestsInFlight: () => 0, clientConnections: () => 0 } });
  const admin = new AdminServer({
    bind: '127.0.0.1',
    port: 0,
    metrics: registryMetricsSource(metrics.registry),
    isReady: () => true,
    dashboard: { info: () => ({}), intervalMs: 30 },
  });
  after(() => admin.close());

  it('opens the stream, counts pushed samples, and closes', async () => {
    const { port } = await admin.listen();
    const viewer = await openDashboardViewer(port);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(viewer.samples() >= 2, `${viewer.samples()} samples`);
    viewer.close();
    const counted = viewer.samples();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(viewer.samples(), counted, 'nothing more after close');
  });

  it('refuses a listener without a dashboard', async () => {
    const plain = http.createServer((_req, res) => res.writeHead(404).end());
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const { port } = plain.address() as { port: number };
    await assert.rejects(openDashboardViewer(port), /answered 404/);
    await new Promise((resolve) => plain.close(resolve));
  });
});
