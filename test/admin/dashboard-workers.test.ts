/**
 * The dashboard of a cluster (`run --workers 2`, the real CLI): the primary samples the workers' metrics added up,
 * and its numbers equal those of the aggregated /metrics after traffic reached both workers.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { httpGet, killAllCliProcesses, proxiedGet, startHttpOrigin, startRun, stopRun } from '../cli/cli-harness.js';
import { parseSamples, sumOf } from './prometheus-samples.js';

after(killAllCliProcesses);

test('with two workers, /dashboard.json adds up the workers like /metrics', { timeout: 120_000 }, async () => {
  const origin = await startHttpOrigin();
  const run = await startRun(['--port', '0', '--admin-port', '0', '--workers', '2']);
  try {
    // Separate connections, so the round-robin primary hands them to both workers.
    for (let i = 0; i < 12; i++) {
      const res = await proxiedGet(run.proxyPort, `http://127.0.0.1:${origin.port}/v1/write/metric`);
      assert.equal(res.status, 200);
    }
    const admin = `http://127.0.0.1:${run.adminPort}`;
    const expected = 12;
    let detail: { totals: { requests: Record<string, number> }; topApis: Array<{ api: string; total: number }> } | undefined;
    // Samples come every 2 s; wait for one taken after the traffic.
    for (let tries = 0; tries < 40; tries++) {
      const body = JSON.parse((await httpGet(`${admin}/dashboard.json`)).body) as { detail: typeof detail | null };
      detail = body.detail ?? undefined;
      if (detail?.totals.requests['forward'] === expected) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const scrape = (await httpGet(`${admin}/metrics`)).body;
    const samples = parseSamples(scrape);
    // The admin listener's own series (in the primary, after the workers' sum), declared once.
    assert.equal(scrape.match(/^# TYPE egress_proxy_admin_auth_failures_total counter$/gm)?.length, 1);
    assert.equal(sumOf(samples, 'egress_proxy_request_duration_seconds_count', { kind: 'forward' }), expected);
    assert.equal(detail?.totals.requests['forward'], expected, 'the dashboard counts every worker');
    assert.equal(detail?.topApis.find((a) => a.api === '/v1/write/metric')?.total, sumOf(samples, 'datakit_input_proxy_api_total', { api: '/v1/write/metric' }));
    assert.match((await httpGet(`${admin}/`)).body, /<title>egress-proxy<\/title>/);
  } finally {
    await stopRun(run.proc);
    await origin.close();
  }
});
