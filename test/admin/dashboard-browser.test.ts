/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core (no browser download), kept off
 * the network by its flags and by a route that refuses every origin but the admin listener. It loads the page,
 * drives traffic through the proxy, and checks that the numbers on the page change and equal those recomputed
 * from /metrics, that nothing was requested from another origin, and that the page logged no error. It saves a
 * screenshot (to docs/dashboard.png when UPDATE_DOCS_SCREENSHOT=1, for the README; to a temp dir otherwise).
 *
 * Outside CI the test is skipped, with a message saying why, only when the Chromium binary is absent; in CI
 * (CI=true) a missing binary fails it, since .ci/run installs one.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, ProxyAgent, request } from 'undici';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';
import { startHttpOrigin, startTcpServer } from '../helpers/origin-servers.js';
import { openTunnel, rawExchange, readUntil } from '../helpers/raw-client.js';
import { parseSamples, sumOf } from './prometheus-samples.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const chromiumMissing = !existsSync(CHROMIUM);
const skip =
  chromiumMissing && process.env['CI'] !== 'true'
    ? `Chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH to run the dashboard browser test`
    : false;

// Flags that keep Chromium from reaching anything by itself (updates, sync, safe browsing, field trials, QUIC).
const OFFLINE_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
  '--no-pings',
  '--metrics-recording-only',
];

const DOCS_SCREENSHOT = fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url));

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function metricsSamples(proxy: TestProxy) {
  const agent = new Agent();
  try {
    const res = await request(`${proxy.adminUrl}/metrics`, { dispatcher: agent });
    return parseSamples(await res.body.text());
  } finally {
    await agent.close();
  }
}

interface BrowserGlobals {
  document: { querySelector(selector: string): { getAttribute(name: string): string | null } | null };
}

/** The exact number behind a `data-metric` element. */
async function pageValue(page: Page, metric: string): Promise<number> {
  const value = await page.locator(`[data-metric="${metric}"]`).first().getAttribute('data-value');
  assert.ok(value !== null && value !== '', `no value for ${metric}`);
  return Number(value);
}

async function waitForPageValue(page: Page, metric: string, expected: number): Promise<void> {
  await page
    .waitForFunction(
      // Runs in the page: `document` is the browser's (this file is type-checked without the DOM library).
      ([name, want]) => (globalThis as unknown as BrowserGlobals).document.querySelector(`[data-metric="${name}"]`)?.getAttribute('data-value') === String(want),
      [metric, expected] as const,
      { timeout: 15_000 },
    )
    .catch(async () => assert.fail(`${metric}: page shows ${await pageValue(page, metric).catch(() => NaN)}, expected ${expected}`));
}

test('the dashboard in Chromium: live numbers that match /metrics, nothing fetched from elsewhere', { skip, timeout: 180_000 }, async () => {
  assert.ok(!chromiumMissing, `Chromium not found at ${CHROMIUM} (CI must install it: .ci/run)`);
  const origin = await startHttpOrigin();
  const echo = await startTcpServer();
  const proxy = await startTestProxy({ allow: ['127.0.0.1/32'] });
  cleanups.push(() => proxy.stop(100), () => origin.close(), () => echo.close());
  const history = proxy.admin?.dashboardHistory;
  assert.ok(history, 'the dashboard is on by default');

  const userDataDir = await mkdtemp(join(tmpdir(), 'egress-proxy-chromium-'));
  cleanups.push(() => rm(userDataDir, { recursive: true, force: true }));
  const context: BrowserContext = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: OFFLINE_FLAGS,
    viewport: { width: 1400, height: 1250 },
  });
  cleanups.push(() => context.close());

  const adminOrigin = new URL(proxy.adminUrl).origin;
  const foreign: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).origin === adminOrigin) return route.continue();
    foreign.push(url);
    return route.abort('blockedbyclient');
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  page.on('request', (req) => {
    if (new URL(req.url()).origin !== adminOrigin && !foreign.includes(req.url())) foreign.push(req.url());
  });

  const response = await page.goto(`${proxy.adminUrl}/`);
  assert.equal(response?.status(), 200);
  assert.match(response?.headers()['content-security-policy'] ?? '', /default-src 'none'/);
  await page.locator('#status.live').waitFor({ timeout: 15_000 });
  assert.match((await page.locator('[data-metric="version"]').textContent()) ?? '', /^v\d+\.\d+\.\d+/);
  assert.match((await page.locator('[data-table="config"]').textContent()) ?? '', /127\.0\.0\.1\/32/);
  const forwardBefore = await pageValue(page, 'totals.requests.forward');
  assert.equal(forwardBefore, 0);

  // Traffic: forwarded POSTs, two tunnels, a malformed request and an upstream that refuses connections.
  const dispatcher = new ProxyAgent({ uri: proxy.url, proxyTunnel: false });
  cleanups.push(() => dispatcher.close());
  const body = 'x'.repeat(1000);
  const requests = process.env['UPDATE_DOCS_SCREENSHOT'] === '1' ? 400 : 25;
  for (let i = 0; i < requests; i++) {
    const res = await request(`${origin.url}/v1/write/${i % 3 === 0 ? 'logging' : 'metric'}?token=t${i}`, { method: 'POST', body, dispatcher });
    await res.body.text();
    // For the docs screenshot, spread the traffic over a minute so the charts have a shape.
    if (requests > 25) await new Promise((r) => setTimeout(r, 20 + 180 * Math.abs(Math.sin(i / 40))));
  }
  for (let i = 0; i < 2; i++) {
    const tunnel = await openTunnel(proxy.port, `127.0.0.1:${echo.port}`);
    tunnel.write('ping');
    await readUntil(tunnel, (t) => t === 'ping');
    tunnel.destroy();
  }
  await rawExchange(proxy.port, 'NONSENSE\r\n\r\n');
  const refused = await request(`http://127.0.0.1:1/v1/write/metric`, { method: 'POST', body, dispatcher });
  await refused.body.text();
  assert.equal(refused.statusCode, 502);
  await new Promise((r) => setTimeout(r, 100));

  // A sample now (rather than waiting for the next tick), then the page must show exactly what /metrics says.
  await history.sample();
  const samples = await metricsSamples(proxy);
  const expectations: Array<[string, number]> = [
    ['totals.requests.forward', sumOf(samples, 'egress_proxy_request_duration_seconds_count', { kind: 'forward' })],
    ['totals.connects', sumOf(samples, 'datakit_input_proxy_connect_total')],
    ['totals.tunnels-ended', sumOf(samples, 'egress_proxy_tunnels_total')],
    ['totals.rejects', sumOf(samples, 'egress_proxy_rejects_total')],
    ['rejects.bad_request', sumOf(samples, 'egress_proxy_rejects_total', { reason: 'bad_request' })],
    ['totals.upstream-errors', sumOf(samples, 'egress_proxy_upstream_errors_total')],
    ['upstream-errors.refused', sumOf(samples, 'egress_proxy_upstream_errors_total', { reason: 'refused' })],
    ['totals.bytes-up', sumOf(samples, 'egress_proxy_bytes_total', { direction: 'upstream' })],
    ['totals.bytes-down', sumOf(samples, 'egress_proxy_bytes_total', { direction: 'downstream' })],
    ['client.requests.127.0.0.1', sumOf(samples, 'egress_proxy_client_requests_total', { client_ip: '127.0.0.1' })],
    ['client.connects.127.0.0.1', sumOf(samples, 'datakit_input_proxy_connect_total', { client_ip: '127.0.0.1' })],
    ['api.POST /v1/write/metric', sumOf(samples, 'datakit_input_proxy_api_total', { api: '/v1/write/metric', method: 'POST' })],
    ['gauge.tunnels', sumOf(samples, 'egress_proxy_tunnels_active')],
  ];
  // The traffic above is what these numbers count: they are not zero, so the page did change.
  assert.equal(expectations[0]![1], requests + 1);
  assert.equal(expectations[1]![1], 2);
  assert.ok(expectations[4]![1] >= 1 && expectations[6]![1] >= 1);
  for (const [metric, expected] of expectations) await waitForPageValue(page, metric, expected);

  // The charts drew the sample: a requests line, and latency quantiles within the histogram's range.
  assert.ok((await page.locator('[data-chart="requests"] polyline').count()) >= 1, 'the requests chart has a line');
  const p99 = await pageValue(page, 'latency.p99');
  assert.ok(p99 > 0 && p99 <= 60, `p99 ${p99}`);

  if (process.env['UPDATE_DOCS_SCREENSHOT'] === '1') {
    await page.screenshot({ path: DOCS_SCREENSHOT, fullPage: true });
  } else {
    const shot = await page.screenshot({ path: join(userDataDir, 'dashboard.png'), fullPage: true });
    assert.ok(shot.length > 10_000, 'a screenshot with content');
  }

  assert.deepEqual(problems, [], 'no errors in the page');
  assert.deepEqual(foreign, [], 'no request to another origin');
});
