// Tests the side-by-side benchmark's parts: scenario selection, the report table, the generated squid/tinyproxy
// configs, the proxy process lifecycle (against a stand-in CLI), and a real run of the direct scenarios.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BenchResult } from '../../src/bench/bench-client.js';
import { comparisonJson, renderComparisonTable } from '../../src/bench/comparison-report.js';
import { SCENARIOS, runComparison, selectScenarios, type ScenarioOutcome } from '../../src/bench/comparison.js';
import { exportEgressProxyCa, startEgressProxy } from '../../src/bench/egress-proxy-process.js';
import { startNullServerProcess } from '../../src/bench/null-server-process.js';
import { findExecutable, squidConfig, tinyproxyConfig } from '../../src/bench/system-proxies.js';
import { existsSync, readFileSync } from 'node:fs';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bench-comparison-test-'));
});
after(() => rm(dir, { recursive: true, force: true }));

function result(rps: number, errors = 0): BenchResult {
  return {
    api: '/v1/write/metric',
    bodyBytes: 1000,
    elapsedSeconds: 2,
    requests: rps * 2,
    errors,
    requestsPerSecond: rps,
    latency: { p50: 0.0012345, p90: 0.002, p99: 0.0105, mean: 0.0015 },
    bytesPosted: rps * 2 * 1000,
    statuses: { '200 OK': rps * 2 - errors },
    groups: [],
  };
}

describe('scenario selection', () => {
  it('runs every scenario in the standard order by default', () => {
    assert.deepEqual(selectScenarios().map((s) => s.name), [
      'direct-https', 'direct-http', 'egress-tunnel', 'egress-forward', 'squid-tunnel', 'squid-forward',
      'tinyproxy-tunnel', 'tinyproxy-forward', 'egress-mitm',
    ]);
  });
  it('keeps the standard order for --only and rejects unknown names', () => {
    assert.deepEqual(selectScenarios(['egress-tunnel', 'direct-https']).map((s) => s.name), ['direct-https', 'egress-tunnel']);
    assert.throws(() => selectScenarios(['direct-https', 'nginx']), /unknown scenario nginx/);
  });
  it('compares every proxied scenario with the direct run of the same protocol', () => {
    for (const s of SCENARIOS) {
      if (s.startProxy === undefined) assert.equal(s.baseline, undefined, s.name);
      else assert.equal(s.baseline, s.upstream === 'https' ? 'direct-https' : 'direct-http', s.name);
    }
  });
});

describe('comparison report', () => {
  const outcomes: ScenarioOutcome[] = [
    { name: 'direct-https', state: 'ok', result: result(4000) },
    { name: 'egress-tunnel', state: 'ok', result: result(3000, 2), baseline: 'direct-https', ratio: 0.75 },
    { name: 'squid-tunnel', state: 'skipped', reason: 'not installed' },
    { name: 'egress-mitm', state: 'error', message: 'ca export failed: unknown command "ca"' },
  ];

  it('renders an aligned table with the documented columns', () => {
    const lines = renderComparisonTable(outcomes).trimEnd().split('\n');
    assert.deepEqual(lines[0]?.split(/\s+/), ['scenario', 'req/s', 'ratio', 'p50', 'ms', 'p99', 'ms', 'errors', 'MB/s']);
    assert.match(lines[1] as string, /^-+( +-+){6}$/);
    assert.deepEqual(lines[2]?.split(/\s+/), ['direct-https', '4000', 'baseline', '1.23', '10.50', '0', '4']);
    assert.deepEqual(lines[3]?.split(/\s+/), ['egress-tunnel', '3000', '0.75', '1.23', '10.50', '2', '3']);
    assert.match(lines[4] as string, /^squid-tunnel +skipped \(not installed\)$/);
    assert.match(lines[5] as string, /^egress-mitm +error: ca export failed: unknown command "ca"$/);
    assert.equal(new Set(lines.slice(0, 4).map((l) => l.length)).size, 1, 'numeric rows are aligned');
  });

  it('gives the same facts as JSON', () => {
    const json = comparisonJson({ connections: 2, requestsPerConnection: 3, warmupRequests: 1, file: 'f', bodyBytes: 1000 },
      { cpus: 2, cpuModel: 'x', node: 'v20', platform: 'linux x64' }, outcomes) as { scenarios: Array<Record<string, unknown>> };
    assert.equal(json.scenarios[1]?.ratio, 0.75);
    assert.equal(json.scenarios[1]?.megabytesPerSecond, 3);
    assert.equal(json.scenarios[0]?.baseline, null);
    assert.deepEqual(json.scenarios[2], { name: 'squid-tunnel', state: 'skipped', reason: 'not installed' });
    assert.equal(json.scenarios[3]?.state, 'error');
  });
});

describe('generated proxy configs', () => {
  it('squid: loopback port, localhost only, CONNECT to any port, no cache, state in the temp dir', () => {
    const conf = squidConfig(3999, '/tmp/x');
    const lines = conf.split('\n');
    for (const line of ['http_port 127.0.0.1:3999', 'http_access allow localhost', 'http_access deny all', 'cache deny all',
      'cache_log /tmp/x/cache.log', 'pid_filename /tmp/x/squid.pid', 'shutdown_lifetime 0 seconds']) {
      assert.ok(lines.includes(line), line);
    }
    assert.ok(lines.indexOf('http_access allow localhost') < lines.indexOf('http_access deny all'));
    assert.doesNotMatch(conf, /SSL_ports|Safe_ports|cache_dir/);
  });

  it('tinyproxy: loopback only, no ConnectPort restriction, an unprivileged user when root', () => {
    const conf = tinyproxyConfig(8999, '/tmp/y', true);
    for (const line of ['Port 8999', 'Listen 127.0.0.1', 'Allow 127.0.0.1', 'PidFile "/tmp/y/tinyproxy.pid"', 'User nobody']) {
      assert.ok(conf.split('\n').includes(line), line);
    }
    assert.doesNotMatch(conf, /ConnectPort/);
    assert.doesNotMatch(tinyproxyConfig(8999, '/tmp/y', false), /User /);
  });

  it('finds executables on PATH and reports missing ones', () => {
    assert.ok(findExecutable('sh') !== undefined);
    assert.equal(findExecutable('no-such-proxy-binary-here'), undefined);
  });
});

describe('egress-proxy process contract (stand-in CLI)', () => {
  let fakeCli: string;
  before(async () => {
    fakeCli = join(dir, 'fake-cli.mjs');
    // Behaves like the real CLI's contract: JSON log lines on stdout, "proxy listening" with the port, SIGTERM stops
    // it; "run --fail" exits early; "ca export" prints a PEM.
    await writeFile(fakeCli, `
      import net from 'node:net';
      const [command, sub] = process.argv.slice(2);
      if (command === 'ca' && sub === 'export') {
        process.stdout.write('-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n');
      } else if (process.argv.includes('--fail')) {
        console.error('config error: bad flag --fail');
        process.exit(3);
      } else {
        const server = net.createServer((s) => s.end()).listen(0, '127.0.0.1', () => {
          console.log('not json');
          console.log(JSON.stringify({ level: 30, msg: 'config loaded' }));
          console.log(JSON.stringify({ level: 30, msg: 'proxy listening', port: server.address().port, args: process.argv.slice(2) }));
        });
        process.on('SIGTERM', () => { server.close(); process.exit(0); });
      }
    `);
  });

  it('starts it with the contract flags, reads the port from the "proxy listening" line, and stops it', async () => {
    const proxy = await startEgressProxy(['--mitm'], fakeCli);
    assert.match(proxy.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const net = await import('node:net');
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(Number(new URL(proxy.url).port), '127.0.0.1', () => {
        socket.destroy();
        resolve();
      });
      socket.on('error', reject);
    });
    await proxy.stop();
  });

  it('reports a CLI that exits before listening with its last output line', async () => {
    await assert.rejects(startEgressProxy(['--fail'], fakeCli), /egress-proxy exited \(3\) before listening: config error: bad flag --fail/);
  });

  it('exports the CA PEM, and fails clearly when the command does not exist', async () => {
    assert.match(await exportEgressProxyCa(dir, fakeCli), /^-----BEGIN CERTIFICATE-----/);
    await assert.rejects(exportEgressProxyCa(dir, join(dir, 'missing.mjs')), /^Error: ca export failed: /);
  });
});

describe('null server process', () => {
  it('starts `bench server` in a child process and hands over its URL and certificate', async () => {
    const server = await startNullServerProcess({ tls: true });
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(server.certFile !== undefined && existsSync(server.certFile));
    assert.equal(server.caPem, readFileSync(server.certFile, 'utf8'));
    const response = await fetch(`${server.url.replace('https:', 'http:')}/`).catch((err: Error) => err);
    assert.ok(response instanceof Error, 'it speaks TLS, not plain HTTP');
    await server.stop();
    assert.equal(existsSync(server.certFile), false, 'stopped with SIGTERM, it removes its certificate');
  });

  it('serves plain HTTP with tls: false', async () => {
    const server = await startNullServerProcess({ tls: false });
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(server.caPem, undefined);
      const response = await fetch(`${server.url}/v1/write/metric`, { method: 'POST', body: 'x' });
      assert.equal(response.status, 200);
    } finally {
      await server.stop();
    }
  });
});

describe('runComparison', () => {
  const body = Buffer.from('cpu,host=a usage=1 1700000000000000000\n'.repeat(100));

  it('runs the direct scenarios against fresh null servers with no errors', async () => {
    const outcomes = await runComparison({ connections: 2, requestsPerConnection: 3, body, only: ['direct-http', 'direct-https'] });
    assert.deepEqual(outcomes.map((o) => [o.name, o.state]), [['direct-https', 'ok'], ['direct-http', 'ok']]);
    for (const o of outcomes) {
      assert.ok(o.state === 'ok');
      assert.equal(o.result.requests, 6);
      assert.equal(o.result.errors, 0);
      assert.equal(o.ratio, undefined);
    }
  });

  const installed = ['squid', 'tinyproxy'].filter((name) => findExecutable(name) !== undefined);
  it('runs squid and tinyproxy scenarios when installed', { skip: installed.length === 0 && 'neither squid nor tinyproxy is installed' }, async () => {
    const only = ['direct-https', 'direct-http', ...installed.flatMap((n) => [`${n}-tunnel`, `${n}-forward`])];
    const outcomes = await runComparison({ connections: 2, requestsPerConnection: 2, body, only });
    for (const o of outcomes) {
      assert.equal(o.state, 'ok', JSON.stringify(o));
      if (o.state !== 'ok') continue;
      if (o.name === 'tinyproxy-forward') {
        // tinyproxy closes the client connection after each forwarded request without saying "Connection: close",
        // so the request that reuses it fails ("other side closed"); the first on each connection gets through.
        assert.ok((o.result.statuses['200 OK'] ?? 0) >= 2, `${o.name}: ${JSON.stringify(o.result.statuses)}`);
      } else {
        assert.deepEqual(o.result.statuses, { '200 OK': 4 }, o.name);
      }
      if (o.name.startsWith('direct-')) assert.equal(o.ratio, undefined);
      else assert.ok(o.ratio !== undefined && o.ratio > 0, o.name);
    }
  });
});
