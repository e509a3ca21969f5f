// `workers = N`: N processes serve the one proxy port, the primary's admin listener adds up their metrics (the
// DataKit series read as one process serving the same traffic would show them), a crashed worker is restarted,
// and SIGTERM drains every worker.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sample } from '../helpers/metrics-text.js';
import {
  echoThrough,
  httpGet,
  isMessage,
  killAllCliProcesses,
  occupyPort,
  openConnectTunnel,
  proxiedGet,
  runCli,
  startEchoServer,
  startHttpOrigin,
  startRun,
  stderrLines,
  stopRun,
  tryConnect,
  type LocalServer,
  type LogLine,
} from './cli-harness.js';
import { PROMTOOL_AVAILABLE, promtoolCheckMetrics } from './promtool.js';

after(killAllCliProcesses);

let origin: LocalServer & { requests: string[] };
let echo: LocalServer;
before(async () => {
  origin = await startHttpOrigin();
  echo = await startEchoServer();
});
after(async () => {
  await origin?.close();
  await echo?.close();
});

const isAccessLine = (line: LogLine): boolean => line['log'] === 'access';
const REQUESTS = 24;

/** REQUESTS proxied GETs, each on a new connection (so round-robin spreads them), plus one origin-form reject. */
async function sendTraffic(proxyPort: number): Promise<void> {
  for (let i = 0; i < REQUESTS; i++) {
    const response = await proxiedGet(proxyPort, `http://127.0.0.1:${origin.port}/v1/write/metric?n=${i}`);
    assert.equal(response.status, 200);
  }
  assert.equal((await httpGet(`http://127.0.0.1:${proxyPort}/not-a-proxy-request`)).status, 400);
}

/** The reference's series a dashboard reads, from a /metrics body. */
function datakitSeries(text: string): Record<string, number | undefined> {
  const api = 'api="/v1/write/metric",method="GET"';
  return {
    api_total: sample(text, `datakit_input_proxy_api_total{${api}}`),
    latency_count: sample(text, `datakit_input_proxy_api_latency_seconds_count{${api},status="OK"}`),
    reject_not_proxy: sample(text, 'datakit_input_proxy_reject_total{type="not_proxy_request"}'),
  };
}

describe('egress-proxy run --workers', { concurrency: true }, () => {
  test('2 workers: traffic reaches both, and /metrics shows the sums one process shows for the same traffic', async () => {
    const cluster = await startRun(['--port', '0', '--admin-port', '0', '--workers', '2', '--verbose']);
    const single = await startRun(['--port', '0', '--admin-port', '0']);
    try {
      assert.equal(cluster.startLine['workers'], 2);
      assert.equal(cluster.proc.logLines().filter(isMessage('worker listening')).length, 2);
      const ready = await httpGet(`http://127.0.0.1:${cluster.adminPort}/readyz`);
      assert.deepEqual(ready, { status: 200, body: 'ready: 2 of 2 workers listening\n' });

      await sendTraffic(cluster.proxyPort);
      await sendTraffic(single.proxyPort);
      await cluster.proc.waitForLog(() => cluster.proc.logLines().filter(isAccessLine).length >= REQUESTS, 'access lines', 10_000);
      const pids = new Set(cluster.proc.logLines().filter(isAccessLine).map((line) => line['pid']));
      assert.equal(pids.size, 2, `requests were served by ${[...pids].join(', ')}`);

      const clusterText = (await httpGet(`http://127.0.0.1:${cluster.adminPort}/metrics`)).body;
      const singleText = (await httpGet(`http://127.0.0.1:${single.adminPort}/metrics`)).body;
      const expected = { api_total: REQUESTS, latency_count: REQUESTS, reject_not_proxy: 1 };
      assert.deepEqual(datakitSeries(singleText), expected);
      assert.deepEqual(datakitSeries(clusterText), expected);
      // A quantile is a latency, not a sum of the workers' latencies: it stays within what one request took.
      const p50 = sample(clusterText, 'datakit_input_proxy_api_latency_seconds{quantile="0.5",api="/v1/write/metric",method="GET",status="OK"}');
      assert.ok(p50 !== undefined && p50 > 0 && p50 < 5, `p50 ${p50}`);
      assert.equal(sample(clusterText, 'egress_proxy_workers{state="listening"}'), 2);
      assert.match(clusterText, /^egress_proxy_build_info\{[^}]*\} 1$/m);
      if (PROMTOOL_AVAILABLE) {
        for (const text of [clusterText, singleText]) {
          const verdict = await promtoolCheckMetrics(text);
          assert.equal(verdict.code, 0, verdict.output);
        }
      }
    } finally {
      await Promise.all([stopRun(cluster.proc), stopRun(single.proc)]);
    }
  });

  test('a killed worker is logged and restarted, and the port is served meanwhile', async () => {
    const { proc, proxyPort, adminPort } = await startRun(['--port', '0', '--admin-port', '0', '--workers', '2']);
    const victim = proc.logLines().find(isMessage('worker listening'))!;
    process.kill(victim['pid'] as number, 'SIGKILL');
    const exited = await proc.waitForLog(isMessage('worker exited unexpectedly; restarting it'), 'the crash line', 10_000);
    assert.equal(exited['worker'], victim['worker']);
    assert.equal(exited['reason'], 'SIGKILL');
    assert.equal(exited['restart_in_ms'], 1000);
    for (let i = 0; i < 4; i++) assert.equal((await proxiedGet(proxyPort, `http://127.0.0.1:${origin.port}/meanwhile`)).status, 200);
    const restarted = await proc.waitForLog(isMessage('worker restarted'), 'the restart line', 20_000);
    assert.notEqual(restarted['pid'], victim['pid']);
    assert.equal((await httpGet(`http://127.0.0.1:${adminPort}/readyz`)).body, 'ready: 2 of 2 workers listening\n');
    const metrics = (await httpGet(`http://127.0.0.1:${adminPort}/metrics`)).body;
    assert.equal(sample(metrics, 'egress_proxy_worker_restarts_total{reason="SIGKILL"}'), 1);
    const result = await stopRun(proc);
    assert.equal(result.code, 0, result.stderr);
  });

  test('SIGTERM drains every worker: tunnels on both keep working, new connections are refused, no worker outlives the exit', async () => {
    const { proc, proxyPort, adminPort } = await startRun(['--port', '0', '--admin-port', '0', '--workers', '2', '--verbose', '--drain-timeout', '20']);
    const workerPids = proc.logLines().filter(isMessage('worker listening')).map((line) => line['pid'] as number);
    const tunnels = [await openConnectTunnel(proxyPort, echo.port), await openConnectTunnel(proxyPort, echo.port)];
    try {
      for (const tunnel of tunnels) assert.equal(await echoThrough(tunnel, 'before'), 'before');
      proc.signal('SIGTERM');
      await proc.waitForLog(isMessage('draining'), '"draining" line', 10_000);
      assert.equal((await httpGet(`http://127.0.0.1:${adminPort}/readyz`)).status, 503);
      for (const tunnel of tunnels) assert.equal(await echoThrough(tunnel, 'while draining'), 'while draining');
      // The listening socket closes once every worker has stopped accepting.
      let refused = '';
      for (let attempt = 0; attempt < 50 && refused !== 'ECONNREFUSED'; attempt++) {
        refused = await tryConnect(proxyPort);
        if (refused !== 'ECONNREFUSED') await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(refused, 'ECONNREFUSED');
      assert.equal(proc.child.exitCode, null, 'exited while tunnels were open');
      for (const tunnel of tunnels) tunnel.end();
      const result = await proc.waitForExit(15_000);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(proc.logLines().find(isMessage('stopped'))?.['forced'], false);
      const tunnelPids = new Set(proc.logLines().filter((line) => isAccessLine(line) && line.msg === 'tunnel').map((line) => line['pid']));
      assert.equal(tunnelPids.size, 2, 'the two tunnels went through different workers');
      for (const pid of workerPids) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} outlived the primary`);
    } finally {
      for (const tunnel of tunnels) tunnel.destroy();
    }
  });

  test('a worker that cannot listen fails the start: one line naming the setting, exit 1, no worker left', async () => {
    const taken = await occupyPort();
    try {
      const result = await runCli(['run', '--no-admin', '--workers', '2', '--port', String(taken.port)]);
      assert.equal(result.code, 1, result.stderr);
      assert.deepEqual(stderrLines(result), [
        `egress-proxy: command line: --port: the proxy listener cannot listen on 127.0.0.1:${taken.port}: the port is in use (EADDRINUSE)`,
      ]);
    } finally {
      await taken.close();
    }
  });
});
