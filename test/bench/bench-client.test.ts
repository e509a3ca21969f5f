// Tests `bench client` end to end on real sockets: against the null server over http and https, through a small
// CONNECT/absolute-URI test proxy, and against targets that fail.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runBenchClient } from '../../src/bench/bench-client.js';
import { runBenchCommand } from '../../src/bench/bench-command.js';
import { startNullServer, type NullServer } from '../../src/bench/null-server.js';
import { defaultSampleDataPath } from '../../src/bench/package-root.js';
import { captureIo, parsePrometheusText } from './bench-test-helpers.js';
import { statSync } from 'node:fs';

const API = '/v1/write/metric';
const SAMPLE_BYTES = statSync(defaultSampleDataPath()).size;

let dir: string;
let smallFile: string;
const SMALL_BODY = 'cpu,host=a usage=1 1700000000000000000\n'.repeat(50);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bench-client-test-'));
  smallFile = join(dir, 'small.data');
  await writeFile(smallFile, SMALL_BODY);
});
after(() => rm(dir, { recursive: true, force: true }));

async function bench(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo();
  const code = await runBenchCommand(['client', ...argv], io);
  return { code, out: io.out(), err: io.err() };
}

function metricsOf(out: string) {
  const [first, ...rest] = out.split('\n');
  assert.equal(first, 'Benchmark metrics:');
  return parsePrometheusText(rest.join('\n'));
}

/** A free loopback port nobody listens on (briefly bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('bench client against the plain-HTTP null server', () => {
  let server: NullServer;
  before(async () => {
    server = await startNullServer({ tls: false });
  });
  after(() => server.close());

  it("posts the default sample file c×r times over c keep-alive connections and prints the reference's metrics", async () => {
    const before = { ...server.stats };
    const { code, out, err } = await bench(['-host', `${server.url}${API}`, '-c', '3', '-r', '4']);
    assert.equal(err, '');
    assert.equal(code, 0);
    const m = metricsOf(out);
    assert.equal(m.type.get('api_elapsed_seconds'), 'gauge');
    assert.equal(m.type.get('api_latency_seconds'), 'summary');
    assert.equal(m.type.get('api_post_bytes_total'), 'counter');
    assert.equal(m.help.get('api_latency_seconds'), 'Proxied API latency');
    const labels = { api: API, status: '200 OK' };
    assert.equal(m.get('api_latency_seconds_count', labels), 12);
    assert.equal(server.stats.writes - before.writes, 12, 'the server answered every counted request');
    assert.equal(server.stats.connections - before.connections, 3, 'one connection per worker, kept alive');
    assert.equal(m.get('api_post_bytes_total', labels), 12 * SAMPLE_BYTES);
    for (const quantile of ['0.5', '0.9', '0.99']) {
      const value = m.get('api_latency_seconds', { ...labels, quantile });
      assert.ok(value > 0 && value < 5, `quantile ${quantile} = ${value}`);
    }
    const elapsed = m.get('api_elapsed_seconds');
    assert.ok(elapsed > 0 && elapsed < 30);
    assert.ok(m.get('api_latency_seconds_sum', labels) >= m.get('api_latency_seconds', { ...labels, quantile: '0.5' }));
  });

  it('prints one JSON object with --json', async () => {
    const { code, out } = await bench([`--host=${server.url}${API}`, '--c', '2', '--r', '3', '--f', smallFile, '--json']);
    assert.equal(code, 0);
    assert.equal(out.trim().split('\n').length, 1);
    const summary = JSON.parse(out) as Record<string, unknown>;
    assert.deepEqual(Object.keys(summary).sort(), [
      'bytesPosted', 'elapsedSeconds', 'errors', 'latency', 'requests', 'requestsPerSecond', 'statuses',
    ]);
    assert.equal(summary.requests, 6);
    assert.equal(summary.errors, 0);
    assert.equal(summary.bytesPosted, 6 * Buffer.byteLength(SMALL_BODY));
    assert.deepEqual(summary.statuses, { '200 OK': 6 });
    const latency = summary.latency as { p50: number; p90: number; p99: number; mean: number };
    assert.ok(latency.p50 > 0 && latency.p50 <= latency.p90 && latency.p90 <= latency.p99);
    assert.ok((summary.requestsPerSecond as number) > 0);
  });

  it('calls onTimedPhase after the warm-up and its end before the connections close: around exactly the timed requests', async () => {
    const before = server.stats.writes;
    const seen: string[] = [];
    const result = await runBenchClient({
      target: `${server.url}${API}`,
      connections: 2,
      requestsPerConnection: 3,
      warmupRequests: 2,
      body: Buffer.from(SMALL_BODY),
      onTimedPhase: async () => {
        seen.push(`start after ${server.stats.writes - before} answers, ${server.stats.connections} connections`);
        await new Promise((resolve) => setTimeout(resolve, 500)); // not part of the timed run
        return async () => {
          seen.push(`end after ${server.stats.writes - before} answers`);
          await new Promise((resolve) => setTimeout(resolve, 500));
        };
      },
    });
    const connections = server.stats.connections;
    assert.deepEqual(seen, [`start after 4 answers, ${connections} connections`, 'end after 10 answers']);
    assert.equal(result.requests, 6);
    assert.ok(result.elapsedSeconds < 0.5, `the hooks' time is not in the timed run (${result.elapsedSeconds} s)`);
  });

  it('labels non-2xx answers with their status line and exits 1', async () => {
    const { code, out, err } = await bench(['-host', `${server.url}/not/a/write/path`, '-c', '2', '-r', '2', '-f', smallFile]);
    assert.equal(code, 1);
    const m = metricsOf(out);
    assert.equal(m.get('api_latency_seconds_count', { api: '/not/a/write/path', status: '404 Not Found' }), 4);
    assert.equal(m.get('api_post_bytes_total', { api: '/not/a/write/path', status: '404 Not Found' }), 0);
    assert.equal(err, 'egress-proxy bench client: 4 of 4 requests failed:\n  4  404 Not Found\n');
  });

  it('prints progress to stderr with --progress on runs that outlast the first report', async () => {
    const io = captureIo();
    // A throttled target: each answer waits 400 ms, so 1 worker × 9 requests takes ~3.6 s, past the 3 s mark.
    const slow = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => setTimeout(() => res.end(), 400));
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const port = (slow.address() as net.AddressInfo).port;
    try {
      const code = await runBenchCommand(['client', '-host', `http://127.0.0.1:${port}${API}`, '-r', '9', '-f', smallFile, '-progress'], io);
      assert.equal(code, 0);
      assert.match(io.err(), /^\d+\/9 requests, \d+ req\/s\n/);
    } finally {
      slow.closeAllConnections();
      await new Promise<void>((resolve) => slow.close(() => resolve()));
    }
  });
});

describe('bench client against the HTTPS null server', () => {
  let server: NullServer;
  let caFile: string;
  before(async () => {
    server = await startNullServer();
    assert.ok(server.caPem !== undefined);
    caFile = join(dir, 'null-ca.pem');
    await writeFile(caFile, server.caPem);
  });
  after(() => server.close());

  it('verifies the server against --ca and keeps one TLS connection per worker', async () => {
    const before = { ...server.stats };
    const { code, out } = await bench(['-host', `${server.url}${API}`, '-c', '2', '-r', '5', '-f', smallFile, '--ca', caFile]);
    assert.equal(code, 0);
    const m = metricsOf(out);
    assert.equal(m.get('api_latency_seconds_count', { api: API, status: '200 OK' }), 10);
    assert.equal(server.stats.writes - before.writes, 10);
    assert.equal(server.stats.connections - before.connections, 2);
  });

  it('fails every request when the certificate is not trusted', async () => {
    const { code, out, err } = await bench(['-host', `${server.url}${API}`, '-c', '1', '-r', '2', '-f', smallFile, '--json']);
    assert.equal(code, 1);
    const summary = JSON.parse(out) as { errors: number; statuses: Record<string, number>; bytesPosted: number };
    assert.equal(summary.errors, 2);
    assert.equal(summary.bytesPosted, 0);
    const [status] = Object.keys(summary.statuses);
    assert.match(status ?? '', /certificate/i);
    // Whatever the output format, the failure is said on stderr, with its count.
    assert.deepEqual(err.split('\n'), ['egress-proxy bench client: 2 of 2 requests failed:', `  2  ${status}`, '']);
  });

  it('skips verification with --insecure', async () => {
    const { code, out } = await bench(['-host', `${server.url}${API}`, '-c', '2', '-r', '2', '-f', smallFile, '--insecure', '--json']);
    assert.equal(code, 0);
    assert.deepEqual((JSON.parse(out) as { statuses: unknown }).statuses, { '200 OK': 4 });
  });
});

describe('bench client failures', () => {
  it('records the error message as the status of requests to an unreachable target, counts them on stderr and exits 1', async () => {
    const port = await closedPort();
    const { code, out, err } = await bench(['-host', `http://127.0.0.1:${port}${API}`, '-c', '2', '-r', '3', '-f', smallFile]);
    assert.equal(code, 1);
    assert.deepEqual(err.split('\n'), [
      'egress-proxy bench client: 6 of 6 requests failed:',
      `  6  connect ECONNREFUSED 127.0.0.1:${port}`,
      '',
    ]);
    const m = metricsOf(out);
    const statuses = new Set(m.samples.filter((s) => s.name === 'api_latency_seconds_count').map((s) => s.labels.status));
    assert.equal(statuses.size, 1);
    const [status] = [...statuses];
    assert.match(status ?? '', /ECONNREFUSED/);
    assert.equal(m.get('api_latency_seconds_count', { api: API, status: status as string }), 6);
    // No server took these bytes: none are counted.
    assert.equal(m.get('api_post_bytes_total', { api: API, status: status as string }), 0);
  });

  it('gives up on a request after --timeout seconds', async () => {
    const silent = http.createServer((req) => req.resume());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const started = Date.now();
      const { code, out } = await bench(['-host', `http://127.0.0.1:${port}${API}`, '-f', smallFile, '-timeout', '0.3', '-json']);
      assert.equal(code, 1);
      assert.ok(Date.now() - started < 5000);
      const summary = JSON.parse(out) as { statuses: Record<string, number> };
      assert.match(Object.keys(summary.statuses)[0] ?? '', /timeout/i);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

interface TestProxy {
  url: string;
  stats: { connections: number; tunnels: number; forwarded: number };
  close(): Promise<void>;
}

/** A minimal forward proxy: CONNECT tunnels, and absolute-URI requests forwarded over a keep-alive agent. */
async function startTestProxy(): Promise<TestProxy> {
  const stats = { connections: 0, tunnels: 0, forwarded: 0 };
  const agent = new http.Agent({ keepAlive: true });
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    stats.forwarded++;
    const upstream = http.request(req.url as string, { method: req.method, headers: req.headers, agent }, (up) => {
      res.writeHead(up.statusCode as number, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    stats.tunnels++;
    const { hostname, port } = new URL(`http://${req.url}`);
    const upstream = net.connect(Number(port), hostname, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client).on('error', () => undefined);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  server.on('connection', (socket: net.Socket) => {
    stats.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    stats,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('bench client through a proxy', () => {
  let proxy: TestProxy;
  let https: NullServer;
  let plain: NullServer;
  let caFile: string;
  before(async () => {
    proxy = await startTestProxy();
    https = await startNullServer();
    plain = await startNullServer({ tls: false });
    caFile = join(dir, 'proxied-ca.pem');
    await writeFile(caFile, https.caPem as string);
  });
  after(async () => {
    await proxy.close();
    await https.close();
    await plain.close();
  });

  it('tunnels https targets with one CONNECT per worker and TLS end to end', async () => {
    const before = { ...proxy.stats };
    const { code, out } = await bench([
      '-host', `${https.url}${API}`, '-proxy', proxy.url, '-c', '3', '-r', '4', '-f', smallFile, '-ca', caFile,
    ]);
    assert.equal(code, 0);
    assert.equal(metricsOf(out).get('api_latency_seconds_count', { api: API, status: '200 OK' }), 12);
    assert.equal(proxy.stats.tunnels - before.tunnels, 3);
    assert.equal(proxy.stats.forwarded - before.forwarded, 0);
    assert.equal(proxy.stats.connections - before.connections, 3);
  });

  it('sends http targets as absolute-URI requests over one proxy connection per worker', async () => {
    const before = { ...proxy.stats };
    const { code, out } = await bench(['-host', `${plain.url}${API}`, '-proxy', proxy.url, '-c', '2', '-r', '5', '-f', smallFile]);
    assert.equal(code, 0);
    assert.equal(metricsOf(out).get('api_latency_seconds_count', { api: API, status: '200 OK' }), 10);
    assert.equal(proxy.stats.forwarded - before.forwarded, 10);
    assert.equal(proxy.stats.tunnels - before.tunnels, 0);
    assert.equal(proxy.stats.connections - before.connections, 2);
  });

  it('reports a proxy that refuses connections as errors', async () => {
    const port = await closedPort();
    const { code, out } = await bench(['-host', `${plain.url}${API}`, '-proxy', `http://127.0.0.1:${port}`, '-r', '2', '-f', smallFile, '-json']);
    assert.equal(code, 1);
    assert.equal((JSON.parse(out) as { errors: number }).errors, 2);
  });
});
