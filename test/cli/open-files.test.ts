/**
 * The open-files limit, end to end: a proxy started under `ulimit -n 256` with the default 10,000-connection cap
 * says at start that the cap does not fit and lowers it to what does (96: two descriptors per tunnel, 64 kept), and
 * with every one of those tunnels open the admin listener still answers (before, libuv reset every new connection,
 * the admin listener's included, with nothing logged).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { closesWithin, echoThrough, httpGet, isMessage, killAllCliProcesses, openConnectTunnel, startEchoServer, startRun, stopRun, tempDir } from './cli-harness.js';

after(killAllCliProcesses);

test('under ulimit -n 256: one line, the cap lowered to 96, the admin listener answering with 96 tunnels open', async () => {
  const echo = await startEchoServer();
  // Loopback destinations and any port: the tunnels go to the local echo server.
  const { proc, proxyPort, adminPort } = await startRun(
    ['--port', '0', '--admin-port', '0', '--dest-allow', '127.0.0.1', '--connect-port', '1-65535'],
    { openFilesLimit: 256 },
  );
  const tunnels: net.Socket[] = [];
  try {
    // The default cap: an info line (a warning when the user set the cap, below).
    const line = await proc.waitForLog((l) => String(l['msg']).includes('open-files limit'), 'the open-files line');
    assert.equal(line['level'], 'info');
    assert.match(String(line['msg']), /limits\.max_client_connections \(default\) = 10000 needs up to 20064 file descriptors .* the open-files limit is 256: at most 96 client connections are accepted/);
    const metrics = await httpGet(`http://127.0.0.1:${adminPort}/metrics`);
    assert.match(metrics.body, /^egress_proxy_client_connections_limit 96$/m);

    // More tunnels than fit: without the lowered cap the 110th would need descriptors 250 and up.
    let refused = 0;
    for (let i = 0; i < 120; i++) {
      try {
        tunnels.push(await openConnectTunnel(proxyPort, echo.port));
      } catch {
        refused++;
      }
    }
    assert.equal(tunnels.length, 96, `${tunnels.length} tunnels opened, ${refused} refused`);
    assert.equal(await echoThrough(tunnels[95]!, 'last'), 'last');
    // One more is closed at accept: the cap, not the descriptors, ran out.
    const extra = net.connect({ host: '127.0.0.1', port: proxyPort });
    extra.on('error', () => undefined);
    await once(extra, 'connect');
    assert.ok(await closesWithin(extra, 5000), 'a connection over the cap is closed');
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      assert.equal((await httpGet(`http://127.0.0.1:${adminPort}${path}`)).status, 200, `${path} with every tunnel open`);
    }
    assert.equal(await echoThrough(tunnels[0]!, 'still'), 'still', 'the tunnels still work');
  } finally {
    for (const tunnel of tunnels) tunnel.destroy();
    await stopRun(proc);
    await echo.close();
  }
  assert.ok(!proc.logLines().some((line) => isMessage('connection error outside a handler')(line)));
});

test('a cap the user set that the open-files limit cannot hold is a warning naming where it was set', async () => {
  const dir = tempDir();
  const file = dir.write('proxy.toml', '[limits]\nmax_client_connections = 500\n');
  const { proc } = await startRun(['--config', file, '--port', '0', '--admin-port', '0'], { openFilesLimit: 256 });
  try {
    const line = await proc.waitForLog((l) => String(l['msg']).includes('open-files limit'), 'the open-files line');
    assert.equal(line['level'], 'warn');
    assert.ok(String(line['msg']).startsWith(`${file}: limits.max_client_connections = 500 needs up to 1064 file descriptors`), String(line['msg']));
  } finally {
    await stopRun(proc);
    dir.cleanup();
  }
});
