/**
 * deploy/grafana/egress-proxy.json and deploy/prometheus/alerts.yml: promtool accepts the rules and their unit
 * tests pass, every metric name either file queries is one a live proxy exports at /metrics, the board picks its
 * data source through a variable (no hard-coded UID anywhere), and its DataKit-compatible row needs nothing but
 * the reference's datakit_input_proxy_* series.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { ReloadMetrics } from '../../src/reload/reload-metrics.js';
import { startTestProxy } from '../helpers/test-proxy.js';
import { declaredFamilies } from './prometheus-samples.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BOARD = `${ROOT}deploy/grafana/egress-proxy.json`;
const RULES_DIR = `${ROOT}deploy/prometheus/`;
const PROMTOOL = process.env['PROMTOOL_PATH'] ?? '/usr/bin/promtool';
const promtoolSkip =
  !existsSync(PROMTOOL) && process.env['CI'] !== 'true'
    ? `promtool not found at ${PROMTOOL}: install Debian's prometheus (apt-get install -y prometheus) to check the alert rules`
    : false;

/** Series Prometheus itself makes for every target, not exported by any. */
const PROMETHEUS_SERIES = new Set(['up']);

const PROMQL_KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'inf', 'nan']);

/**
 * The metric names a PromQL expression (or a Grafana `label_values(...)` query) reads: identifiers that are not
 * functions, keywords, label names or durations, plus the literal names in `__name__=~"a|b"` matchers.
 */
function metricNames(expr: string): string[] {
  const names: string[] = [];
  for (const [, alternatives] of expr.matchAll(/__name__\s*=~?\s*"([^"]*)"/g)) {
    for (const name of alternatives!.split('|')) if (/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) names.push(name);
  }
  const bare = expr
    .replace(/\$\{?[a-zA-Z_]\w*\}?/g, '1') // Grafana variables ($__rate_interval, ${datasource})
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // strings
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/,\s*[a-zA-Z_]\w*\s*\)\s*$/, ')'); // the label argument of label_values(selector, label)
  for (const match of bare.matchAll(/\d[\w.]*|[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const token = match[0];
    if (/^\d/.test(token) || PROMQL_KEYWORDS.has(token)) continue;
    const after = bare.slice(match.index + token.length);
    if (/^\s*\(/.test(after)) continue; // a function call
    names.push(token);
  }
  return names;
}

interface GrafanaPanel {
  type: string;
  title: string;
  datasource?: unknown;
  targets?: Array<{ expr: string; datasource?: unknown }>;
}

interface GrafanaBoard {
  panels: GrafanaPanel[];
  templating: { list: Array<{ name: string; type: string; query: unknown; datasource?: unknown }> };
}

async function board(): Promise<GrafanaBoard> {
  return JSON.parse(await readFile(BOARD, 'utf8')) as GrafanaBoard;
}

async function ruleExpressions(): Promise<Array<{ alert: string; expr: string }>> {
  const rules = parseYaml(await readFile(`${RULES_DIR}alerts.yml`, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
  return rules.groups.flatMap((group) => group.rules);
}

async function boardExpressions(): Promise<Array<{ where: string; expr: string }>> {
  const { panels, templating } = await board();
  const found: Array<{ where: string; expr: string }> = [];
  for (const panel of panels) for (const target of panel.targets ?? []) found.push({ where: `panel "${panel.title}"`, expr: target.expr });
  for (const variable of templating.list) {
    const query = variable.query as { query?: string } | string;
    if (variable.type === 'query') found.push({ where: `variable $${variable.name}`, expr: typeof query === 'string' ? query : query.query! });
  }
  return found;
}

/**
 * Every series name a live proxy exports at its admin listener's /metrics (the proxy's registry and the listener's
 * own series): `# TYPE` families, with histogram and summary suffixes.
 */
async function exportedNames(): Promise<Set<string>> {
  const proxy = await startTestProxy({ mitm: true });
  // The reload series, which `egress-proxy run` adds to the registry of the process that reloads (run-command.ts;
  // test/cli/reload.test.ts reads them from a real CLI's /metrics): the same class, so a renamed series shows here.
  new ReloadMetrics(proxy.metrics.registry, '0123456789abcdef');
  try {
    const names = new Set<string>();
    const scrape = await fetch(`${proxy.adminUrl}/metrics`);
    assert.equal(scrape.status, 200);
    for (const [family, type] of declaredFamilies(await scrape.text())) {
      names.add(family);
      if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(family + suffix);
      if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(family + suffix);
    }
    return names;
  } finally {
    await proxy.stop(100);
  }
}

test('the name extractor finds metrics and skips functions, labels, durations and variables', () => {
  assert.deepEqual(
    metricNames('histogram_quantile(0.99, sum by (instance, le) (rate(a_bucket{job="x", le=~"1|2"}[5m]))) > 5 and on (instance) b offset 1h'),
    ['a_bucket', 'b'],
  );
  assert.deepEqual(metricNames('sum(rate(c_total{job=~"$job"}[$__rate_interval])) / ignoring(x) group_left d'), ['c_total', 'd']);
  assert.deepEqual(metricNames('label_values({__name__=~"e_info|f_total", job=~"$job"}, instance)'), ['e_info', 'f_total']);
  assert.deepEqual(metricNames('(g - time()) / 86400 < 3'), ['g']);
});

test('every metric the board and the alert rules query is exported by a live proxy', async () => {
  const exported = await exportedNames();
  const queries = [...(await boardExpressions()), ...(await ruleExpressions()).map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }))];
  assert.ok(queries.length > 40, `${queries.length} queries found`);
  const unknown: string[] = [];
  let checked = 0;
  for (const { where, expr } of queries) {
    const names = metricNames(expr);
    assert.ok(names.length > 0, `${where} queries no metric: ${expr}`);
    for (const name of names) {
      checked++;
      if (!exported.has(name) && !PROMETHEUS_SERIES.has(name)) unknown.push(`${where}: ${name}`);
    }
  }
  assert.deepEqual(unknown, [], 'names not exported at /metrics');
  assert.ok(checked > 60);
  // The check itself can fail: a misspelt name is not exported.
  assert.ok(!exported.has('egress_proxy_tunnel_active'));
});

test('the board takes its data source from a variable and hard-codes no UID', async () => {
  const text = await readFile(BOARD, 'utf8');
  const { panels, templating } = await board();
  const datasource = templating.list.find((v) => v.type === 'datasource');
  assert.equal(datasource?.name, 'datasource');
  assert.equal(datasource?.query, 'prometheus');
  const uids = [...text.matchAll(/"uid":\s*"([^"]*)"/g)].map((m) => m[1]);
  assert.ok(uids.length > 0);
  assert.deepEqual([...new Set(uids)], ['${datasource}'], 'the only UID is the variable');
  for (const panel of panels.filter((p) => p.type !== 'row')) {
    assert.deepEqual(panel.datasource, { type: 'prometheus', uid: '${datasource}' }, panel.title);
  }
});

test("the DataKit-compatible row needs only the reference's datakit_input_proxy_* series", async () => {
  const { panels } = await board();
  const start = panels.findIndex((p) => p.type === 'row' && p.title.startsWith('DataKit-compatible'));
  assert.ok(start >= 0);
  const row = panels.slice(start + 1).filter((p) => p.type !== 'row');
  assert.ok(row.length >= 4);
  for (const panel of row) {
    for (const target of panel.targets ?? []) {
      for (const name of metricNames(target.expr)) assert.match(name, /^datakit_input_proxy_/, `${panel.title}: ${name}`);
    }
  }
});

test('promtool accepts the alert rules, and their unit tests pass', { skip: promtoolSkip }, async () => {
  const run = promisify(execFile);
  const checked = await run(PROMTOOL, ['check', 'rules', 'alerts.yml'], { cwd: RULES_DIR });
  assert.match(checked.stdout, /SUCCESS: 11 rules found/);
  const tested = await run(PROMTOOL, ['test', 'rules', 'alerts.test.yml'], { cwd: RULES_DIR });
  assert.match(tested.stdout, /SUCCESS/);
});
