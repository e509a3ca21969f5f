// Graceful stop of `egress-proxy run` on SIGTERM: tunnels in flight keep working while the proxy drains, new
// connections are refused, /readyz turns 503, and the process exits as soon as the last tunnel closes, or when
// --drain-timeout runs out, closing what is left.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  closesWithin,
  echoThrough,
  httpGet,
  isMessage,
  killAllCliProcesses,
  openConnectTunnel,
  startEchoServer,
  startRun,
  tryConnect,
  type LocalServer,
} from './cli-harness.js';

after(killAllCliProcesses);

let echo: LocalServer;
before(async () => {
  echo = await startEchoServer();
});
after(async () => {
  await echo?.close();
});

describe('egress-proxy run drains on SIGTERM', { concurrency: true }, () => {
  test('--drain-timeout 5: an open tunnel keeps working, then the exit follows its close', async () => {
    const { proc, proxyPort, adminPort } = await startRun(['--port', '0', '--admin-port', '0', '--drain-timeout', '5']);
    const tunnel = await openConnectTunnel(proxyPort, echo.port);
    try {
      assert.equal(await echoThrough(tunnel, 'before the signal'), 'before the signal');
      assert.equal((await httpGet(`http://127.0.0.1:${adminPort}/readyz`)).status, 200);

      const signalledAt = performance.now();
      proc.signal('SIGTERM');
      const draining = await proc.waitForLog(isMessage('draining'), '"draining" line', 10_000);
      assert.equal(draining['drain_timeout_ms'], 5000);

      const ready = await httpGet(`http://127.0.0.1:${adminPort}/readyz`);
      assert.equal(ready.status, 503, ready.body);
      assert.equal((await httpGet(`http://127.0.0.1:${adminPort}/healthz`)).status, 200);
      assert.equal(await echoThrough(tunnel, 'while draining'), 'while draining');
      assert.equal(await tryConnect(proxyPort), 'ECONNREFUSED');
      assert.equal(proc.child.exitCode, null, 'exited while a tunnel was still open');

      const closedAt = performance.now();
      tunnel.end();
      const result = await proc.waitForExit(10_000);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(result.exitedAt - closedAt < 2500, `exit ${Math.round(result.exitedAt - closedAt)} ms after the tunnel closed`);
      assert.ok(result.exitedAt - signalledAt < 5000, `exit ${Math.round(result.exitedAt - signalledAt)} ms after SIGTERM`);
      const stopped = proc.logLines().find(isMessage('stopped'));
      assert.ok(stopped, result.stdout);
      assert.equal(stopped['forced'], false);
    } finally {
      tunnel.destroy();
    }
  });

  test('--drain-timeout 1: a tunnel left open is closed after about a second, and the exit is still 0', async () => {
    const { proc, proxyPort } = await startRun(['--port', '0', '--no-admin', '--drain-timeout', '1']);
    const tunnel = await openConnectTunnel(proxyPort, echo.port);
    try {
      assert.equal(await echoThrough(tunnel, 'ping'), 'ping');
      let tunnelClosedAt = Number.NaN;
      tunnel.once('close', () => (tunnelClosedAt = performance.now()));

      const signalledAt = performance.now();
      proc.signal('SIGTERM');
      const result = await proc.waitForExit(8000);
      assert.equal(result.code, 0, result.stderr);
      const elapsed = result.exitedAt - signalledAt;
      assert.ok(elapsed >= 900 && elapsed < 4000, `exit ${Math.round(elapsed)} ms after SIGTERM`);

      assert.ok(await closesWithin(tunnel, 2000), 'the proxy left the tunnel open');
      const closedAfter = tunnelClosedAt - signalledAt;
      assert.ok(closedAfter >= 900, `tunnel closed ${Math.round(closedAfter)} ms after SIGTERM, before the drain timeout`);
      const stopped = proc.logLines().find((line) => line.msg?.startsWith('stopped') === true);
      assert.ok(stopped, result.stdout);
      assert.equal(stopped['forced'], true);
    } finally {
      tunnel.destroy();
    }
  });
});
