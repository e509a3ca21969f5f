/**
 * The admin listener over real sockets: the dashboard's files (with their security headers and ETags), the
 * /events stream (history first, then live samples, bounded viewers), Basic auth on everything but the probes,
 * read-only methods, the history's bound, and the page's files being in the package.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readFile } from 'node:fs/promises';
import { AdminServer, type AdminServerOptions } from '../../src/admin/admin-server.js';
import { registryMetricsSource, type MetricsSource } from '../../src/admin/metrics-source.js';
import { DashboardHistory } from '../../src/admin/dashboard/dashboard-history.js';
import { DashboardAssets } from '../../src/admin/dashboard/dashboard-assets.js';
import { hashPassword } from '../../src/auth/password-hash.js';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function metrics(): ProxyMetrics {
  return new ProxyMetrics({ maxApiLabels: 10, maxClientIpLabels: 10, version: '1.2.3', gauges: { activeTunnels: () => 0, requestsInFlight: () => 0, clientConnections: () => 0 } });
}

async function startAdmin(overrides: Partial<AdminServerOptions> = {}): Promise<{ url: string; server: AdminServer; proxyMetrics: ProxyMetrics }> {
  const proxyMetrics = metrics();
  const server = new AdminServer({
    bind: '127.0.0.1',
    port: 0,
    metrics: registryMetricsSource(proxyMetrics.registry),
    isReady: () => true,
    dashboard: { info: () => ({ config: { 'proxy listener': '127.0.0.1:1' } }), intervalMs: 40 },
    ...overrides,
  });
  const address = await server.listen();
  cleanups.push(() => server.close());
  return { url: `http://127.0.0.1:${address.port}`, server, proxyMetrics };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const basic = (user: string, password: string): Record<string, string> => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

/** Reads SSE events from /events until `count` have arrived. */
async function readEvents(url: string, count: number, headers: Record<string, string> = {}): Promise<Array<{ event: string; data: unknown }>> {
  const req = http.get(`${url}/events`, { headers, agent: false });
  const [res] = (await once(req, 'response')) as [http.IncomingMessage];
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/event-stream/);
  const events: Array<{ event: string; data: unknown }> = [];
  let buffer = '';
  res.setEncoding('utf8');
  for await (const chunk of res as AsyncIterable<string>) {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event && data) events.push({ event, data: JSON.parse(data) });
    }
    if (events.length >= count) break;
  }
  req.destroy();
  return events;
}

test('the page and its files, with a policy that keeps the browser on this origin', async () => {
  const { url } = await startAdmin();
  const page = await get(`${url}/`);
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.match(page.body, /<script src="dashboard.js" defer><\/script>/);
  assert.doesNotMatch(page.body, /https?:\/\//, 'no absolute URL in the page');
  assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self'.*connect-src 'self'/);
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  const again = await get(`${url}/`, { 'If-None-Match': String(page.headers.etag) });
  assert.equal(again.status, 304);
  const script = await get(`${url}/dashboard.js`);
  assert.match(String(script.headers['content-type']), /^text\/javascript/);
  assert.doesNotMatch(script.body, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'the script names no other origin');
  assert.match(String((await get(`${url}/dashboard.css`)).headers['content-type']), /^text\/css/);
  assert.equal((await get(`${url}/dashboard.js`, {}, 'HEAD')).status, 200);
});

test('read-only: other methods get 405, unknown paths 404', async () => {
  const { url } = await startAdmin();
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const reply = await get(`${url}/`, {}, method);
    assert.equal(reply.status, 405, method);
    assert.equal(reply.headers.allow, 'GET, HEAD');
  }
  assert.equal((await get(`${url}/index.html`)).status, 404);
  assert.equal((await get(`${url}/../package.json`)).status, 404);
});

test('/events: the history first, then one sample per interval', async () => {
  const { url, server, proxyMetrics } = await startAdmin();
  await server.dashboardHistory!.sample();
  proxyMetrics.onConnectAttempt('10.1.1.1');
  const events = await readEvents(url, 3);
  assert.equal(events[0]!.event, 'history');
  const history = events[0]!.data as { intervalMs: number; points: unknown[]; info: { config: Record<string, string> }; detail: { version: string } };
  assert.equal(history.intervalMs, 40);
  assert.ok(history.points.length >= 1);
  assert.equal(history.info.config['proxy listener'], '127.0.0.1:1');
  assert.equal(history.detail.version, '1.2.3');
  assert.equal(events[1]!.event, 'sample');
  const latest = events[2]!.data as { detail: { totals: { connects: number } } };
  assert.equal(latest.detail.totals.connects, 1);
  // The same data as JSON, for scripts.
  const json = JSON.parse((await get(`${url}/dashboard.json`)).body) as { detail: { totals: { connects: number } } };
  assert.equal(json.detail.totals.connects, 1);
});

test('at most 16 viewers at once; the 17th gets 503 and a closed stream frees its place', async () => {
  const { url } = await startAdmin();
  const open: http.ClientRequest[] = [];
  for (let i = 0; i < 16; i++) {
    const req = http.get(`${url}/events`, { agent: false });
    const [res] = (await once(req, 'response')) as [http.IncomingMessage];
    assert.equal(res.statusCode, 200);
    res.resume();
    open.push(req);
  }
  const refused = await get(`${url}/events`);
  assert.equal(refused.status, 503);
  assert.equal(refused.headers['retry-after'], '5');
  open.pop()!.destroy();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal((await readEvents(url, 1))[0]!.event, 'history');
  for (const req of open) req.destroy();
});

test('with users: 401 and a UTF-8 Basic challenge without credentials, the probes stay open', async () => {
  const users = [{ name: 'ops', passwordHash: await hashPassword('s3cret', { logN: 4, r: 8, p: 1 }) }];
  // A budget the 24 refusals below stay under: this test is about the challenge (the budget: test/security/admin-auth).
  const { url } = await startAdmin({ users, maxAuthFailuresPerMinute: 100 });
  for (const path of ['/', '/metrics', '/events', '/dashboard.js', '/dashboard.json', '/nope']) {
    for (const headers of [{}, basic('ops', 'wrong'), basic('nobody', 's3cret'), { Authorization: 'Bearer x' }]) {
      const reply = await get(`${url}${path}`, headers);
      assert.equal(reply.status, 401, `${path} ${JSON.stringify(headers)}`);
      assert.equal(reply.headers['www-authenticate'], 'Basic realm="egress-proxy admin", charset="UTF-8"');
    }
  }
  assert.equal((await get(`${url}/healthz`)).status, 200);
  assert.equal((await get(`${url}/readyz`)).status, 200);
  const scrape = await get(`${url}/metrics`, basic('ops', 's3cret'));
  assert.equal(scrape.status, 200);
  assert.match(scrape.body, /egress_proxy_build_info/);
  assert.equal((await get(`${url}/`, basic('ops', 's3cret'))).status, 200);
  assert.equal((await readEvents(url, 1, basic('ops', 's3cret')))[0]!.event, 'history');
});

test('without the dashboard: no page, no stream, no sampling', async () => {
  let reads = 0;
  const proxyMetrics = metrics();
  const source = registryMetricsSource(proxyMetrics.registry);
  const counting: MetricsSource = { ...source, contentType: source.contentType, metricsAsJson: (names) => (reads++, source.metricsAsJson(names)) };
  const { url, server } = await startAdmin({ dashboard: undefined, metrics: counting });
  assert.equal(server.dashboardHistory, undefined);
  assert.equal((await get(`${url}/`)).status, 404);
  assert.equal((await get(`${url}/events`)).status, 404);
  assert.equal((await get(`${url}/metrics`)).status, 200);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(reads, 0);
});

test('the history keeps a bounded number of points, and a failing source only skips samples', async () => {
  const proxyMetrics = metrics();
  const source = registryMetricsSource(proxyMetrics.registry);
  let fail = false;
  const errors: unknown[] = [];
  let now = 0;
  const history = new DashboardHistory({
    source: { ...source, contentType: source.contentType, metricsAsJson: (names) => (fail ? Promise.reject(new Error('down')) : source.metricsAsJson(names)) },
    intervalMs: 1000,
    historyMs: 10_000,
    now: () => (now += 1000),
    onError: (err) => errors.push(err),
  });
  for (let i = 0; i < 25; i++) await history.sample();
  assert.equal(history.points.length, 10);
  assert.deepEqual(history.points.map((p) => p.t), Array.from({ length: 10 }, (_, i) => (16 + i) * 1000));
  fail = true;
  await history.sample();
  assert.equal(history.points.length, 10);
  assert.equal(errors.length, 1);
});

test('the package and the Docker image ship the page, and a missing page stops the start with a message saying so', async () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root });
  const files = (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
  for (const file of ['dashboard/index.html', 'dashboard/dashboard.js', 'dashboard/dashboard.css']) assert.ok(files.includes(file), file);
  // The Docker image too: without the folder, a container's start would stop at the admin listener.
  const dockerfile = await readFile(`${root}Dockerfile`, 'utf8');
  assert.match(dockerfile, /^COPY dashboard \.\/dashboard$/m);
  assert.match(await readFile(`${root}.dockerignore`, 'utf8'), /^!dashboard\/$/m);

  await assert.rejects(DashboardAssets.load(new URL('file:///nonexistent-egress-proxy-dir/')), /cannot read the dashboard page \/nonexistent-egress-proxy-dir\/index\.html.*admin\.dashboard = false/);
});
