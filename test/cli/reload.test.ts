// Reload (SIGHUP, POST /-/reload, `egress-proxy reload`) on real processes: a valid file applies to new connections
// at once while an open tunnel and a download in flight go on; a broken file is refused with one line and the old
// config keeps serving; settings that need a restart are named; with workers the primary validates once and every
// worker (a restarted one too) serves the new config; the reload series count each reload once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { sample } from '../helpers/metrics-text.js';
import { hashPassword } from '../../src/auth/password-hash.js';
import {
  echoThrough,
  httpGet,
  isMessage,
  killAllCliProcesses,
  openConnectTunnel,
  proxiedGet,
  runCli,
  startEchoServer,
  startHttpOrigin,
  startRun,
  stderrLines,
  stopRun,
  tempDir,
  type CliProcess,
  type LocalServer,
  type LogLine,
} from './cli-harness.js';

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

const LOOPBACK_ONLY = '[proxy]\nallowed_client_cidrs = ["127.0.0.0/8"]\n';
const ELSEWHERE_ONLY = '[proxy]\nallowed_client_cidrs = ["10.0.0.0/8"]\n';
const BROKEN = '[proxy]\nallowed_client_cidrs = ["10.0.0.0/33"]\n';

const isReloaded = (line: LogLine): boolean => line.msg?.startsWith('configuration reloaded') === true;
const isRefused = (line: LogLine): boolean => line.msg?.startsWith('reload refused') === true;

/** Waits until `count` lines match `predicate` (reloads log one line each), and returns the last. */
async function nthLog(proc: CliProcess, predicate: (line: LogLine) => boolean, count: number, description: string): Promise<LogLine> {
  await proc.waitForLog(() => proc.logLines().filter(predicate).length >= count, description, 20_000);
  return proc.logLines().filter(predicate)[count - 1]!;
}

/**
 * An origin whose one response is sent in two halves: the first at once, the second when `finish()` is called. A
 * download is therefore in flight, for certain, across whatever the test does in between.
 */
async function startHeldOrigin(): Promise<{ port: number; finish(): void; close(): Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const half = 'x'.repeat(64 * 1024);
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'Content-Length': String(half.length * 2) });
    res.write(half);
    void released.then(() => res.end(half));
  });
  server.listen({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    finish: release,
    close: async () => {
      release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Starts an absolute-form GET through the proxy; resolves once the response head and first bytes are in. */
async function startDownload(proxyPort: number, url: string): Promise<{ status: number; body: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxyPort, path: url, headers: { Host: new URL(url).host }, agent: false }, (res) => {
      let bytes = 0;
      const body = new Promise<number>((done, failed) => {
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => done(bytes));
        res.on('error', failed);
        res.on('aborted', () => failed(new Error(`download cut after ${bytes} bytes`)));
      });
      body.catch(() => undefined);
      res.once('data', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function metricsOf(adminPort: number): Promise<string> {
  return (await httpGet(`http://127.0.0.1:${adminPort}/metrics`)).body;
}

/** New connections, enough to reach every worker of two (round-robin), all answered `status`. */
async function newConnectionsAnswer(proxyPort: number, status: number, path: string): Promise<void> {
  for (let i = 0; i < 4; i++) {
    const response = await proxiedGet(proxyPort, `http://127.0.0.1:${origin.port}/${path}/${i}`);
    assert.equal(response.status, status, `new connection ${i} for /${path}`);
  }
}

/**
 * The scenario both process models must pass: broken file refused (old config serving), valid file applied to new
 * connections while a tunnel and a download opened before go on, restart-only settings named.
 */
async function reloadScenario(
  proc: CliProcess,
  proxyPort: number,
  adminPort: number,
  write: (text: string) => void,
  expect: { note: string; restartNeeded: string[] },
): Promise<void> {
  const hashAtStart = proc.logLines().find(isMessage('proxy listening'))?.['config_hash'];
  assert.match(String(hashAtStart), /^[0-9a-f]{16}$/);
  let metrics = await metricsOf(adminPort);
  assert.equal(sample(metrics, 'egress_proxy_config_reloads_total{result="failure"}'), 0);
  assert.equal(sample(metrics, 'egress_proxy_config_last_reload_successful'), 1, 'the start counts as a successful load');
  assert.equal(sample(metrics, `egress_proxy_config_info{hash="${String(hashAtStart)}"}`), 1);

  // A broken file: one line naming the file and the key; nothing changes.
  write(BROKEN);
  const linesBefore = proc.logLines().length;
  proc.signal('SIGHUP');
  const refused = await nthLog(proc, isRefused, 1, 'the refusal line');
  assert.equal(refused.level, 'error');
  assert.match(String(refused.msg), /^reload refused, the running configuration stays: config error: .*\.toml: proxy\.allowed_client_cidrs\[0\]: "10\.0\.0\.0\/33" is not/);
  const newLines = proc.logLines().slice(linesBefore).filter((line) => line['log'] !== 'access');
  assert.deepEqual(newLines.map((line) => line.msg), [refused.msg], `one line for a refused reload (${expect.note})`);
  await newConnectionsAnswer(proxyPort, 200, 'after-broken-reload');
  metrics = await metricsOf(adminPort);
  assert.equal(sample(metrics, 'egress_proxy_config_reloads_total{result="failure"}'), 1, 'counted once, not once per worker');
  assert.equal(sample(metrics, 'egress_proxy_config_reloads_total{result="success"}'), 0);
  assert.equal(sample(metrics, 'egress_proxy_config_last_reload_successful'), 0, 'what EgressProxyConfigReloadFailed alerts on');
  assert.equal(sample(metrics, `egress_proxy_config_info{hash="${String(hashAtStart)}"}`), 1, 'the running config is still the first');

  // A valid change, with a tunnel and a download in flight.
  const held = await startHeldOrigin();
  const tunnel = await openConnectTunnel(proxyPort, echo.port);
  try {
    assert.equal(await echoThrough(tunnel, 'before'), 'before');
    const download = await startDownload(proxyPort, `http://127.0.0.1:${held.port}/big`);
    assert.equal(download.status, 200);

    write(ELSEWHERE_ONLY);
    const startOfReload = Date.now() / 1000;
    proc.signal('SIGHUP');
    const reloaded = await nthLog(proc, isReloaded, 1, 'the reload line');
    assert.equal(reloaded.level, 'info');
    assert.equal(reloaded['trigger'], 'SIGHUP');
    assert.notEqual(reloaded['hash'], hashAtStart);

    await newConnectionsAnswer(proxyPort, 403, 'after-reload');
    assert.equal(await echoThrough(tunnel, 'after'), 'after', 'the tunnel opened before the reload still relays');
    held.finish();
    assert.equal(await download.body, 128 * 1024, 'the download in flight completed');

    metrics = await metricsOf(adminPort);
    assert.equal(sample(metrics, 'egress_proxy_config_reloads_total{result="success"}'), 1);
    assert.equal(sample(metrics, 'egress_proxy_config_last_reload_successful'), 1, 'the alert clears once a reload succeeds');
    assert.equal(sample(metrics, `egress_proxy_config_info{hash="${String(reloaded['hash'])}"}`), 1);
    assert.equal(sample(metrics, `egress_proxy_config_info{hash="${String(hashAtStart)}"}`), undefined, 'the old hash is gone');
    const lastSuccess = sample(metrics, 'egress_proxy_config_last_reload_success_timestamp_seconds')!;
    assert.ok(lastSuccess >= startOfReload - 1 && lastSuccess <= Date.now() / 1000 + 1, `last success ${lastSuccess}`);
    // The dashboard shows the config in force, not the start's.
    const dashboard = JSON.parse((await httpGet(`http://127.0.0.1:${adminPort}/dashboard.json`)).body) as { info: { config: Record<string, unknown> } };
    assert.deepEqual(dashboard.info.config['allowed client CIDRs'], ['10.0.0.0/8']);
    assert.equal(dashboard.info.config['config hash'], reloaded['hash']);
  } finally {
    tunnel.destroy();
    await held.close();
  }

  // Settings a reload cannot apply: named, and the rest still applied (loopback allowed again).
  write(`${LOOPBACK_ONLY}workers = 3\n[limits]\nmax_client_connections = 5\n`);
  proc.signal('SIGHUP');
  const partly = await nthLog(proc, isReloaded, 2, 'the second reload line');
  assert.equal(partly.level, 'warn');
  assert.deepEqual(partly['restart_needed'], expect.restartNeeded);
  assert.equal(partly.msg, `configuration reloaded; changed but not applied until a restart: ${expect.restartNeeded.join(', ')}`);
  await newConnectionsAnswer(proxyPort, 200, 'after-second-reload');
}

describe('reload', { concurrency: true }, () => {
  test('SIGHUP, one process: broken file refused, new allow-list for new connections, tunnel and download survive', async () => {
    const files = tempDir();
    const file = files.write('proxy.toml', LOOPBACK_ONLY);
    try {
      const { proc, proxyPort, adminPort } = await startRun(['--config', file, '--port', '0', '--admin-port', '0']);
      await reloadScenario(proc, proxyPort, adminPort!, (text) => files.write('proxy.toml', text), {
        note: 'one process',
        restartNeeded: ['proxy.workers', 'limits.max_client_connections'],
      });
      const result = await stopRun(proc);
      assert.equal(result.code, 0, result.stderr);
    } finally {
      files.cleanup();
    }
  });

  test('SIGHUP, two workers: validated once, applied in both, and a restarted worker starts on the reloaded config', async () => {
    const files = tempDir();
    const file = files.write('proxy.toml', LOOPBACK_ONLY);
    try {
      const { proc, proxyPort, adminPort } = await startRun(['--config', file, '--port', '0', '--admin-port', '0', '--workers', '2']);
      await reloadScenario(proc, proxyPort, adminPort!, (text) => files.write('proxy.toml', text), {
        note: 'two workers',
        // --workers 2 on the command line still wins over the file's workers = 3: flags keep their precedence.
        restartNeeded: ['limits.max_client_connections'],
      });

      files.write('proxy.toml', ELSEWHERE_ONLY);
      proc.signal('SIGHUP');
      await nthLog(proc, isReloaded, 3, 'the third reload line');
      const victim = proc.logLines().find(isMessage('worker listening'))!;
      process.kill(victim['pid'] as number, 'SIGKILL');
      await proc.waitForLog(isMessage('worker restarted'), 'the restart line', 20_000);
      await newConnectionsAnswer(proxyPort, 403, 'after-restart');
      const result = await stopRun(proc);
      assert.equal(result.code, 0, result.stderr);
    } finally {
      files.cleanup();
    }
  });

  test('egress-proxy reload: applied (exit 0), refused (exit 1, one line), and POST /-/reload refuses browsers and GET', async () => {
    const files = tempDir();
    const file = files.write('proxy.toml', LOOPBACK_ONLY);
    try {
      const { proc, proxyPort, adminPort } = await startRun(['--config', file, '--port', '0', '--admin-port', '0']);
      const adminUrl = `http://127.0.0.1:${adminPort}`;

      files.write('proxy.toml', ELSEWHERE_ONLY);
      // Found as `run` finds it: the same file, and the flag that set its port.
      const applied = await runCli(['reload', '--config', file, '--admin-port', String(adminPort)]);
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, /^reloaded: config hash [0-9a-f]{16}\n$/);
      assert.equal((await nthLog(proc, isReloaded, 1, 'the reload line'))['trigger'], 'POST /-/reload');
      await newConnectionsAnswer(proxyPort, 403, 'after-command');

      files.write('proxy.toml', BROKEN);
      const refused = await runCli(['reload', '--admin-url', adminUrl]);
      assert.equal(refused.code, 1);
      assert.deepEqual(stderrLines(refused), [
        `egress-proxy: reload refused, the running configuration stays: config error: ${file}: proxy.allowed_client_cidrs[0]: "10.0.0.0/33" is not an IPv4/IPv6 address or CIDR: the prefix length must be 0 to 32 for IPv4`,
      ]);
      await nthLog(proc, isRefused, 1, 'the refusal line');
      // Resolved from the file, the command sees the problem itself and does not ask the proxy.
      const checked = await runCli(['reload', '--config', file, '--admin-port', String(adminPort)]);
      assert.equal(checked.code, 1);
      assert.match(checked.stderr, /^egress-proxy: .*proxy\.allowed_client_cidrs\[0\].*; the running proxy was not asked to reload\n$/);

      const fromBrowser = await fetch(`${adminUrl}/-/reload`, { method: 'POST', headers: { Origin: 'http://example.test' } });
      assert.equal(fromBrowser.status, 403);
      assert.equal((await httpGet(`${adminUrl}/-/reload`)).status, 405);
      const metrics = await metricsOf(adminPort!);
      assert.equal(sample(metrics, 'egress_proxy_config_reloads_total{result="success"}'), 1);
      assert.equal(sample(metrics, 'egress_proxy_config_reloads_total{result="failure"}'), 1);

      const unreachable = await runCli(['reload', '--admin-url', 'http://127.0.0.1:1']);
      assert.equal(unreachable.code, 1);
      assert.match(unreachable.stderr, /^egress-proxy: cannot reach the admin listener at http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/);
      const result = await stopRun(proc);
      assert.equal(result.code, 0, result.stderr);
    } finally {
      files.cleanup();
    }
  });

  test('with admin.users, a reload needs the credentials /metrics needs: --user and EGRESS_PROXY_ADMIN_PASSWORD', async () => {
    const files = tempDir();
    // Cheap scrypt parameters: the test is about who may reload, not about the hash's cost.
    const users = `[admin]\nusers = [{ name = "ops", password_hash = "${await hashPassword('s3cret pass', { logN: 4, r: 8, p: 1 })}" }]\n`;
    const file = files.write('proxy.toml', `${LOOPBACK_ONLY}${users}`);
    try {
      const { proc, adminPort } = await startRun(['--config', file, '--port', '0', '--admin-port', '0']);
      const adminUrl = `http://127.0.0.1:${adminPort}`;
      assert.equal((await fetch(`${adminUrl}/-/reload`, { method: 'POST' })).status, 401);

      const anonymous = await runCli(['reload', '--admin-url', adminUrl]);
      assert.equal(anonymous.code, 1);
      assert.deepEqual(stderrLines(anonymous), [
        `egress-proxy: the admin listener at ${adminUrl} needs credentials: --user NAME, with the password in EGRESS_PROXY_ADMIN_PASSWORD`,
      ]);
      const wrong = await runCli(['reload', '--admin-url', adminUrl, '--user', 'ops'], { env: { EGRESS_PROXY_ADMIN_PASSWORD: 'guess' } });
      assert.equal(wrong.code, 1);
      assert.equal(proc.logLines().filter(isReloaded).length, 0, 'no reload without the right credentials');

      const allowed = await runCli(['reload', '--admin-url', adminUrl, '--user', 'ops'], { env: { EGRESS_PROXY_ADMIN_PASSWORD: 's3cret pass' } });
      assert.equal(allowed.code, 0, allowed.stderr);
      await nthLog(proc, isReloaded, 1, 'the reload line');
      const result = await stopRun(proc);
      assert.equal(result.code, 0, result.stderr);
    } finally {
      files.cleanup();
    }
  });
});
