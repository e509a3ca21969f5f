// Tests the side-by-side benchmark's parts: scenario selection, the report table and JSON, the generated
// squid/tinyproxy configs, the proxy process lifecycle (against a stand-in CLI), and real runs of the direct
// scenarios in interleaved rounds.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BenchResult } from '../../../src/bench/bench-client.js';
import { comparisonJson, describeWorkload, renderComparisonTable, renderWorkloadReport } from '../comparison-report.js';
import { runComparison, selectScenarios } from '../comparison.js';
import { SCENARIOS } from '../scenarios.js';
import { summariseRounds, type ScenarioSummary } from '../rounds.js';
import { exportEgressProxyCa, startEgressProxy } from '../egress-proxy-process.js';
import { startNullServerProcess } from '../null-server-process.js';
import { processTreeCpuSeconds } from '../process-tree-cpu.js';
import { findExecutable, squidConfig, tinyproxyConfig } from '../system-proxies.js';
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
      'direct-https', 'direct-http', 'egress-tunnel', 'egress-forward', 'egress-forward-dashboard', 'egress-forward-2w', 'squid-tunnel', 'squid-forward',
      'tinyproxy-tunnel', 'tinyproxy-forward', 'egress-mitm', 'floor-tunnel', 'floor-forward', 'floor-mitm',
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
  // Two rounds: direct-https 4000 then 5000 req/s; egress-tunnel 3000 (2 errors) then 2000: ratios 0.75 and 0.4,
  // and its proxy used 0.3 s then 0.2 s of CPU for 6,000 then 4,000 requests: 50 µs per request pooled; client and
  // server 0.6 s + 0.4 s: 100 µs. Direct: client and server 0.4 s for 8,000 requests, 50 µs.
  const summaries: ScenarioSummary[] = summariseRounds([
    {
      name: 'direct-https',
      rounds: [
        { round: 1, state: 'ok', result: result(4000), clientServerCpuSeconds: 0.4 },
        { round: 2, state: 'ok', result: result(5000) },
      ],
    },
    {
      name: 'egress-tunnel',
      baseline: 'direct-https',
      rounds: [
        { round: 1, state: 'ok', result: result(3000, 2), proxyCpuSeconds: 0.3, clientServerCpuSeconds: 0.6 },
        { round: 2, state: 'ok', result: result(2000), proxyCpuSeconds: 0.2, clientServerCpuSeconds: 0.4 },
      ],
    },
    { name: 'squid-tunnel', baseline: 'direct-https', skipped: 'not installed', rounds: [] },
    {
      name: 'egress-mitm',
      baseline: 'direct-https',
      rounds: [{ round: 1, state: 'error', message: 'ca export failed: unknown command "ca"' }, { round: 2, state: 'error', message: 'x' }],
    },
    {
      name: 'egress-forward',
      baseline: 'direct-http',
      rounds: [{ round: 1, state: 'ok', result: result(1000) }, { round: 2, state: 'error', message: 'proxy exited (1)' }],
    },
  ]);

  it('renders an aligned table of medians with the documented columns, and says what the numbers are', () => {
    const lines = renderComparisonTable(summaries, 2).trimEnd().split('\n');
    assert.deepEqual(lines[0]?.split(/\s+/), ['scenario', 'req/s', 'min-max', 'ratio', 'p50', 'ms', 'p99', 'ms', 'cpu', 'µs/req', 'c+s', 'µs/req', 'errors', 'MB/s']);
    assert.match(lines[1] as string, /^-+( +-+){9}$/);
    assert.deepEqual(lines[2]?.split(/\s+/), ['direct-https', '4500', '4000-5000', 'baseline', '1.23', '10.50', '-', '50.0', '0', '5']);
    const ratio = ((0.75 + 0.4) / 2).toFixed(2); // the median of the two rounds' ratios, whatever toFixed does with .575
    assert.deepEqual(lines[3]?.split(/\s+/), ['egress-tunnel', '2500', '2000-3000', ratio, '1.23', '10.50', '50.0', '100.0', '2', '3']);
    assert.match(lines[4] as string, /^squid-tunnel +skipped \(not installed\)$/);
    assert.match(lines[5] as string, /^egress-mitm +error: ca export failed: unknown command "ca" \(every round failed\)$/);
    assert.deepEqual(lines[6]?.split(/\s+/), ['egress-forward', '1000', '1000-1000', '-', '1.23', '10.50', '-', '-', '0', '1'], 'no direct-http: no ratio');
    assert.equal(new Set([0, 1, 2, 3, 6].map((i) => lines[i]?.length)).size, 1, 'numeric rows are aligned');
    assert.match(lines[7] as string, /^req\/s, p50, p99, MB\/s: medians over 2 interleaved rounds; min-max: the req\/s range over rounds; errors: summed over rounds$/);
    assert.match(lines[8] as string, /^ratio: median over rounds of \(the round's req\/s \/ the same round's req\/s of direct-https or direct-http\)$/);
    assert.match(lines[9] as string, /^cpu µs\/req: the proxy's CPU \(user\+sys of its whole process tree, from \/proc\) over the timed requests of all rounds \/ their number$/);
    assert.match(lines[10] as string, /^c\+s µs\/req: the same for the bench client and the null server together/);
    assert.equal(lines[11], 'egress-forward: round 2 failed: proxy exited (1)');
    assert.equal(lines.length, 12);
  });

  const workload = { name: '170KB', connections: 2, requestsPerConnection: 3, warmupRequests: 1, file: 'f.data', bodyBytes: 172787, rounds: 2 };

  it('prints a workload as its description, its table and its targets line', () => {
    assert.equal(describeWorkload(workload), 'workload 170KB: 2 workers x 3 POSTs of f.data (172,787 bytes), after 1 untimed POSTs per worker');
    const text = renderWorkloadReport({ workload, summaries, targets: [{ met: false, text: 'tunnel 0.97 x best peer >= 1.00 MISSED (squid-tunnel)' }] });
    const lines = text.trimEnd().split('\n');
    assert.equal(lines[0], describeWorkload(workload));
    assert.equal(lines[1], '');
    assert.match(lines[2] as string, /^scenario /);
    assert.equal(lines.at(-1), 'targets: tunnel 0.97 x best peer >= 1.00 MISSED (squid-tunnel)');
  });

  it('gives the same facts as JSON, with every round', () => {
    const targets = [{ met: undefined, text: 'mitm n/a (egress-mitm failed) >= 0.60' }, { met: false, text: 'tunnel 0.97 x best peer >= 1.00 MISSED (squid-tunnel)' }];
    const machine = { cpus: 2, cpuModel: 'x', node: 'v20', platform: 'linux x64' };
    const json = comparisonJson(machine, 2, [{ workload, summaries, targets }]) as {
      rounds: number;
      workloads: Array<{ workload: unknown; targets: unknown; scenarios: Array<Record<string, unknown>> }>;
    };
    assert.equal(json.rounds, 2);
    assert.deepEqual(json.workloads[0]?.targets, [{ met: null, text: targets[0]?.text }, targets[1]], 'n/a is met: null');
    assert.deepEqual(json.workloads[0]?.workload, workload);
    const [direct, tunnel, squid, mitm, forward] = json.workloads[0]?.scenarios ?? [];
    assert.equal(direct?.baseline, null);
    assert.equal(direct?.ratio, null);
    assert.equal(tunnel?.ratio, (0.75 + 0.4) / 2);
    assert.deepEqual(tunnel?.requestsPerSecond, { median: 2500, min: 2000, max: 3000 });
    assert.equal(tunnel?.megabytesPerSecond, 2.5);
    assert.equal(tunnel?.errors, 2);
    assert.equal(tunnel?.proxyCpuMicrosPerRequest, 50);
    assert.equal(direct?.proxyCpuMicrosPerRequest, null);
    assert.ok(Math.abs((tunnel?.clientServerCpuMicrosPerRequest as number) - 100) < 1e-9);
    assert.ok(Math.abs((direct?.clientServerCpuMicrosPerRequest as number) - 50) < 1e-9, 'only the round that measured it');
    assert.equal(forward?.clientServerCpuMicrosPerRequest, null);
    const rounds = tunnel?.rounds as Array<Record<string, unknown>>;
    assert.deepEqual(rounds.map((r) => [r.round, r.state, r.ratio, r.requestsPerSecond, r.megabytesPerSecond, r.proxyCpuSeconds, r.clientServerCpuSeconds]), [
      [1, 'ok', 0.75, 3000, 3, 0.3, 0.6],
      [2, 'ok', 0.4, 2000, 2, 0.2, 0.4],
    ]);
    assert.deepEqual(squid, { name: 'squid-tunnel', state: 'skipped', reason: 'not installed' });
    assert.equal(mitm?.state, 'error');
    assert.equal((mitm?.rounds as unknown[]).length, 2);
    assert.deepEqual((forward?.rounds as Array<Record<string, unknown>>)[1], { round: 2, state: 'error', message: 'proxy exited (1)' });
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
    assert.ok(proxy.pid !== undefined, 'its pid, the root of the process tree whose CPU the bench reads');
    if (existsSync('/proc/self/stat')) assert.ok((await processTreeCpuSeconds(proxy.pid)) !== undefined);
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

  it('runs the direct scenarios in interleaved rounds, each against one null server kept across rounds', async () => {
    const started: string[] = [];
    const processesStarted: string[] = [];
    const summaries = await runComparison({
      connections: 2,
      requestsPerConnection: 3,
      body,
      rounds: 2,
      only: ['direct-http', 'direct-https'],
      onScenarioStart: (scenario, round, rounds) => started.push(`${round}/${rounds} ${scenario.name}`),
      onProcessesStarted: (scenario) => processesStarted.push(scenario.name),
    });
    assert.deepEqual(started, ['1/2 direct-https', '1/2 direct-http', '2/2 direct-https', '2/2 direct-http']);
    assert.deepEqual(processesStarted, ['direct-https', 'direct-http']);
    assert.deepEqual(summaries.map((s) => [s.name, s.state]), [['direct-https', 'ok'], ['direct-http', 'ok']]);
    for (const s of summaries) {
      assert.ok(s.state === 'ok');
      assert.deepEqual(s.rounds.map((r) => [r.round, r.state]), [[1, 'ok'], [2, 'ok']]);
      assert.equal(s.stats.requests, 12);
      assert.equal(s.stats.errors, 0);
      assert.equal(s.stats.ratio, undefined);
    }
  });

  it('with freshProcesses, starts a new null server for every run', async () => {
    const processesStarted: string[] = [];
    const summaries = await runComparison({
      connections: 2,
      requestsPerConnection: 3,
      body,
      rounds: 2,
      only: ['direct-http'],
      freshProcesses: true,
      onProcessesStarted: (scenario) => processesStarted.push(scenario.name),
    });
    assert.deepEqual(processesStarted, ['direct-http', 'direct-http']);
    assert.equal(summaries[0]?.state, 'ok');
  });

  const installed = ['squid', 'tinyproxy'].filter((name) => findExecutable(name) !== undefined);
  it('runs squid and tinyproxy scenarios when installed', { skip: installed.length === 0 && 'neither squid nor tinyproxy is installed' }, async () => {
    const only = ['direct-https', 'direct-http', ...installed.flatMap((n) => [`${n}-tunnel`, `${n}-forward`])];
    const summaries = await runComparison({ connections: 2, requestsPerConnection: 2, body, only });
    for (const s of summaries) {
      assert.equal(s.state, 'ok', JSON.stringify(s));
      if (s.state !== 'ok') continue;
      const round = s.rounds[0];
      assert.ok(round?.state === 'ok', s.name);
      if (s.name === 'tinyproxy-forward') {
        // tinyproxy closes the client connection after each forwarded request without saying "Connection: close",
        // so the request that reuses it fails ("other side closed"); the first on each connection gets through.
        assert.ok((round.result.statuses['200 OK'] ?? 0) >= 2, `${s.name}: ${JSON.stringify(round.result.statuses)}`);
      } else {
        assert.deepEqual(round.result.statuses, { '200 OK': 4 }, s.name);
      }
      if (s.name.startsWith('direct-')) {
        assert.equal(s.stats.ratio, undefined);
        assert.equal(s.stats.proxyCpuMicrosPerRequest, undefined, 'no proxy, no proxy CPU');
      } else {
        assert.ok(s.stats.ratio !== undefined && s.stats.ratio > 0, s.name);
        if (existsSync('/proc/self/stat')) assert.ok(s.stats.proxyCpuMicrosPerRequest !== undefined, `${s.name}: its proxy's CPU was read`);
      }
    }
  });
});
