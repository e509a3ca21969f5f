// The live dashboard: listens to /events (Server-Sent Events from the admin listener) and draws what arrives.
// Plain browser JavaScript, no build step and no library: charts are SVG polylines drawn here. Text from the
// proxy (API paths, client addresses: bytes that clients chose) only ever goes in through textContent.
/* global document, EventSource -- this file runs in the browser */
'use strict';

(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const WIDTH = 600;
  const HEIGHT = 170;
  const PLOT = { left: 58, right: 8, top: 8, bottom: 20 };

  let points = [];
  let intervalMs = 2000;
  let historyMs = 300000;

  const q = (selector) => document.querySelector(selector);

  // ---- number formatting -------------------------------------------------------------------------------------
  const SI = ['', 'k', 'M', 'G', 'T'];
  function compact(value, unit = '') {
    if (value === null || value === undefined || Number.isNaN(value)) return '–';
    let v = Math.abs(value);
    let i = 0;
    while (v >= 1000 && i < SI.length - 1) { v /= 1000; i++; }
    const digits = v >= 100 || (i === 0 && Number.isInteger(v)) ? 0 : v >= 10 ? 1 : 2;
    return `${value < 0 ? '-' : ''}${v.toFixed(digits)}${i || unit ? ' ' : ''}${SI[i]}${unit}`;
  }
  const bytes = (value) => compact(value, 'B');
  const perSecond = (value) => compact(value, '/s');
  const bytesPerSecond = (value) => compact(value, 'B/s');
  function seconds(value) {
    if (value === null || value === undefined || Number.isNaN(value)) return '–';
    if (value < 0.001) return `${(value * 1e6).toFixed(0)} µs`;
    if (value < 1) return `${(value * 1000).toFixed(value < 0.01 ? 2 : 1)} ms`;
    return `${value.toFixed(2)} s`;
  }
  function duration(totalSeconds) {
    const s = Math.floor(totalSeconds);
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    if (d > 0) return `${d}d ${h}h ${m}m`;
    if (h > 0) return `${h}h ${m}m`;
    return `${m}m ${s % 60}s`;
  }
  const sum = (record) => Object.values(record || {}).reduce((a, b) => a + b, 0);

  /** Shows `value` formatted, and keeps the exact number in data-value for tests and copy-paste. */
  function show(name, value, format = compact) {
    for (const el of document.querySelectorAll(`[data-metric="${name}"]`)) {
      el.textContent = format(value);
      el.dataset.value = value === null || value === undefined ? '' : String(value);
    }
  }

  // ---- tables ------------------------------------------------------------------------------------------------
  function cell(row, text, numeric, metric, value) {
    const td = row.insertCell();
    td.textContent = text;
    if (numeric) td.className = 'num';
    if (metric !== undefined) {
      td.dataset.metric = metric;
      td.dataset.value = String(value);
    }
    return td;
  }
  function fillTable(name, rows, columns, emptyText) {
    const body = q(`[data-table="${name}"] tbody`);
    const fresh = document.createElement('tbody');
    if (rows.length === 0) {
      const td = fresh.insertRow().insertCell();
      td.colSpan = columns;
      td.className = 'empty';
      td.textContent = emptyText;
    }
    for (const cells of rows) {
      const row = fresh.insertRow();
      for (const [text, numeric, metric, value] of cells) cell(row, text, numeric, metric, value);
    }
    body.replaceWith(fresh);
  }
  const byCount = (record) => Object.entries(record || {}).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);

  // ---- charts ------------------------------------------------------------------------------------------------
  const CHARTS = {
    requests: { format: perSecond, series: [
      ['forward', (p) => p.requestRate.forward], ['MITM', (p) => p.requestRate.mitm], ['CONNECT', (p) => p.connectRate]] },
    'bytes-up': { format: bytesPerSecond, series: kinds((p, k) => p.bytesUpRate[k]) },
    'bytes-down': { format: bytesPerSecond, series: kinds((p, k) => p.bytesDownRate[k]) },
    latency: { format: seconds, series: [
      ['p50', (p) => p.latency && p.latency.p50], ['p90', (p) => p.latency && p.latency.p90], ['p99', (p) => p.latency && p.latency.p99]] },
    connections: { format: compact, series: [
      ['open tunnels', (p) => p.tunnelsActive], ['client connections', (p) => p.clientConnections], ['requests in flight', (p) => p.requestsInFlight]] },
    errors: { format: perSecond, series: [['upstream errors', (p) => p.upstreamErrorRate], ['rejects', (p) => p.rejectRate]] },
    memory: { format: bytes, series: [['RSS', (p) => p.residentMemoryBytes], ['heap used', (p) => p.heapUsedBytes]] },
    eventloop: { format: seconds, series: [['event-loop delay p99', (p) => p.eventLoopP99Seconds]],
      extra: [['CPU (cores)', (p) => p.cpuCores, (v) => (v === null || v === undefined ? '–' : v.toFixed(2))]] },
  };
  function kinds(pick) {
    return [['forward', 'forward'], ['MITM (decrypted)', 'mitm'], ['tunnel', 'tunnel'], ['MITM tunnel (TLS)', 'mitm-tunnel']]
      .map(([label, kind]) => [label, (p) => pick(p, kind)]);
  }

  /** A "nice" axis maximum: 1, 2 or 5 times a power of ten, at least the data's maximum. */
  function niceMax(max) {
    if (!(max > 0)) return 1;
    const power = 10 ** Math.floor(Math.log10(max));
    for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
    return 10 * power;
  }

  function element(name, attributes, text) {
    const el = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, String(value));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function drawChart(name) {
    const chart = CHARTS[name];
    const svg = q(`[data-chart="${name}"]`);
    const now = points.length ? points[points.length - 1].t : Date.now();
    const start = now - historyMs;
    let max = 0;
    for (const p of points) for (const [, pick] of chart.series) { const v = pick(p); if (v > max) max = v; }
    const top = niceMax(max);
    const plotWidth = WIDTH - PLOT.left - PLOT.right;
    const plotHeight = HEIGHT - PLOT.top - PLOT.bottom;
    const x = (t) => PLOT.left + ((t - start) / historyMs) * plotWidth;
    const y = (v) => PLOT.top + plotHeight - (v / top) * plotHeight;
    const children = [];
    for (const fraction of [0, 0.5, 1]) {
      const gy = y(top * fraction);
      children.push(element('line', { class: 'grid', x1: PLOT.left, x2: WIDTH - PLOT.right, y1: gy, y2: gy }));
      children.push(element('text', { class: 'axis', x: PLOT.left - 6, y: gy + 4, 'text-anchor': 'end' }, chart.format(top * fraction)));
    }
    children.push(element('text', { class: 'axis', x: PLOT.left, y: HEIGHT - 4 }, `−${Math.round(historyMs / 60000)} min`));
    children.push(element('text', { class: 'axis', x: WIDTH - PLOT.right, y: HEIGHT - 4, 'text-anchor': 'end' }, 'now'));
    chart.series.forEach(([, pick], index) => {
      // A gap (no value: no request in the latency window) breaks the line instead of drawing it at zero.
      let run = [];
      const flush = () => {
        if (run.length > 0) children.push(element('polyline', { class: `s${index}`, points: run.join(' ') }));
        run = [];
      };
      for (const p of points) {
        const v = pick(p);
        if (v === null || v === undefined || Number.isNaN(v)) { flush(); continue; }
        run.push(`${x(p.t).toFixed(1)},${y(v).toFixed(1)}`);
      }
      flush();
    });
    svg.replaceChildren(...children);

    const legend = q(`[data-legend="${name}"]`);
    const last = points[points.length - 1];
    const entries = chart.series.map(([label, pick], index) => [label, last ? pick(last) : undefined, chart.format, index]);
    for (const [label, pick, format] of chart.extra || []) entries.push([label, last ? pick(last) : undefined, format, chart.series.length + entries.length]);
    legend.replaceChildren(...entries.map(([label, value, format, index]) => {
      const span = document.createElement('span');
      span.className = `l${index % 6}`;
      span.textContent = label;
      const b = document.createElement('b');
      b.textContent = format(value);
      span.append(b);
      return span;
    }));
  }

  // ---- one sample ---------------------------------------------------------------------------------------------
  function render(detail) {
    const last = points[points.length - 1];
    if (last) {
      show('rate.requests', last.requestRate.forward + last.requestRate.mitm, perSecond);
      show('rate.requests.forward', last.requestRate.forward, perSecond);
      show('rate.requests.mitm', last.requestRate.mitm, perSecond);
      show('rate.connects', last.connectRate, perSecond);
      show('rate.upstream-errors', last.upstreamErrorRate, perSecond);
      show('rate.rejects', last.rejectRate, perSecond);
      show('latency.p50', last.latency && last.latency.p50, seconds);
      show('latency.p90', last.latency && last.latency.p90, seconds);
      show('latency.p99', last.latency && last.latency.p99, seconds);
    }
    for (const name of Object.keys(CHARTS)) drawChart(name);
    if (!detail) return;

    const g = detail.gauges;
    show('version', detail.version, (v) => `v${v}`);
    show('node-version', detail.nodeVersion, String);
    show('uptime', detail.uptimeSeconds, duration);
    show('gauge.tunnels', g.tunnelsActive);
    show('gauge.connections', g.clientConnections);
    show('gauge.in-flight', g.requestsInFlight);
    show('gauge.rss', g.residentMemoryBytes, bytes);
    show('gauge.heap-used', g.heapUsedBytes, bytes);
    const t = detail.totals;
    show('totals.connects', t.connects);
    show('totals.tunnels-ended', t.tunnelsEnded);
    show('totals.upstream-errors', sum(detail.upstreamErrors));
    show('totals.rejects', sum(detail.rejects));

    fillTable('clients', detail.topClients.map((c) => [
      [c.clientIp], [perSecond(c.ratePerSecond), true], [compact(c.requests), true, `client.requests.${c.clientIp}`, c.requests],
      [compact(c.connects), true, `client.connects.${c.clientIp}`, c.connects]]), 4, 'no clients yet');
    fillTable('apis', detail.topApis.map((a) => [
      [a.method], [a.api], [perSecond(a.ratePerSecond), true], [compact(a.total), true, `api.${a.method} ${a.api}`, a.total]]), 4, 'no HTTP requests yet');
    fillTable('rejects', byCount(detail.rejects).map(([reason, n]) => [[reason], [compact(n), true, `rejects.${reason}`, n]]), 2, 'none');
    fillTable('upstream-errors', byCount(detail.upstreamErrors).map(([reason, n]) => [[reason], [compact(n), true, `upstream-errors.${reason}`, n]]), 2, 'none');
    fillTable('totals', [
      ['requests, forwarded', t.requests.forward || 0, 'totals.requests.forward', compact],
      ['requests, MITM (decrypted)', t.requests.mitm || 0, 'totals.requests.mitm', compact],
      ['CONNECTs', t.connects, 'totals.connects-row', compact],
      ['tunnels ended', t.tunnelsEnded, 'totals.tunnels-ended-row', compact],
      ['bytes client → upstream', sum(t.bytesUp), 'totals.bytes-up', bytes],
      ['bytes upstream → client', sum(t.bytesDown), 'totals.bytes-down', bytes],
      ['MITM client TLS failures', t.mitmClientTlsFailures, 'totals.mitm-tls-failures', compact],
    ].map(([label, value, metric, format]) => [[label], [format(value), true, metric, value]]), 2, '');
    fillTable('process', [
      ['resident memory', bytes(g.residentMemoryBytes)],
      ['heap used / total', `${bytes(g.heapUsedBytes)} / ${bytes(g.heapTotalBytes)}`],
      ['external memory (buffers)', bytes(g.externalMemoryBytes)],
      ['event-loop delay p50 / p99 / max (last 10 s)', `${seconds(g.eventLoopP50Seconds)} / ${seconds(g.eventLoopP99Seconds)} / ${seconds(g.eventLoopMaxSeconds)}`],
      ['open files', g.openFds === undefined || g.openFds === null ? 'n/a' : `${compact(g.openFds)} of ${compact(g.maxFds)}`],
      ['uptime', duration(detail.uptimeSeconds)],
    ].map(([label, text]) => [[label], [text, true]]), 2, '');
  }

  function renderInfo(info) {
    const config = (info && info.config) || {};
    fillTable('config', Object.entries(config).map(([key, value]) => [[key], [Array.isArray(value) ? value.join(', ') : String(value)]]), 2, '');
  }

  // ---- the stream ---------------------------------------------------------------------------------------------
  function setStatus(state, text) {
    const el = q('#status');
    el.className = `status ${state}`;
    el.textContent = text;
  }

  function connect() {
    const events = new EventSource('events');
    events.addEventListener('history', (event) => {
      const data = JSON.parse(event.data);
      intervalMs = data.intervalMs;
      points = data.points;
      historyMs = data.historyMs;
      show('interval', intervalMs / 1000, (v) => `${v} s`);
      renderInfo(data.info);
      render(data.detail);
      setStatus('live', 'live');
    });
    events.addEventListener('sample', (event) => {
      const data = JSON.parse(event.data);
      points.push(data.point);
      const cutoff = data.point.t - historyMs;
      while (points.length > 0 && points[0].t < cutoff) points.shift();
      render(data.detail);
      setStatus('live', 'live');
    });
    events.addEventListener('error', () => setStatus('lost', 'reconnecting…'));
  }

  connect();
})();
