/**
 * The open-files limit, end to end: a proxy started under `ulimit -n 256` with the default 10,000-connection cap
 * says at start that the cap does not fit and lowers it to what does (96: two descriptors per tunnel, 64 kept), and
 * with every one of those tunnels open the admin listener still answers (before, libuv reset every new connection,
 * the admin listener's included, with nothing logged). And when descriptors run out anyway (another process, the
 * system-wide ENFILE; here prlimit lowers the limit under the running proxy): one error line, a metric, no crash.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import {
  closesWithin,
  echoThrough,
  httpGet,
  isMessage,
  killAllCliProcesses,
  openConnectTunnel,
  proxiedGet,
  startEchoServer,
  startHttpOrigin,
  startRun,
  stopRun,
  tempDir,
} from './cli-harness.js';

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

test('out of descriptors anyway (the limit lowered under a running proxy, as ENFILE would): one error line, a metric, no crash; the admin listener answers once some are free', async () => {
  const origin = await startHttpOrigin();
  const { proc, proxyPort, adminPort } = await startRun(['--port', '0', '--admin-port', '0']);
  const clients: net.Socket[] = [];
  try {
    const pid = proc.child.pid!;
    const inUse = (await readdir(`/proc/${pid}/fd`)).length;
    // Room for a handful more: the connections below run out of it.
    await new Promise<void>((resolve, reject) =>
      execFile('prlimit', ['--pid', String(pid), `--nofile=${inUse + 8}:${inUse + 8}`], (err) => (err === null ? resolve() : reject(new Error(`prlimit: ${err.message}`)))),
    );
    for (let i = 0; i < 40; i++) {
      const socket = net.connect({ host: '127.0.0.1', port: proxyPort });
      socket.on('error', () => undefined);
      clients.push(socket);
      await once(socket, 'connect').catch(() => undefined);
    }
    const line = await proc.waitForLog((l) => l.level === 'error' && String(l['msg']).includes('out of file descriptors'), 'the descriptors line', 15_000);
    assert.equal(line['operation'], 'accept');
    for (const socket of clients) socket.destroy();
    // The descriptors come back as the proxy sees the closes; the admin listener then answers, with the count.
    let metrics = '';
    for (let attempt = 0; attempt < 50 && metrics === ''; attempt++) {
      metrics = await httpGet(`http://127.0.0.1:${adminPort}/metrics`, 1000).then(
        (res) => (res.status === 200 ? res.body : ''),
        () => '',
      );
      if (metrics === '') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const exhausted = /^egress_proxy_fd_exhausted_total\{operation="accept"\} (\d+)$/m.exec(metrics);
    assert.ok(exhausted && Number(exhausted[1]) >= 1, metrics.split('\n').filter((l) => l.includes('fd_exhausted')).join('\n'));
    assert.equal((await proxiedGet(proxyPort, `http://127.0.0.1:${origin.port}/`)).status, 200, 'the proxy serves again');
    const lines = proc.logLines().filter((l) => String(l['msg']).includes('out of file descriptors'));
    assert.equal(lines.length, 1, 'one line however many accepts failed (a minute apart at most)');
  } finally {
    for (const socket of clients) socket.destroy();
    await stopRun(proc);
    await origin.close();
  }
});
