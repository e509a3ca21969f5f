// `egress-proxy run` end to end: startup log lines, the admin listener, proxying, SIGTERM, and verbose access logs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyAgent, request } from 'undici';
import {
  echoThrough,
  httpGet,
  isMessage,
  killAllCliProcesses,
  openConnectTunnel,
  proxiedGet,
  spawnCli,
  startEchoServer,
  startHttpOrigin,
  startRun,
  stopRun,
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

const isAccessLine = (line: LogLine): boolean => line['log'] === 'access';

describe('egress-proxy run', { concurrency: true }, () => {
  test('starts, serves /healthz, proxies a request, and stops cleanly on SIGTERM', async () => {
    const { proc, startLine, proxyPort, adminPort } = await startRun(['--port', '0', '--admin-port', '0']);

    assert.equal(startLine.level, 'info');
    assert.ok(proxyPort > 0, `proxy port ${proxyPort}`);
    assert.equal(startLine['address'], '127.0.0.1');
    assert.equal(startLine['mitm'], false);
    assert.deepEqual(startLine['allowed_client_cidrs'], []);
    assert.equal(startLine['config_file'], null);
    assert.equal(typeof startLine['version'], 'string');
    assert.ok(adminPort !== undefined && adminPort > 0 && adminPort !== proxyPort, `admin port ${adminPort}`);
    const messages = proc.logLines().map((line) => line.msg);
    assert.ok(messages.indexOf('proxy listening') < messages.indexOf('admin listening'), messages.join(', '));

    const health = await httpGet(`http://127.0.0.1:${adminPort}/healthz`);
    assert.equal(health.status, 200);
    const ready = await httpGet(`http://127.0.0.1:${adminPort}/readyz`);
    assert.equal(ready.status, 200);

    // Through the proxy with a real client: undici, absolute-form requests (no CONNECT for http://).
    const dispatcher = new ProxyAgent({ uri: `http://127.0.0.1:${proxyPort}`, proxyTunnel: false });
    try {
      const response = await request(`http://127.0.0.1:${origin.port}/v1/write/metric`, {
        method: 'POST',
        body: 'cpu,host=a usage=1',
        dispatcher,
      });
      assert.equal(response.statusCode, 200);
      assert.deepEqual(await response.body.json(), { method: 'POST', url: '/v1/write/metric' });
    } finally {
      await dispatcher.close();
    }
    // And with node:http sending the absolute URI itself.
    const direct = await proxiedGet(proxyPort, `http://127.0.0.1:${origin.port}/v1/ntp?token=secret`);
    assert.equal(direct.status, 200);
    assert.deepEqual(JSON.parse(direct.body), { method: 'GET', url: '/v1/ntp?token=secret' });

    const result = await stopRun(proc);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.signal, null);
    const lines = proc.logLines();
    const draining = lines.find(isMessage('draining'));
    assert.equal(draining?.['signal'], 'SIGTERM');
    const stopped = lines.find(isMessage('stopped'));
    assert.ok(stopped, `no "stopped" line in:\n${result.stdout}`);
    assert.equal(stopped['forced'], false);
    // Not verbose: no access lines at all.
    assert.deepEqual(lines.filter(isAccessLine), []);
    assert.equal(result.stderr, '');
  });

  test('--verbose logs one access line per request and tunnel, without the query string; SIGINT stops it', async () => {
    const { proc, proxyPort } = await startRun(['--port', '0', '--admin-port', '0', '--verbose']);

    const response = await proxiedGet(proxyPort, `http://127.0.0.1:${origin.port}/v1/write/metric?token=secret`);
    assert.equal(response.status, 200);
    const requestLine = await proc.waitForLog((line) => isAccessLine(line) && line.msg === 'request', 'access line', 10_000);
    assert.equal(requestLine['client'], '127.0.0.1');
    assert.equal(requestLine['method'], 'GET');
    assert.equal(requestLine['target'], `http://127.0.0.1:${origin.port}/v1/write/metric`);
    assert.equal(requestLine['status'], 200);
    assert.equal(typeof requestLine['bytes_in'], 'number');
    assert.equal(typeof requestLine['bytes_out'], 'number');
    assert.ok((requestLine['bytes_out'] as number) > 0, JSON.stringify(requestLine));
    assert.equal(typeof requestLine['duration_ms'], 'number');

    const tunnel = await openConnectTunnel(proxyPort, echo.port);
    assert.equal(await echoThrough(tunnel, 'ping'), 'ping');
    tunnel.end();
    const tunnelLine = await proc.waitForLog((line) => isAccessLine(line) && line.msg === 'tunnel', 'tunnel access line', 10_000);
    assert.equal(tunnelLine['method'], 'CONNECT');
    assert.equal(tunnelLine['target'], `127.0.0.1:${echo.port}`);
    assert.equal(tunnelLine['bytes_in'], 4);
    assert.equal(tunnelLine['bytes_out'], 4);

    // SIGINT (Ctrl-C) stops it like SIGTERM.
    proc.signal('SIGINT');
    const result = await proc.waitForExit(10_000);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(proc.logLines().find(isMessage('draining'))?.['signal'], 'SIGINT');
    assert.ok(proc.logLines().some(isMessage('stopped')), result.stdout);
    const accessLines = proc.logLines().filter(isAccessLine);
    assert.equal(accessLines.length, 2, JSON.stringify(accessLines));
    assert.ok(!result.stdout.includes('secret'), `the token leaked into the log:\n${result.stdout}`);
    assert.ok(!result.stdout.includes('token='), `the query string leaked into the log:\n${result.stdout}`);
  });

  test('the listening lines (the port --port 0 chose) show at every log level but silent', async () => {
    const { proc, startLine } = await startRun(['--port', '0', '--admin-port', '0'], { env: { EGRESS_PROXY_LOG_LEVEL: 'error' } });
    assert.equal(startLine.level, 'info');
    const result = await stopRun(proc);
    assert.equal(result.code, 0, result.stderr);
    // The level still holds for everything else: no "draining" or "stopped" line.
    assert.deepEqual(proc.logLines().map((line) => line.msg), ['proxy listening', 'admin listening']);
  });

  test(
    'SIGTERM sent the moment "proxy listening" is read still drains and exits 0',
    async () => {
      const proc = spawnCli(['run', '--port', '0', '--admin-port', '0']);
      await proc.waitForLog(isMessage('proxy listening'), '"proxy listening" line');
      proc.signal('SIGTERM');
      const result = await proc.waitForExit(10_000);
      assert.equal(result.signal, null, 'killed by the signal: no handler was installed yet');
      assert.equal(result.code, 0, result.stderr);
    },
  );
});
